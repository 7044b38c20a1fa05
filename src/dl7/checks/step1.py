"""Checkers for step 1, "Introducing Deep Learning": perceptrons, XOR, sigmoid neurons.

Every expected value here is a fact: a truth table (AND, OR, XOR, NAND), the perceptron's
definition (output 1 exactly when w·x + b > 0), the perceptron convergence theorem (the rule
fits any linearly separable data set in finitely many steps), the classic count of linearly
separable Boolean functions (14 of the 16 on two inputs, 104 of the 256 on three), known values
of the logistic function, and the binary digits of 0-9. Data sets are random but seeded, and
generated here so that a learner's function meets them for the first time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, expect_close, expect_shape

_RNG_SEED = 20160101

X_BOOL = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)  # (4, 2) rows of a truth table
Y_AND = np.array([0, 0, 0, 1])
Y_OR = np.array([0, 1, 1, 1])
Y_XOR = np.array([0, 1, 1, 0])
XOR_TABLES = {(0, 1, 1, 0), (1, 0, 0, 1)}  # XOR and XNOR: the two 2-input tables no perceptron computes
# Linearly separable Boolean functions of n inputs: 2, 4, 14, 104, 1882, ... (OEIS A000609).
SEPARABLE_3 = 104


def _rng(offset: int = 0) -> np.random.Generator:
    return np.random.default_rng(_RNG_SEED + offset)


def _step(z: np.ndarray) -> np.ndarray:
    """The perceptron's activation, from the definition: 1 where z > 0, else 0."""
    return (np.asarray(z) > 0).astype(int)


