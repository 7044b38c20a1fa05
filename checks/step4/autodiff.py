"""Checkers for step 4's first notebook (01_autodiff): ``step4.tape_derivative`` and
``step4.mazur_autodiff``.

Facts: analytic derivatives, Matt Mazur's worked example (see readings-facts.md: E_total, the
gradients derived from his updated weights, E_total after one update), one more network of the
same shape whose E_total was recomputed independently, and central differences of the learner's
own forward pass on random networks. TensorFlow is imported inside the checkers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, numerical_gradient

# Mazur, "A Step by Step Backpropagation Example": the 2-2-2 network and its first update.
MAZUR_W = (0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55)  # w1..w8
MAZUR_B = (0.35, 0.60)  # b1 (hidden), b2 (output)
MAZUR_X = (0.05, 0.10)  # i1, i2
MAZUR_T = (0.01, 0.99)  # targets of o1, o2
MAZUR_E = 0.298371109  # E_total before the first update
# w+ after one step with eta = 0.5 (w2+..w4+ unrounded, as recomputed in readings-facts.md)
MAZUR_W_PLUS = (
    0.149780716,
    0.199561432,
    0.249751144,
    0.299502287,
    0.35891648,
    0.408666186,
    0.51130127,
    0.561370121,
)
MAZUR_GRAD = tuple((w - wp) / 0.5 for w, wp in zip(MAZUR_W, MAZUR_W_PLUS, strict=True))  # dE/dw1..dE/dw8
MAZUR_E_AFTER = 0.2910277737  # E_total at w+ (exact; the post prints 0.291027924)
# Another network of the same shape, so that b, x and t must really be used (recomputed).
OTHER_W = (0.3, -0.2, 0.5, 0.1, -0.4, 0.6, 0.2, -0.3)
OTHER_B = (0.1, -0.2)
OTHER_X = (1.0, -0.5)
OTHER_T = (0.9, 0.2)
OTHER_E = 0.114360636

WIRING = "w1: i1→h1, w2: i2→h1, w3: i1→h2, w4: i2→h2, w5: h1→o1, w6: h2→o1, w7: h1→o2, w8: h2→o2"


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


# (description, f built from TensorFlow ops, x, analytic df/dx)
_DERIVATIVE_CASES: tuple[tuple[str, Callable[[Any, Any], Any], float, float], ...] = (
    ("f(x) = x**3", lambda tf, x: x**3, 2.0, 12.0),
    ("f(x) = sin(x)", lambda tf, x: tf.sin(x), 0.5, math.cos(0.5)),
    ("f(x) = sigmoid(x)", lambda tf, x: tf.sigmoid(x), -1.0, _sigmoid(-1.0) * (1 - _sigmoid(-1.0))),
    ("f(x) = x * exp(-x**2)", lambda tf, x: x * tf.exp(-(x**2)), 0.7, math.exp(-0.49) * (1 - 2 * 0.49)),
    ("f(x) = log(1 + x**2)", lambda tf, x: tf.math.log(1 + x**2), 3.0, 0.6),
)

_NONE_GRADIENT = (
    "tape.gradient gives None when the tape did not watch x: make x a tf.Variable, or call "
    "tape.watch(x) on a constant, before calling f inside the `with` block"
)


@checker("step4.tape_derivative")
def check_tape_derivative(derivative: Any) -> str:
    import tensorflow as tf

    expect_callable(derivative, "derivative")
    for text, fn, x0, want in _DERIVATIVE_CASES:
        calls = 0

        def f(x: Any, fn: Callable[[Any, Any], Any] = fn) -> Any:
            nonlocal calls
            calls += 1
            return fn(tf, x)

        got = derivative(f, x0)
        what = f"derivative(f, {x0}) for {text}"
        if got is None:
            raise CheckFailed(f"{what} returned None; {_NONE_GRADIENT} (or add the missing `return`)")
        arr = as_array(got, what)
        if arr.size != 1:
            raise CheckFailed(f"{what} has shape {arr.shape}; expected a single number")
        if calls > 1:
            raise CheckFailed(
                f"{what} called f {calls} times; call f once inside a tf.GradientTape and ask the tape "
                "for the gradient (several calls look like finite differences, which is what the checker "
                "uses to check you)"
            )
        value = float(arr.reshape(()))
        if not math.isclose(value, want, rel_tol=1e-4, abs_tol=1e-6):
            raise CheckFailed(f"{what} returned {value:.6g}; expected {want:.6g}")
    return f"matches the analytic derivative of {len(_DERIVATIVE_CASES)} functions"


def _mazur_call(fn: Any, w: Any, **kw: Any) -> tuple[float, np.ndarray, bool]:
    """(E, grad, computed_in_float32) from the learner's mazur_gradients."""
    args = ", ".join(f"{k}=..." for k in kw)
    what = f"mazur_gradients(w{', ' + args if args else ''})"
    out = fn(w, **kw)
    if out is None:
        raise CheckFailed(f"{what} returned None; expected (E_total, gradient). Did you forget `return`?")
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise CheckFailed(f"{what} should return a pair (E_total, gradient); got {type(out).__name__}")
    error, grad = out
    if grad is None:
        raise CheckFailed(f"{what} returned None as the gradient; {_NONE_GRADIENT}")
    e = as_array(error, f"E_total from {what}")
    if e.size != 1:
        raise CheckFailed(f"E_total from {what} has shape {e.shape}; expected a single number")
    raw = np.asarray(grad.numpy() if hasattr(grad, "numpy") else grad)
    g = as_array(raw, f"the gradient from {what}")
    if g.shape != (8,):
        raise CheckFailed(
            f"the gradient from {what} has shape {g.shape}; expected (8,): dE/dw1 .. dE/dw8 in order"
        )
    low_precision = raw.dtype == np.float32 or "float32" in str(getattr(error, "dtype", ""))
    return float(e.reshape(())), g, bool(low_precision)


