"""Checkers for notebook 04: micrograd, a scalar autodiff engine built by the learner.

The yardstick is Andrej Karpathy's micrograd (github.com/karpathy/micrograd, ``engine.py``) and
his lecture "The spelled-out intro to neural networks and backpropagation". Facts: local
derivatives worked out on paper, central differences of the same expression evaluated with plain
floats by the checker, Matt Mazur's published gradients, and a plain-float gradient-descent loop.
The checkers build every expression from the learner's own ``Value`` class; they read only the
attributes the notebook gives it (``data``, ``grad``, ``_backward``, ``_prev``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable

TOL = 1e-9

# Mazur, "A Step by Step Backpropagation Example": w1..w8, biases, inputs, targets.
MAZUR_W = (0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55)
MAZUR_B = (0.35, 0.60)
MAZUR_X = (0.05, 0.10)
MAZUR_T = (0.01, 0.99)
MAZUR_E = 0.298371109
# dE/dw1..dE/dw8 as the post prints them (rounded to nine digits).
MAZUR_GRAD = (
    0.000438568,
    0.000877135,
    0.000497713,
    0.000995425,
    0.082167041,
    0.082667628,
    -0.022602540,
    -0.022740242,
)
WIRING = "w1: i1→h1, w2: i2→h1, w3: i1→h2, w4: i2→h2, w5: h1→o1, w6: h2→o1, w7: h1→o2, w8: h2→o2"


def _sigmoid(z: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * z))  # the logistic function, without overflow


def _close(a: Any, b: float, tol: float = TOL) -> bool:
    try:
        return math.isclose(float(a), b, rel_tol=tol, abs_tol=tol)
    except (TypeError, ValueError):
        return False


def _num(value: Any, what: str) -> float:
    """A plain number from a learner's attribute, or a failure that names it."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise CheckFailed(f"{what} is {value!r} ({type(value).__name__}); expected a plain number")
    return float(value)


def _is_value(obj: Any, Value: type) -> bool:
    return isinstance(obj, Value)


def _apply(what: str, fn: Callable[[], Any], fix: str) -> Any:
    """Run one operation on learner Values; a TypeError becomes a failure that says what to add."""
    try:
        return fn()
    except TypeError as exc:
        raise CheckFailed(f"{what} raised TypeError ({exc}) — {fix}") from None


def _expect_value(out: Any, Value: type, what: str, data: float) -> Any:
    if not _is_value(out, Value):
        raise CheckFailed(
            f"{what} returned {out!r} ({type(out).__name__}); expected a new Value — return "
            "Value(result, (self, other), op) so the graph keeps track of where the number came from"
        )
    got = _num(getattr(out, "data", None), f"({what}).data")
    if not _close(got, data):
        raise CheckFailed(f"({what}).data is {got:.6g}; expected {data:.6g}")
    return out


def _expect_children(out: Any, want: Sequence[Any], what: str) -> None:
    children = getattr(out, "_prev", None)
    try:
        ids = {id(c) for c in children} if children is not None else set()
    except TypeError:
        ids = set()
    if not {id(c) for c in want} <= ids:
        raise CheckFailed(
            f"({what})._prev does not hold the Values it was made from; pass them as the children, "
            "Value(result, (self, other), op), so backward() can walk the graph"
        )


def _run_backward(out: Any, upstream: float, what: str) -> None:
    """Seed ``out.grad`` and run its own ``_backward`` once, as the notebook does by hand."""
    out.grad = upstream
    step = getattr(out, "_backward", None)
    if not callable(step):
        raise CheckFailed(f"({what})._backward is {step!r}; set out._backward to the closure you defined")
    step()


def _grad(v: Any, what: str) -> float:
    return _num(getattr(v, "grad", None), what)


# ------------------------------------------------------------------------------------ value_ops