def _sigma(z: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def _fmt(v: Iterable[Any]) -> str:
    return "(" + ", ".join(f"{float(x):g}" for x in v) + ")"


def _scalar(value: Any, what: str) -> float:
    arr = as_array(value, what)
    if arr.size != 1:
        raise CheckFailed(f"{what} has shape {arr.shape}; expected a single number")
    return float(arr.reshape(()))


def _binary_outputs(value: Any, n: int, what: str) -> np.ndarray:
    """``value`` as a (n,) array of 0s and 1s, or a failure that says what is off."""
    arr = as_array(value, what)
    if arr.shape != (n,):
        extra = " — return one number per row of X (try `.ravel()`)" if arr.size == n else ""
        raise CheckFailed(f"{what} has shape {arr.shape}; expected ({n},){extra}")
    bad = sorted({float(v) for v in arr if v not in (0.0, 1.0)}, key=str)
    if bad:
        if bad == [-1.0]:
            raise CheckFailed(
                f"{what} contains -1; in Nielsen's convention a perceptron outputs 0 or 1 "
                "(0 when w·x + b ≤ 0), not the sign of w·x + b"
            )
        raise CheckFailed(f"{what} contains {bad[0]:g}; a perceptron outputs only 0 or 1")
    return arr


# ------------------------------------------------------------------------------ perceptrons


@checker("step1.perceptron_predict")
def check_perceptron_predict(predict: Callable[..., Any]) -> str:
    expect_callable(predict, "predict")
    cases: list[tuple[str, np.ndarray, float, np.ndarray]] = [
        ("Nielsen's NAND perceptron, w = (-2, -2), b = 3,", np.array([-2.0, -2.0]), 3.0, X_BOOL),
        ("w = (1, 1), b = -1", np.array([1.0, 1.0]), -1.0, X_BOOL),
    ]
    rng = _rng()
    for n, d in [(50, 5), (7, 1), (20, 3)]:
        X = rng.normal(size=(n, d))  # (n, d)
        w = rng.normal(size=d)  # (d,)
        b = float(rng.normal())
        cases.append((f"random w of shape ({d},) and b = {b:.3f}", w, b, X))
    for label, w, b, X in cases:
        n = len(X)
        what = f"predict(w, b, X) with {label} on X of shape {X.shape}"
        got = _binary_outputs(predict(w.copy(), b, X.copy()), n, what)
        z = X @ w + b  # (n,) weighted inputs
        want = _step(z)
        wrong = np.flatnonzero(got != want)
        if wrong.size:
            i = int(wrong[0])
            why = ""
            if z[i] == 0:
                why = " — here w·x + b is exactly 0, and a perceptron fires only when w·x + b > 0"
            elif np.all(got == _step(X @ w)):
                why = " — did you add the bias b to w·x?"
            raise CheckFailed(
                f"{what}: row {i}, x = {_fmt(X[i])}, has w·x + b = {z[i]:.4g}, so the output should be "
                f"{want[i]}, but you returned {int(got[i])}{why}"
            )
    return "NAND, the w·x + b = 0 boundary and 3 random batches all match the perceptron rule"


def _run_train(train: Callable[..., Any], X: np.ndarray, y: np.ndarray, epochs: int, lr: float = 1.0) -> Any:
    what = f"train_perceptron(X of shape {X.shape}, y, epochs={epochs}, lr={lr})"
    result = train(X.copy(), y.copy(), epochs=epochs, lr=lr)
    if not isinstance(result, tuple | list) or len(result) != 3:
        kind = (
            f"a {type(result).__name__}" if not isinstance(result, tuple | list) else f"{len(result)} values"
        )
        raise CheckFailed(f"{what} returned {kind}; expected three values: (w, b, mistakes)")
    w_raw, b_raw, mistakes_raw = result
    w = expect_shape(w_raw, (X.shape[1],), f"the w returned by {what}")
    b = _scalar(b_raw, f"the b returned by {what}")
    mistakes = as_array(mistakes_raw, f"the mistakes list returned by {what}")
    if mistakes.ndim != 1 or mistakes.size == 0:
        raise CheckFailed(
            f"the mistakes list returned by {what} has shape {mistakes.shape}; "
            "expected a list with one count per epoch that was run"
        )
    if mistakes.size > epochs:
        raise CheckFailed(
            f"the mistakes list returned by {what} has {mistakes.size} entries, "
            f"but at most {epochs} epochs were allowed"
        )
    if np.any(mistakes < 0) or np.any(mistakes > len(X)) or np.any(mistakes != np.round(mistakes)):
        raise CheckFailed(
            f"the mistakes list returned by {what} is {mistakes.tolist()}; each entry should count the "
            f"misclassified rows of one epoch (a whole number from 0 to {len(X)})"
        )
    return what, w, b, mistakes.astype(int).tolist()


@checker("step1.perceptron_train")
def check_perceptron_train(train_perceptron: Callable[..., Any]) -> str:
    expect_callable(train_perceptron, "train_perceptron")
    epochs_used: dict[str, int] = {}
    for name, y in (("AND", Y_AND), ("OR", Y_OR)):
        what, w, b, mistakes = _run_train(train_perceptron, X_BOOL, y, epochs=100)
        wrong = int(np.sum(_step(X_BOOL @ w + b) != y))
        if wrong:
            if b == 0 and name == "AND":
                why = "AND needs a negative bias: does your code update b as well as w?"
            elif mistakes[0] == mistakes[-1] and len(mistakes) == 100:
                why = "the mistakes never go down: check the sign of the update, w ← w + lr·(y − ŷ)·x"
            else:
                why = "check the update w ← w + lr·(y − ŷ)·x and b ← b + lr·(y − ŷ)"
            raise CheckFailed(
                f"trained on {name}, the returned w = {_fmt(w)}, b = {b:g} still misclassify {wrong} of the "
                f"4 rows (mistakes per epoch: {mistakes[:8]}{' ...' if len(mistakes) > 8 else ''}); {why}"
            )
        if mistakes[-1] != 0:
            raise CheckFailed(
                f"{what} fits {name}, but the mistakes list ends with {mistakes[-1]}: keep going until "
                "a whole epoch makes no mistakes, record that epoch's 0, then stop"
            )
        if 0 in mistakes[:-1]:
            raise CheckFailed(
                f"{what} returned mistakes {mistakes}: stop right after the first epoch with no mistakes "
                "(nothing changes after it, so further epochs are wasted)"
            )
        epochs_used[name] = len(mistakes)

    what, _, _, mistakes = _run_train(train_perceptron, X_BOOL, Y_XOR, epochs=25)
    if 0 in mistakes:
        raise CheckFailed(
            f"{what} on XOR reports an epoch with 0 mistakes ({mistakes}), which is impossible: no line "
            "separates XOR — count every row whose prediction differs from its label"
        )
    if len(mistakes) != 25:
        raise CheckFailed(
            f"{what} on XOR returned {len(mistakes)} mistake counts; it never converges, so it should "
            "run all 25 epochs and record one count per epoch"
        )

    worst = 0
    for k, (n, d) in enumerate([(30, 2), (40, 3), (60, 5)]):
        X, y = separable_data(_rng(100 + k), n, d)
        what, w, b, mistakes = _run_train(train_perceptron, X, y, epochs=500)
        wrong = int(np.sum(_step(X @ w + b) != y))
        if wrong:
            raise CheckFailed(
                f"on a fresh linearly separable data set ({n} points, {d} features) {what} still "
                f"misclassifies {wrong} points; the convergence theorem guarantees it fits them all — "
                "does your code use every feature (x · w) rather than assuming two inputs?"
            )
        worst = max(worst, len(mistakes))

    # From w = 0 and b = 0 every update is lr times the lr = 1 update, so w and b scale with lr.
    _, w1, b1, m1 = _run_train(train_perceptron, X_BOOL, Y_AND, epochs=100, lr=1.0)
    what, w2, b2, m2 = _run_train(train_perceptron, X_BOOL, Y_AND, epochs=100, lr=0.5)
    if m1 == m2:
        if np.allclose(w2, w1) and np.allclose(b2, b1):
            raise CheckFailed(f"{what} returned the same w and b as with lr=1.0: scale every update by lr")
        expect_close(
            np.append(w2, b2),
            0.5 * np.append(w1, b1),
            f"(w, b) from {what}",
            hint="start from w = 0, b = 0 and multiply each update by lr",
        )
    return (
        f"AND learned in {epochs_used['AND']} epochs, OR in {epochs_used['OR']}; XOR never converges; "
        f"3 fresh separable data sets fitted in at most {worst} epochs"
    )


def separable_data(
    rng: np.random.Generator, n: int, d: int, margin: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points in [-1, 1]^d labelled by a random hyperplane, none closer to it than ``margin``."""
    w = rng.normal(size=d)  # (d,)
    b = float(rng.uniform(-0.3, 0.3))
    norm = math.sqrt(float(w @ w) + b * b)
    w, b = w / norm, b / norm
    rows: list[np.ndarray] = []
    while len(rows) < n:
        x = rng.uniform(-1, 1, size=d)  # (d,)
        if abs(float(x @ w) + b) >= margin:
            rows.append(x)
    X = np.array(rows)  # (n, d)
    y = _step(X @ w + b)  # (n,)
    if y.min() == y.max():  # both classes must appear; flip one point's side by re-drawing
        return separable_data(rng, n, d, margin)
    return X, y


def _table_set(value: Any, m: int, what: str) -> set[tuple[int, ...]]:
    if value is None:
        raise CheckFailed(f"{what} returned None; did you forget a `return`?")
    try:
        items = list(value)
    except TypeError:
        raise CheckFailed(
            f"{what} returned {type(value).__name__}; expected a list of label tuples"
        ) from None
    tables: list[tuple[int, ...]] = []
    for item in items:
        arr = as_array(item, f"an entry of the list from {what}")
        if arr.shape != (m,) or not np.all((arr == 0) | (arr == 1)):
            shown = tuple(int(v) for v in arr.ravel()) if np.all(arr == np.round(arr)) else arr.tolist()
            raise CheckFailed(
                f"{what} returned an entry {shown}; each entry should be a labelling of the {m} rows "
                f"of X: {m} values, each 0 or 1 — build the labellings from len(X), not a fixed size"
            )
        tables.append(tuple(int(v) for v in arr))
    found = set(tables)
    if len(found) != len(tables):
        raise CheckFailed(f"{what} lists some truth tables more than once; list each labelling once")
    return found


@checker("step1.xor_limits")
def check_xor_limits(unlearnable_tables: Callable[..., Any]) -> str:
    expect_callable(unlearnable_tables, "unlearnable_tables")
    what = "unlearnable_tables(X of the 4 two-input rows, epochs=50)"
    found = _table_set(unlearnable_tables(X_BOOL.copy(), epochs=50), 4, what)
    extra = sorted(found - XOR_TABLES)
    if extra:
        raise CheckFailed(
            f"{what} lists {extra[0]}, but a single perceptron computes that truth table (look for w and b "
            f"by hand, or train one); {len(found)} tables listed in all"
        )
    if (0, 1, 1, 0) not in found:
        raise CheckFailed(
            f"{what} does not list XOR, (0, 1, 1, 0); a table counts as unlearnable when training never "
            "reaches an epoch with 0 mistakes"
        )
    if found != XOR_TABLES:
        raise CheckFailed(
            f"{what} lists XOR but misses one more truth table; if no perceptron computes y, can one "
            "compute 1 - y?"
        )

    X3 = np.array(list(itertools.product([0, 1], repeat=3)), dtype=float)  # (8, 3) the cube's corners
    what = "unlearnable_tables(X of the 8 three-input rows, epochs=50)"
    found3 = _table_set(unlearnable_tables(X3.copy(), epochs=50), 8, what)
    want = 2**8 - SEPARABLE_3
    if len(found3) != want:
        more = (
            " — does it try every one of the 2**len(X) labellings, not only 16?" if len(found3) < want else ""
        )
        raise CheckFailed(
            f"{what} found {len(found3)} unlearnable tables; of the 256 labellings of 3 inputs exactly "
            f"{SEPARABLE_3} are linearly separable, so {want} should be unlearnable{more}"
        )
    for table, label in [((0, 0, 0, 0, 0, 0, 0, 1), "AND"), ((0, 0, 0, 1, 0, 1, 1, 1), "majority")]:
        if table in found3:
            raise CheckFailed(f"{what} lists 3-input {label} {table}, which a single perceptron computes")
    if (0, 1, 1, 0, 1, 0, 0, 1) not in found3:
        raise CheckFailed(f"{what} does not list 3-input parity (0, 1, 1, 0, 1, 0, 0, 1), XOR's big brother")
    return f"2 of the 16 two-input and {want} of the 256 three-input truth tables defeat a single perceptron"


@checker("step1.xor_network")
def check_xor_network(xor_weights: Callable[[], Any]) -> str:
    expect_callable(xor_weights, "xor_weights")
    result = xor_weights()
    if not isinstance(result, tuple | list) or len(result) != 4:
        raise CheckFailed("xor_weights() should return four values: (W1, b1, w2, b2)")
    W1 = as_array(result[0], "W1")
    if W1.ndim != 2 or W1.shape[1] != 2:
        raise CheckFailed(
            f"W1 has shape {W1.shape}; expected (h, 2): one row of 2 input weights per hidden perceptron"
        )
    h = W1.shape[0]
    b1 = expect_shape(result[1], (h,), "b1 (one bias per hidden perceptron)")
    w2 = expect_shape(result[2], (h,), "w2 (one weight per hidden perceptron)")
    b2 = _scalar(result[3], "b2")
    hidden = _step(X_BOOL @ W1.T + b1)  # (4, h) hidden perceptrons' outputs
    out = _step(hidden @ w2 + b2)  # (4,)
    for i in range(4):
        if out[i] != Y_XOR[i]:
            raise CheckFailed(
                f"for input x = {_fmt(X_BOOL[i])} the hidden layer outputs "
                f"{tuple(int(v) for v in hidden[i])} and the output perceptron gives {out[i]}; "
                f"XOR needs {Y_XOR[i]}"
            )
    margin = float(np.min(np.abs(X_BOOL @ W1.T + b1)))
    note = " (a hidden unit sits exactly on its boundary for some input: fragile)" if margin == 0 else ""
    return f"your {h}-hidden-unit network of perceptrons computes XOR on all 4 inputs{note}"


# ------------------------------------------------------------------------------ sigmoid neurons

# σ(3), σ(1), σ(1), σ(-1): Nielsen's NAND weights (-2, -2) and bias 3 on the four inputs.
_NAND_SIGMOID = np.array([0.9525741268224334, 0.7310585786300049, 0.7310585786300049, 0.2689414213699951])


@checker("step1.sigmoid_neuron")
def check_sigmoid_neuron(sigmoid_neuron: Callable[..., Any]) -> str:
    expect_callable(sigmoid_neuron, "sigmoid_neuron")
    w, b = np.array([-2.0, -2.0]), 3.0
    what = "sigmoid_neuron(w=(-2, -2), b=3, X of the 4 two-input rows)"
    got = as_array(sigmoid_neuron(w.copy(), b, X_BOOL.copy()), what)
    if got.shape != (4,):
        extra = " — return one number per row of X (try `.ravel()`)" if got.size == 4 else ""
        raise CheckFailed(f"{what} has shape {got.shape}; expected (4,){extra}")
    if np.all((got == 0) | (got == 1)):
        raise CheckFailed(
            f"{what} returned {got.tolist()}: that is a perceptron's step; a sigmoid neuron outputs "
            "σ(w·x + b), a smooth value between 0 and 1"
        )
    if np.allclose(got, 1 - _NAND_SIGMOID):
        raise CheckFailed(
            f"{what} looks like σ(−(w·x + b)): σ(z) = 1 / (1 + e^(−z)) grows with z, so a large positive "
            "w·x + b must give an output near 1"
        )
    if np.allclose(got, _sigma(X_BOOL @ w)):
        raise CheckFailed(f"{what} returned {got.round(4).tolist()}: did you add the bias b to w·x?")
    expect_close(got, _NAND_SIGMOID, what, atol=1e-6, hint="the output is σ(w·x + b) for each row x")

    rng = _rng(1)
    for n, d in [(40, 6), (5, 1)]:
        X = rng.normal(size=(n, d))  # (n, d)
        w = rng.normal(size=d)  # (d,)
        b = float(rng.normal())
        what = f"sigmoid_neuron(w of shape ({d},), b={b:.3f}, X of shape {X.shape})"
        got = as_array(sigmoid_neuron(w.copy(), b, X.copy()), what)
        expect_close(got, _sigma(X @ w + b), what, atol=1e-6, hint="σ(w·x + b) for each row x")
    what = "sigmoid_neuron(w=(0, 0, 0), b=0, X of shape (3, 3))"
    expect_close(
        sigmoid_neuron(np.zeros(3), 0.0, rng.normal(size=(3, 3))), [0.5] * 3, what, hint="σ(0) = 0.5"
    )
    return "matches σ(w·x + b) on Nielsen's NAND weights and on random batches"


@checker("step1.feedforward")
def check_feedforward(feedforward: Callable[..., Any]) -> str:
    expect_callable(feedforward, "feedforward")
    rng = _rng(2)

    def run(weights: list[np.ndarray], biases: list[np.ndarray], a: np.ndarray, what: str) -> np.ndarray:
        got = as_array(feedforward([W.copy() for W in weights], [b.copy() for b in biases], a.copy()), what)
        n_out = weights[-1].shape[0]
        if got.shape != (n_out,):
            raise CheckFailed(
                f"{what} has shape {got.shape}; expected ({n_out},): the activations of the last layer only, "
                "as a 1-D vector"
            )
        return got

    # One layer of 3 neurons on 2 inputs: a' = σ(W a + b), W of shape (3, 2).
    W = rng.normal(size=(3, 2))  # (3, 2)
    b = rng.normal(size=3)  # (3,)
    a = rng.normal(size=2)  # (2,)
    what = "feedforward([W of shape (3, 2)], [b of shape (3,)], a of shape (2,))"
    got = run([W], [b], a, what)
    expect_close(got, _sigma(W @ a + b), what, hint="one layer computes σ(W a + b)")

    sizes = [2, 4, 3, 1]
    zeros_w = [np.zeros((m, n)) for n, m in itertools.pairwise(sizes)]
    biases = [np.zeros(m) for m in sizes[1:]]
    biases[-1] = np.array([math.log(3.0)])  # σ(ln 3) = 3/4
    what = "feedforward(all weights 0, last bias ln 3, sizes [2, 4, 3, 1])"
    got = run(zeros_w, biases, np.array([0.3, -0.7]), what)
    expect_close(
        got, [0.75], what, hint="with zero weights the last layer outputs σ(its bias) = σ(ln 3) = 0.75"
    )

    # The network of the perceptron XOR, with every weight and bias scaled by c = 20: sigmoid
    # neurons with large weights behave like perceptrons (Nielsen's "simulating perceptrons").
    c = 20.0
    W1 = c * np.array([[1.0, 1.0], [-1.0, -1.0]])  # (2, 2) OR, NAND
    b1 = c * np.array([-0.5, 1.5])  # (2,)
    W2 = c * np.array([[1.0, 1.0]])  # (1, 2) AND
    b2 = c * np.array([-1.5])  # (1,)
    for x, target in zip(X_BOOL, Y_XOR, strict=True):
        what = f"feedforward of a 2-2-1 sigmoid network with large weights on x = {_fmt(x)}"
        got = run([W1, W2], [b1, b2], x, what)
        if abs(float(got[0]) - target) > 0.01:
            raise CheckFailed(
                f"{what} returned {float(got[0]):.4f}; this network approximates XOR, so expected about "
                f"{target} — apply σ(W a + b) layer after layer, the output of one layer feeding the next"
            )

    # A deeper random network equals the composition of its parts.
    sizes = [4, 5, 3, 2]
    weights = [rng.normal(size=(m, n)) for n, m in itertools.pairwise(sizes)]
    biases = [rng.normal(size=m) for m in sizes[1:]]
    a = rng.normal(size=4)  # (4,)
    whole = run(weights, biases, a, "feedforward of a [4, 5, 3, 2] network")
    first = run(weights[:1], biases[:1], a, "feedforward of its first layer")
    rest = run(weights[1:], biases[1:], first, "feedforward of its last two layers")
    expect_close(
        whole,
        rest,
        "feedforward of a [4, 5, 3, 2] network",
        hint="the whole network should equal its first layer followed by the other two",
    )
    return "one layer, zero weights, a sigmoid XOR network and a 3-layer composition all check out"


def _bits(d: int) -> np.ndarray:
    return np.array([(d >> j) & 1 for j in range(4)])  # least significant bit first


def _adversarial_activations(W: np.ndarray, d: int, j: int, want: int) -> np.ndarray:
    """The activations allowed by the exercise (digit ``d`` at ≥ 0.99, every other digit below
    0.01) that push output bit ``j`` hardest away from ``want``: the worst case for a linear layer."""
    toward = W[j] if want == 1 else -W[j]  # (10,) > 0 where a larger activation helps bit j
    a = np.where(toward < 0, 0.0099, 0.0)  # (10,) wrong digits: as large as allowed where they hurt
    a[d] = 0.99 if toward[d] > 0 else 1.0
    return a


@checker("step1.binary_output_layer")
def check_binary_output_layer(binary_layer: Callable[[], Any]) -> str:
    expect_callable(binary_layer, "binary_layer")
    result = binary_layer()
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise CheckFailed("binary_layer() should return two values: (W, b)")
    W = expect_shape(result[0], (4, 10), "W (one row per output bit, one column per digit neuron)")
    b = expect_shape(result[1], (4,), "b (one bias per output bit)")
    worst = 0.0  # the largest distance of an output from its bit
    for d in range(10):
        want = _bits(d)  # (4,)
        one_hot = np.eye(10)[d]  # (10,)
        out = _sigma(W @ one_hot + b)  # (4,)
        got = (out > 0.5).astype(int)
        if np.array_equal(got, want[::-1]) and not np.array_equal(want, want[::-1]):
            raise CheckFailed(
                f"for digit {d} the output bits come out in reverse order {tuple(int(v) for v in got)}: "
                "neuron 0 should be the 1s bit, neuron 1 the 2s, neuron 2 the 4s and neuron 3 the 8s"
            )
        if not np.array_equal(got, want):
            raise CheckFailed(
                f"for digit {d} given as a perfect one-hot activation your layer outputs "
                f"{_fmt(out.round(3))}, which reads as bits {tuple(int(v) for v in got)} (1s bit first); "
                f"expected {tuple(int(v) for v in want)}"
            )
        for j in range(4):
            a = _adversarial_activations(W, d, j, int(want[j]))  # (10,)
            out_j = float(_sigma(W[j] @ a + b[j]))
            if (out_j > 0.5) != bool(want[j]):
                raise CheckFailed(
                    f"for digit {d} your layer works on a perfect one-hot activation, but with activations "
                    f"the exercise allows (digit {d} at {a[d]:g}, some other digits at 0.0099) "
                    f"bit {j} comes out {out_j:.3f}, on the wrong side of 0.5 — make the weights "
                    "stronger than what those small activations can add up to"
                )
            worst = max(worst, abs(out_j - float(want[j])))
    return (
        "all 10 digits come out in binary, even in the worst case; "
        f"every output is within {worst:.2g} of its bit"
    )