def _expect_error(got: float, want: float, where: str, fix: str) -> None:
    if math.isclose(got, want, abs_tol=1e-6):
        return
    if math.isclose(got, 2 * want, rel_tol=1e-4):
        fix = "it is twice the right value: E_total = Σ ½ (target − out)², don't forget the ½"
    elif math.isclose(got, want / 2, rel_tol=1e-4):
        fix = "it is half the right value: add up the two outputs' errors (a sum, not a mean)"
    raise CheckFailed(f"{where} E_total is {got:.9f}; expected {want:.9f} — {fix}")


@checker("step4.mazur_autodiff")
def check_mazur_autodiff(mazur_gradients: Any) -> str:
    expect_callable(mazur_gradients, "mazur_gradients")
    error, at_mazur, _ = _mazur_call(mazur_gradients, list(MAZUR_W))
    _expect_error(
        error,
        MAZUR_E,
        "at Mazur's weights",
        "check the forward pass: h = σ(W1·x + b1), o = σ(W2·h + b2), and which weight joins which neurons "
        f"({WIRING})",
    )
    for i in (4, 0, *range(8)):  # the two gradients Mazur works out by hand first
        if not math.isclose(at_mazur[i], MAZUR_GRAD[i], abs_tol=5e-8):
            layer = "a hidden-layer weight" if i < 4 else "an output-layer weight"
            raise CheckFailed(
                f"at Mazur's weights dE/dw{i + 1} is {at_mazur[i]:.9f}; expected {MAZUR_GRAD[i]:.9f} "
                f"(w{i + 1} is {layer}; the wiring is {WIRING})"
            )
    after, _, _ = _mazur_call(mazur_gradients, list(MAZUR_W_PLUS))
    _expect_error(
        after,
        MAZUR_E_AFTER,
        "at Mazur's weights after one update (w+)",
        "the error must be computed from the weights you are given, not from fixed numbers",
    )
    b, x, t = list(OTHER_B), list(OTHER_X), list(OTHER_T)
    other, _, _ = _mazur_call(mazur_gradients, list(OTHER_W), b=b, x=x, t=t)
    _expect_error(
        other,
        OTHER_E,
        f"for another network (w={list(OTHER_W)}, b={b}, x={x}, t={t})",
        "use the b, x and t arguments instead of Mazur's numbers",
    )
    rng = np.random.default_rng(2015)
    for _ in range(3):
        w = rng.uniform(-1, 1, 8)
        kw = {"b": rng.uniform(-0.5, 0.5, 2), "x": rng.uniform(0, 1, 2), "t": rng.uniform(0, 1, 2)}
        _, grad, low = _mazur_call(mazur_gradients, w.copy(), **kw)

        def error_at(v: np.ndarray, kw: dict[str, np.ndarray] = kw) -> float:
            return _mazur_call(mazur_gradients, v.copy(), **kw)[0]

        numeric = numerical_gradient(error_at, w, eps=1e-6)
        bad = np.flatnonzero(~np.isclose(grad, numeric, atol=1e-7, rtol=1e-5))
        if bad.size:
            i = int(bad[0])
            hint = (
                "your numbers are float32: build the tensors with dtype=tf.float64"
                if low
                else "the gradient must come from tape.gradient of the E_total you return "
                "(compute in tf.float64; no hard-coded numbers)"
            )
            raise CheckFailed(
                f"at random weights w={np.round(w, 3).tolist()} dE/dw{i + 1} is {grad[i]:.9f}, but central "
                f"differences of your own E_total give {numeric[i]:.9f} — {hint}"
            )
    return (
        f"E_total = {error:.9f}, dE/dw5 = {at_mazur[4]:.9f}, dE/dw1 = {at_mazur[0]:.9f}: Mazur's numbers, "
        "and the tape agrees with central differences on random networks"
    )
