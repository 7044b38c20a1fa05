"""Checkers for notebook 01: perceptrons, the XOR problem and a first hidden layer."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, expect_shape

from ._common import (
    SEPARABLE_3,
    X_BOOL,
    XOR_TABLES,
    Y_AND,
    Y_OR,
    Y_XOR,
    _binary_outputs,
    _fmt,
    _rng,
    _scalar,
    _step,
)

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
        # The rule is deterministic from w = 0, b = 0 with the rows in order: the whole run is known.
        w_ref, b_ref, m_ref = _rosenblatt(X_BOOL, y, epochs=100)
        if not _same_run((w, b, mistakes), (w_ref, b_ref, m_ref)):
            raise CheckFailed(
                f"{what} fits {name}, but not the way the rule does from w = 0, b = 0 with the rows "
                f"visited in order: you returned w = {_fmt(w)}, b = {b:g}, mistakes {mistakes}; the rule "
                f"gives w = {_fmt(w_ref)}, b = {b_ref:g}, mistakes {m_ref} — start from zero, visit the "
                "rows in order (no shuffling) and update right after each misclassified row"
            )

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

    # From w = 0 and b = 0 every update is lr times the lr = 1 update, so the lr = 0.5 run is known
    # exactly (halves are exact in binary): w and b are half those of lr = 1, the mistakes the same.
    _, w1, b1, _ = _run_train(train_perceptron, X_BOOL, Y_AND, epochs=100, lr=1.0)
    what, w2, b2, m2 = _run_train(train_perceptron, X_BOOL, Y_AND, epochs=100, lr=0.5)
    got = (w2, b2, m2)
    w_ref, b_ref, m_ref = _rosenblatt(X_BOOL, Y_AND, epochs=100, lr=0.5)
    if not _same_run(got, (w_ref, b_ref, m_ref)):
        if np.allclose(w2, w1) and math.isclose(b2, b1, abs_tol=1e-9):
            raise CheckFailed(f"{what} returned the same w and b as with lr=1.0: scale every update by lr")
        if _same_run(got, _rosenblatt(X_BOOL, Y_AND, epochs=100, lr=0.5, bias_lr=1.0)):
            why = "the bias update leaves out the learning rate: b ← b + lr·(y − ŷ), like w"
        elif _same_run(got, _rosenblatt(X_BOOL, Y_AND, epochs=100, lr=1.0, bias_lr=0.5)):
            why = "the weight update leaves out the learning rate: w ← w + lr·(y − ŷ)·x, like b"
        else:
            why = "start from w = 0, b = 0 and multiply both updates, w's and b's, by lr"
        raise CheckFailed(
            f"{what} returned w = {_fmt(w2)}, b = {b2:g}, mistakes {m2}; the rule gives "
            f"w = {_fmt(w_ref)}, b = {b_ref:g}, mistakes {m_ref} — {why}"
        )
    return (
        f"AND learned in {epochs_used['AND']} epochs, OR in {epochs_used['OR']}; XOR never converges; "
        f"3 fresh separable data sets fitted in at most {worst} epochs"
    )


def _rosenblatt(
    X: np.ndarray, y: np.ndarray, epochs: int, lr: float = 1.0, bias_lr: float | None = None
) -> tuple[np.ndarray, float, list[int]]:
    """The reference run of the perceptron rule: w = 0, b = 0, rows in order, stop after a clean epoch.
    ``bias_lr`` (default ``lr``) steps the bias: a different one replays a mistake."""
    step_b = lr if bias_lr is None else bias_lr
    w, b, mistakes = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        wrong = 0
        for x, target in zip(X, y, strict=True):  # x: (d,)
            error = int(target) - int(float(x @ w) + b > 0)
            if error:
                w, b, wrong = w + lr * error * x, b + step_b * error, wrong + 1
        mistakes.append(wrong)
        if wrong == 0:
            break
    return w, b, mistakes


def _same_run(got: tuple[np.ndarray, float, list[int]], want: tuple[np.ndarray, float, list[int]]) -> bool:
    """Whether two runs of the rule ended alike: the same mistakes per epoch, w and b."""
    return (
        got[2] == want[2]
        and bool(np.allclose(got[0], want[0]))
        and math.isclose(got[1], want[1], abs_tol=1e-9)
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