def _check_binary(Value: type, symbol: str) -> None:
    a, b = Value(2.0), Value(-3.0)
    up = 2.5  # a seed other than 1, so a closure that ignores out.grad shows
    if symbol == "+":
        out = _apply("Value(2.0) + Value(-3.0)", lambda: a + b, "define __add__")
        want_a, want_b = up, up
        what = "a + b with a = 2, b = -3"
    else:
        out = _apply("Value(2.0) * Value(-3.0)", lambda: a * b, "define __mul__")
        want_a, want_b = -3.0 * up, 2.0 * up
        what = "a * b with a = 2, b = -3"
    _expect_value(out, Value, what, 2.0 + -3.0 if symbol == "+" else -6.0)
    _expect_children(out, (a, b), what)
    _run_backward(out, up, what)
    da, db = _grad(a, "a.grad"), _grad(b, "b.grad")
    if _close(da, want_a) and _close(db, want_b):
        return
    where = (
        f"after out.grad = {up} and out._backward() for out = {what}, a.grad = {da:.6g} and b.grad = {db:.6g}"
    )
    if symbol == "*" and _close(da, 2.0 * up) and _close(db, -3.0 * up):
        raise CheckFailed(
            f"{where}; expected {want_a:.6g} and {want_b:.6g} — the slopes are swapped: "
            "d(a*b)/da is b, so self.grad gets other.data * out.grad"
        )
    if _close(da, want_a / up) and _close(db, want_b / up):
        raise CheckFailed(
            f"{where}; expected {want_a:.6g} and {want_b:.6g} — the chain rule multiplies the local "
            "slope by out.grad (how much the final output changes with this node)"
        )
    raise CheckFailed(f"{where}; expected {want_a:.6g} and {want_b:.6g}")


def _check_plain_numbers(Value: type) -> None:
    cases: tuple[tuple[str, Callable[[Any], Any], float, float, str], ...] = (
        ("Value(2.0) + 1.5", lambda a: a + 1.5, 3.5, 1.0, "wrap a plain number in Value inside __add__"),
        ("1.5 + Value(2.0)", lambda a: 1.5 + a, 3.5, 1.0, "define __radd__ (Python calls it for 1.5 + a)"),
        ("Value(2.0) * 4", lambda a: a * 4, 8.0, 4.0, "wrap a plain number in Value inside __mul__"),
        ("4 * Value(2.0)", lambda a: 4 * a, 8.0, 4.0, "define __rmul__ (Python calls it for 4 * a)"),
    )
    for what, fn, data, slope, fix in cases:
        a = Value(2.0)
        out = _expect_value(_apply(what, partial(fn, a), fix), Value, what, data)
        _run_backward(out, 1.0, what)
        da = _grad(a, "a.grad")
        if not _close(da, slope):
            raise CheckFailed(
                f"after out.grad = 1 and out._backward() for out = {what}, a.grad = {da:.6g}; "
                f"expected {slope:.6g}"
            )


def _check_sigmoid(Value: type) -> None:
    for z in (-2.0, 0.0, 0.7, 3.0):
        a = Value(z)
        what = f"Value({z}).sigmoid()"
        method = getattr(a, "sigmoid", None)
        if not callable(method):
            raise CheckFailed("Value has no sigmoid() method; add one next to tanh()")
        s = _sigmoid(z)
        out = _expect_value(method(), Value, what, s)
        _expect_children(out, (a,), what)
        a.grad = 1.0  # a gradient already there from another path: the closure must add to it
        _run_backward(out, 1.5, what)
        got = _grad(a, "a.grad") - 1.0
        want = 1.5 * s * (1 - s)
        if _close(got, want):
            continue
        where = (
            f"for out = {what} with a.grad = 1 already and out.grad = 1.5, out._backward() added "
            f"{got:.6g} to a.grad"
        )
        if _close(got, 1.5 * z * (1 - z)) or _close(got, z * (1 - z)):
            raise CheckFailed(
                f"{where}; expected {want:.6g} — the slope is σ(z)(1 − σ(z)) with σ(z) the OUTPUT "
                "(out.data), not the input z"
            )
        if _close(got + 1.0, want):
            raise CheckFailed(
                f"{where[: where.index(', out._backward')]}, a.grad became {got + 1.0:.6g}: the old 1 was "
                "replaced — use `self.grad += ...` so gradients from several paths add up"
            )
        if _close(got, want / 1.5):
            raise CheckFailed(
                f"{where}; expected {want:.6g} — multiply the local slope by out.grad (the chain rule)"
            )
        raise CheckFailed(f"{where}; expected {want:.6g} = out.grad * σ(z)(1 − σ(z))")


def _check_accumulation(Value: type) -> None:
    a = Value(3.0)
    sq = _apply("a * a", lambda: a * a, "define __mul__")
    _run_backward(sq, 1.0, "a * a")
    da = _grad(a, "a.grad")
    if not _close(da, 6.0):
        raise CheckFailed(
            f"for y = a * a with a = 3, out._backward() gave a.grad = {da:.6g}; expected 6 = 2a: a is "
            "both self and other, and the two contributions must add up — use `+=` in _backward, not `=`"
        )
    a = Value(1.5)
    b = a * 2  # a used twice: once through b, once directly
    c = a + b
    _run_backward(c, 1.0, "c = a + b")
    b._backward()
    da = _grad(a, "a.grad")
    if not _close(da, 3.0):
        raise CheckFailed(
            f"for b = a * 2 and c = a + b, running c._backward() then b._backward() gave a.grad = "
            f"{da:.6g}; expected 3 (1 directly + 2 through b) — each closure must ADD to .grad (`+=`)"
        )


@checker("step3.value_ops")
def check_value_ops(Value: Any) -> str:
    if not isinstance(Value, type):
        raise CheckFailed(f"pass the class Value itself; got {type(Value).__name__}")
    _check_binary(Value, "+")
    _check_binary(Value, "*")
    _check_plain_numbers(Value)
    _check_sigmoid(Value)
    _check_accumulation(Value)
    return (
        "+, * and sigmoid give the right values and local slopes, with numbers on either side, "
        "and gradients that add up"
    )


# ------------------------------------------------------------------------------ value_backward

# A program is a list of (op, i, j, constant) on a growing list of nodes: the same program runs
# on plain floats (for central differences) and on the learner's Values.
Program = list[tuple[str, int, int, float]]


def _run(program: Program, leaves: Sequence[Any], sigmoid: Callable[[Any], Any]) -> list[Any]:
    nodes = list(leaves)
    for op, i, j, c in program:
        a = nodes[i]
        if op == "+":
            nodes.append(a + nodes[j])
        elif op == "*":
            nodes.append(a * nodes[j])
        elif op == "+c":
            nodes.append(a + c)
        elif op == "c*":
            nodes.append(c * a)
        else:
            nodes.append(sigmoid(a))
    return nodes


def _random_program(rng: np.random.Generator, n_leaves: int, n_ops: int) -> Program:
    program: Program = []
    used: set[int] = set()
    n = n_leaves
    for _ in range(n_ops):
        op = str(rng.choice(["+", "*", "*", "+c", "c*", "sig"]))
        i, j = (int(k) for k in rng.integers(0, n, 2))  # any earlier node: values get reused
        program.append((op, i, j, float(np.round(rng.uniform(-2, 2), 2))))
        used |= {i, j} if op in "+*" else {i}
        n += 1
    for k in range(n - 1):  # fold every unused node into the output, so every leaf matters
        if k not in used:
            program.append(("+", n - 1, k, 0.0))
            used.add(k)
            n += 1
    return program


def _float_grads(program: Program, leaves: np.ndarray) -> np.ndarray:
    def out(v: np.ndarray) -> float:
        return float(_run(program, [float(x) for x in v], _sigmoid)[-1])

    grads = np.zeros_like(leaves)
    eps = 1e-6
    for k in range(len(leaves)):
        up, down = leaves.copy(), leaves.copy()
        up[k] += eps
        down[k] -= eps
        grads[k] = (out(up) - out(down)) / (2 * eps)
    return grads


def _describe(program: Program, n_leaves: int) -> list[str]:
    names = [f"x{k}" for k in range(n_leaves)]
    for op, i, j, c in program:
        text = {
            "+": f"{names[i]} + {names[j]}",
            "*": f"{names[i]} * {names[j]}",
            "+c": f"{names[i]} + {c:g}",
            "c*": f"{c:g} * {names[i]}",
            "sig": f"{names[i]}.sigmoid()",
        }[op]
        names.append(f"({text})" if len(text) < 40 else f"n{len(names)}")
    return names


def _instrument(nodes: Sequence[Any], start: int) -> list[int]:
    """Wrap the _backward of every node from ``start`` on, so the checker sees which ran, and when."""
    calls: list[int] = []
    for k in range(start, len(nodes)):
        inner = getattr(nodes[k], "_backward", None)
        if not callable(inner):
            raise CheckFailed("a Value made by an operation has no callable _backward")

        def wrapped(k: int = k, inner: Callable[[], Any] = inner) -> Any:
            calls.append(k)
            return inner()

        nodes[k]._backward = wrapped
    return calls


def _judge_calls(program: Program, n_leaves: int, calls: list[int], names: list[str], where: str) -> None:
    consumers: dict[int, list[int]] = {}
    for k, (op, i, j, _) in enumerate(program, start=n_leaves):
        for child in {i, j} if op in "+*" else {i}:
            consumers.setdefault(child, []).append(k)
    first: dict[int, int] = {}
    for pos, k in enumerate(calls):
        if k in first and k >= n_leaves:
            raise CheckFailed(
                f"{where}: the _backward of {names[k]} ran twice, so its inputs got its gradient twice — "
                "it is reached along two paths; keep a `visited` set so each node enters the order once"
            )
        first.setdefault(k, pos)
    total = n_leaves + len(program)
    for k in range(n_leaves, total):
        if k not in first:
            raise CheckFailed(
                f"{where}: the _backward of {names[k]} never ran; backward() must visit every node "
                "that the output depends on"
            )
    for k in range(n_leaves, total):
        for user in consumers.get(k, []):
            if first[user] > first[k]:
                raise CheckFailed(
                    f"{where}: the _backward of {names[k]} ran before that of {names[user]}, which uses "
                    f"it — at that moment {names[k]}.grad was not complete yet. Run the closures in "
                    "REVERSED topological order: a node only after every node that uses it"
                )


def _check_program(
    Value: type, backward: Callable[[Any], Any], program: Program, leaves: np.ndarray, where: str
) -> None:
    values = [Value(float(x)) for x in leaves]
    nodes = _run(program, values, lambda v: v.sigmoid())
    names = _describe(program, len(leaves))
    calls = _instrument(nodes, len(leaves))
    root = nodes[-1]
    backward(root)
    seed = _grad(root, "the output's grad")
    if not _close(seed, 1.0):
        raise CheckFailed(
            f"{where}: after backward(out), out.grad is {seed:.6g}; expected 1 — seed the output with "
            "d out/d out = 1 before running the closures, or every gradient stays at 0"
        )
    _judge_calls(program, len(leaves), calls, names, where)
    want = _float_grads(program, leaves)
    for k, v in enumerate(values):
        got = _grad(v, f"{names[k]}.grad")
        if not math.isclose(got, want[k], rel_tol=1e-5, abs_tol=1e-7):
            raise CheckFailed(
                f"{where}: after backward(out), {names[k]}.grad is {got:.6g}; central differences give "
                f"{want[k]:.6g}. A value used twice must collect the sum of both paths (`+=` in every "
                "_backward)"
            )


def _check_adds(Value: type, backward: Callable[[Any], Any]) -> None:
    """backward adds to what a leaf already holds; clearing gradients is the training loop's job
    (section 4, step3.micrograd_train), so a backward that clears them would hide that lesson."""
    x = Value(2.0)
    x.grad = 0.25  # left over from an earlier backward
    backward(x * 3.0 + 1.0)
    got = _grad(x, "x.grad")
    if _close(got, 3.0):
        raise CheckFailed(
            "with x.grad = 0.25 left from before, backward(3 * x + 1) left x.grad at 3: it set the "
            "gradients to 0 first. backward only adds, as micrograd's and PyTorch's do; zeroing is "
            "the training loop's job (section 4)"
        )
    if not _close(got, 3.25):
        raise CheckFailed(
            f"with x.grad = 0.25 beforehand, backward(3 * x + 1) gives x.grad = {got:.6g}; expected 3.25"
        )


# Hand-made graphs with readable names; each exposes one classic slip.
_NAMED: tuple[tuple[str, Program, tuple[float, ...]], ...] = (
    ("out = 3 * x0 + 1 (a chain)", [("c*", 0, 0, 3.0), ("+c", 1, 0, 1.0)], (2.0,)),
    ("out = x0 + x0", [("+", 0, 0, 0.0)], (1.5,)),
    ("out = x0 * x0", [("*", 0, 0, 0.0)], (-1.5,)),
    ("b = 2 * x0, out = x0 + b", [("c*", 0, 0, 2.0), ("+", 0, 1, 0.0)], (0.5,)),
    (
        "m = x0 * x1, out = m + 3 * m.sigmoid() (m used twice, by two nodes at different depths)",
        [("*", 0, 1, 0.0), ("sig", 2, 0, 0.0), ("c*", 3, 0, 3.0), ("+", 2, 4, 0.0)],
        (0.5, -1.5),
    ),
    (
        "a chain of four: out = (((x0 * 2) * x0).sigmoid() + 1) * x1",
        [("c*", 0, 0, 2.0), ("*", 2, 0, 0.0), ("sig", 3, 0, 0.0), ("+c", 4, 0, 1.0), ("*", 5, 1, 0.0)],
        (0.3, -0.8),
    ),
)


@checker("step3.value_backward")
def check_value_backward(Value: Any, backward: Any) -> str:
    if not isinstance(Value, type):
        raise CheckFailed(f"pass the class Value itself first; got {type(Value).__name__}")
    expect_callable(backward, "backward")
    try:
        check_value_ops(Value)
    except CheckFailed as exc:  # backward can only be judged with closures that are right
        raise CheckFailed(
            f"step3.value_ops does not pass yet, so backward cannot be judged: {exc}. Fix that first"
        ) from None
    for where, program, named_leaves in _NAMED:
        _check_program(Value, backward, program, np.array(named_leaves), where)
    _check_adds(Value, backward)
    rng = np.random.default_rng(2020)
    sizes = (6, 10, 14, 20, 30)
    for n_ops in sizes:
        program = _random_program(rng, 3, n_ops)
        leaves = rng.uniform(-1.5, 1.5, 3)
        _check_program(Value, backward, program, leaves, f"on a random graph of {len(program)} operations")
    return (
        f"every node's _backward runs once, after all its users, and the gradients match central "
        f"differences on {len(_NAMED)} small graphs and {len(sizes)} random ones"
    )


# ------------------------------------------------------------------------------ micrograd_mazur


def _mazur_reference(w: Sequence[float], b: Sequence[float], x: Sequence[float], t: Sequence[float]) -> float:
    h1 = _sigmoid(w[0] * x[0] + w[1] * x[1] + b[0])
    h2 = _sigmoid(w[2] * x[0] + w[3] * x[1] + b[0])
    o1 = _sigmoid(w[4] * h1 + w[5] * h2 + b[1])
    o2 = _sigmoid(w[6] * h1 + w[7] * h2 + b[1])
    return 0.5 * (t[0] - o1) ** 2 + 0.5 * (t[1] - o2) ** 2


def _mazur_numgrad(
    w: Sequence[float], b: Sequence[float], x: Sequence[float], t: Sequence[float]
) -> np.ndarray:
    grads = np.zeros(8)
    eps = 1e-6
    for k in range(8):
        up, down = list(w), list(w)
        up[k] += eps
        down[k] -= eps
        grads[k] = (_mazur_reference(up, b, x, t) - _mazur_reference(down, b, x, t)) / (2 * eps)
    return grads


def _transposed(w: Sequence[float]) -> list[float]:
    return [w[0], w[2], w[1], w[3], w[4], w[6], w[5], w[7]]


def _mazur_call(
    fn: Callable[..., Any], w: Sequence[float], b: Sequence[float], x: Sequence[float], t: Sequence[float]
) -> tuple[float, np.ndarray]:
    what = "mazur_gradients(w, b, x, t)"
    out = fn(list(w), list(b), list(x), list(t))
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise CheckFailed(f"{what} returned {type(out).__name__}; expected a pair (E_total, gradients)")
    error, grads = out
    if hasattr(error, "data") and not isinstance(error, np.ndarray):
        raise CheckFailed(  # the notebook's next cell formats it as a number, and would crash
            f"{what} returned E_total as a Value; return its number, error.data (a float)"
        )
    if isinstance(grads, list | tuple) and grads and hasattr(grads[0], "grad"):
        raise CheckFailed(
            f"{what} returned Value objects as gradients; return each weight's .grad (a number)"
        )
    g = as_array(grads, f"the gradients from {what}")
    if g.shape != (8,):
        raise CheckFailed(
            f"the gradients from {what} have shape {g.shape}; expected 8 numbers, dE/dw1 .. dE/dw8"
        )
    return _num(float(as_array(error, f"E_total from {what}").reshape(-1)[0]), "E_total"), g


@checker("step3.micrograd_mazur")
def check_micrograd_mazur(mazur_gradients: Any) -> str:
    expect_callable(mazur_gradients, "mazur_gradients")
    error, grads = _mazur_call(mazur_gradients, MAZUR_W, MAZUR_B, MAZUR_X, MAZUR_T)
    if math.isclose(error, 2 * MAZUR_E, rel_tol=1e-6):
        raise CheckFailed(
            f"E_total at Mazur's weights is {error:.9f}, twice his 0.298371109 — E = Σ ½ (target − out)², "
            "don't forget the ½"
        )
    if not math.isclose(error, MAZUR_E, abs_tol=1e-8):
        raise CheckFailed(
            f"E_total at Mazur's weights is {error:.9f}; expected 0.298371109 — h = σ(w·i + b1), "
            f"o = σ(w·h + b2), and the wiring is {WIRING}"
        )
    want = np.array(MAZUR_GRAD)
    if np.allclose(grads, 0.0):
        raise CheckFailed(
            "all eight gradients are 0 at Mazur's weights: backward never reached the Values you read. "
            "Call backward on E_total, and read .grad from the very Value objects used to build it"
        )
    if not np.allclose(grads, want, atol=1e-8, rtol=0):
        k = int(np.argmax(np.abs(grads - want)))
        if np.allclose(grads, 2 * want, atol=2e-8, rtol=0):
            hint = "every gradient is doubled: E = Σ ½ (target − out)², with the ½"
        else:
            hint = f"the wiring is {WIRING}"
        raise CheckFailed(
            f"at Mazur's weights dE/dw{k + 1} is {grads[k]:.9f}; Mazur prints {want[k]:.9f} — {hint}"
        )
    again = _mazur_call(mazur_gradients, MAZUR_W, MAZUR_B, MAZUR_X, MAZUR_T)[1]
    if not np.allclose(again, grads, atol=1e-12, rtol=0):
        raise CheckFailed(
            f"a second call with the same numbers gave dE/dw5 = {again[4]:.9f} instead of {grads[4]:.9f}: "
            "gradients from the first backward are still in .grad — build fresh Values in each call "
            "(or zero every .grad) before backward"
        )
    rng = np.random.default_rng(20150317)
    for _ in range(3):
        w = rng.uniform(-1, 1, 8).round(3).tolist()
        b = rng.uniform(-0.5, 0.5, 2).round(3).tolist()
        x = rng.uniform(0, 1, 2).round(3).tolist()
        t = rng.uniform(0, 1, 2).round(3).tolist()
        error, grads = _mazur_call(mazur_gradients, w, b, x, t)
        e_want = _mazur_reference(w, b, x, t)
        where = f"for w={w}, b={b}, x={x}, t={t}"
        if not math.isclose(error, e_want, abs_tol=1e-9):
            fix = "use the w, b, x and t you are given"
            if math.isclose(error, _mazur_reference(_transposed(w), b, x, t), abs_tol=1e-9):
                fix = f"two weights are swapped: the wiring is {WIRING}"
            raise CheckFailed(f"{where} E_total is {error:.9f}; expected {e_want:.9f} — {fix}")
        numeric = _mazur_numgrad(w, b, x, t)
        bad = np.flatnonzero(~np.isclose(grads, numeric, atol=1e-8, rtol=1e-5))
        if bad.size:
            k = int(bad[0])
            raise CheckFailed(
                f"{where} dE/dw{k + 1} is {grads[k]:.9f}; central differences give {numeric[k]:.9f}"
            )
    return (
        f"dE/dw5 = {MAZUR_GRAD[4]:.9f} and dE/dw1 = {MAZUR_GRAD[0]:.9f}, all eight as Mazur prints them, "
        "and right on three other networks"
    )


# ------------------------------------------------------------------------------ micrograd_train


def _reference_train(
    w: Sequence[float],
    b: Sequence[float],
    x: Sequence[float],
    t: Sequence[float],
    lr: float,
    steps: int,
    slip: str = "",
) -> np.ndarray:
    """Plain gradient descent on w (biases fixed); ``slip`` replays a known slip for diagnosis."""
    v, bias = np.array(w, dtype=float), np.array(b, dtype=float)
    total = np.zeros(8)
    for _ in range(steps):
        g, gb = _mazur_exact_grad(v, bias.tolist(), x, t)
        total = total + g if slip == "no_zero" else g
        if slip == "biases":
            bias = bias - lr * gb
        v = v - lr * total
    return v


def _mazur_exact_grad(
    w: np.ndarray, b: Sequence[float], x: Sequence[float], t: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """dE/dw1..w8 and dE/db1, dE/db2 from Mazur's deltas (checked against central differences)."""
    W1, W2 = w[:4].reshape(2, 2), w[4:].reshape(2, 2)
    xv, tv = np.asarray(x, float), np.asarray(t, float)
    h = 0.5 * (1 + np.tanh(0.5 * (W1 @ xv + b[0])))  # (2,)
    o = 0.5 * (1 + np.tanh(0.5 * (W2 @ h + b[1])))  # (2,)
    d_o = (o - tv) * o * (1 - o)  # (2,)
    d_h = (W2.T @ d_o) * h * (1 - h)  # (2,)
    grad_w = np.concatenate([np.outer(d_h, xv).ravel(), np.outer(d_o, h).ravel()])  # (8,)
    return grad_w, np.array([d_h.sum(), d_o.sum()])  # b1 is shared by h1, h2; b2 by o1, o2


def _train_call(
    fn: Callable[..., Any],
    w: Sequence[float],
    b: Sequence[float],
    x: Sequence[float],
    t: Sequence[float],
    lr: float,
    steps: int,
) -> np.ndarray:
    what = f"train(w, b, x, t, lr={lr}, steps={steps})"
    out = fn(list(w), list(b), list(x), list(t), lr, steps)
    if isinstance(out, list | tuple) and out and hasattr(out[0], "data"):
        raise CheckFailed(f"{what} returned Value objects; return the eight numbers, [v.data for v in ws]")
    got = as_array(out, what)
    if got.shape != (8,):
        raise CheckFailed(f"{what} returned shape {got.shape}; expected the eight weights w1..w8")
    return got


@checker("step3.micrograd_train")
def check_micrograd_train(train: Any) -> str:
    expect_callable(train, "train")
    w0, b, x, t = MAZUR_W, MAZUR_B, MAZUR_X, MAZUR_T
    zero = _train_call(train, w0, b, x, t, 0.5, 0)
    if not np.allclose(zero, w0, atol=1e-12):
        raise CheckFailed(
            f"train(..., steps=0) returned {np.round(zero, 6).tolist()}; zero steps must leave w alone"
        )
    one = _train_call(train, w0, b, x, t, 0.5, 1)
    want = _reference_train(w0, b, x, t, 0.5, 1)
    if np.allclose(one, 2 * np.array(w0) - want, atol=1e-9):
        raise CheckFailed(
            f"after one step w5 is {one[4]:.9f}, not Mazur's 0.35891648: the step went UP the gradient — "
            "w.data -= lr * w.grad"
        )
    if not np.allclose(one, want, atol=1e-9, rtol=0):
        k = int(np.argmax(np.abs(one - want)))
        raise CheckFailed(
            f"after one step with lr=0.5, w{k + 1} is {one[k]:.9f}; expected {want[k]:.9f} (Mazur: w5+ = "
            "0.35891648, w1+ = 0.149780716) — w.data -= lr * w.grad, with every gradient from one backward"
        )
    three = _train_call(train, w0, b, x, t, 0.5, 3)
    want = _reference_train(w0, b, x, t, 0.5, 3)
    if not np.allclose(three, want, atol=1e-9, rtol=0):
        k = int(np.argmax(np.abs(three - want)))
        where = f"one step is right, but after three w{k + 1} is {three[k]:.9f}; expected {want[k]:.9f}"
        if np.allclose(three, _reference_train(w0, b, x, t, 0.5, 3, "no_zero"), atol=1e-9):
            raise CheckFailed(
                f"{where} — backward ADDS to .grad, so the last step's gradients are still there: set "
                "every weight's .grad to 0 before each backward"
            )
        if np.allclose(three, _reference_train(w0, b, x, t, 0.5, 3, "biases"), atol=1e-9):
            raise CheckFailed(f"{where} — the biases changed too; in Mazur's example they stay fixed")
        raise CheckFailed(f"{where} — each step: zero the grads, build E, backward, then move every weight")
    rng = np.random.default_rng(7)
    w = rng.uniform(-1, 1, 8).round(3).tolist()
    b2 = rng.uniform(-0.5, 0.5, 2).round(3).tolist()
    x2, t2 = rng.uniform(0, 1, 2).round(3).tolist(), rng.uniform(0, 1, 2).round(3).tolist()
    got = _train_call(train, w, b2, x2, t2, 1.3, 25)
    want = _reference_train(w, b2, x2, t2, 1.3, 25)
    if not np.allclose(got, want, atol=1e-8, rtol=0):
        k = int(np.argmax(np.abs(got - want)))
        hint = "use the b, x, t and lr you are given"
        raise CheckFailed(
            f"for w={w}, b={b2}, x={x2}, t={t2}, lr=1.3 and 25 steps, w{k + 1} is {got[k]:.9f}; "
            f"expected {want[k]:.9f} — {hint}"
        )
    long = _train_call(train, w0, b, x, t, 0.5, 1000)
    e = _mazur_reference(long.tolist(), b, x, t)
    e_want = _mazur_reference(_reference_train(w0, b, x, t, 0.5, 1000).tolist(), b, x, t)
    if not math.isclose(e, e_want, rel_tol=1e-6):
        raise CheckFailed(f"after 1,000 steps on Mazur's network E_total is {e:.6g}; expected {e_want:.6g}")
    return f"one step gives Mazur's w5+ = {one[4]:.8f}; after 1,000 steps E_total = {e:.6g}"
