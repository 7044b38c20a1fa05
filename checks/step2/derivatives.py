"""Checkers for notebook 02: numerical derivatives, the sigmoid and its stable form."""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, expect_close, expect_shape, numerical_gradient

# ------------------------------------------------------------------------------ derivatives


@checker("step2.central_difference")
def check_central_difference(numerical_derivative: Callable[..., Any]) -> str:
    expect_callable(numerical_derivative, "numerical_derivative")

    def call(f: Callable[[Any], Any], x: float, h: float | None = None) -> float:
        what = f"numerical_derivative(f, {x})" if h is None else f"numerical_derivative(f, {x}, h={h})"
        value = numerical_derivative(f, x) if h is None else numerical_derivative(f, x, h=h)
        arr = as_array(value, what)
        if arr.size != 1:
            raise CheckFailed(f"{what} has shape {arr.shape}; expected a single number")
        return float(arr.reshape(()))

    # f(x) = x³ at x = 1 with a large h tells the difference formulas apart exactly:
    # central 3 + h², forward 3 + 3h + h², backward 3 - 3h + h².
    h = 0.1
    got = call(lambda t: t**3, 1.0, h)
    if abs(got - 3.01) > 1e-9:
        what = "numerical_derivative(lambda x: x**3, 1.0, h=0.1)"
        if abs(got - 3.31) < 1e-9:
            raise CheckFailed(
                f"{what} returned {got:.6g}: that is the FORWARD difference (f(x+h) - f(x)) / h; "
                "use points on both sides of x"
            )
        if abs(got - 2.71) < 1e-9:
            raise CheckFailed(f"{what} returned {got:.6g}: that is the BACKWARD difference; use x+h and x-h")
        if abs(got - 6.02) < 1e-9:
            raise CheckFailed(
                f"{what} returned {got:.6g}, twice the slope: x+h and x-h are 2h apart, so divide by 2h"
            )
        if abs(got - 3.01 * h * h) < 1e-9:
            raise CheckFailed(
                f"{what} returned {got:.6g}, the right slope times h²: `/ 2 * h` divides by 2 and then "
                "multiplies by h; write / (2 * h)"
            )
        if abs(got - 3.0) < 1e-3:
            raise CheckFailed(
                f"{what} returned {got:.6g}; a central difference with h=0.1 gives exactly 3.01 here — "
                "does your function ignore its `h` argument?"
            )
        raise CheckFailed(f"{what} returned {got:.6g}; expected 3.01 (the central difference with h=0.1)")

    facts: list[tuple[str, Callable[[Any], Any], float, float]] = [
        ("2x² - 3 at x=1.5", lambda t: 2 * t**2 - 3, 1.5, 6.0),
        ("x³ at x=2", lambda t: t**3, 2.0, 12.0),
        ("sin at x=1", np.sin, 1.0, math.cos(1.0)),
        ("exp at x=0.5", np.exp, 0.5, math.exp(0.5)),
        ("log at x=2", np.log, 2.0, 0.5),
        ("1/x at x=-0.5", lambda t: 1.0 / t, -0.5, -4.0),
    ]
    for label, f, x, want in facts:
        got = call(f, x)
        if not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-8):
            raise CheckFailed(
                f"derivative of {label} with the default h came out {got:.10g}; expected {want:.10g} "
                "(keep the default h=1e-5)"
            )

    # Error order: for sin at 1 the central error is about cos(1)·h²/6, so 10× smaller h → 100× smaller error.
    hs = [1e-1, 1e-2, 1e-3]
    errors = [abs(call(np.sin, 1.0, step) - math.cos(1.0)) for step in hs]
    if min(errors) == 0.0:
        raise CheckFailed(
            "the error did not shrink like h²; the error of a central difference is ≈ f'''(x)·h²/6"
        )
    slopes = [math.log10(errors[i] / errors[i + 1]) for i in range(len(hs) - 1)]
    for step, slope in zip(hs[1:], slopes, strict=True):
        if not 1.8 < slope < 2.2:
            raise CheckFailed(
                f"going from h={step * 10:g} to h={step:g} the error of sin'(1) shrank by 10^{slope:.2f}; "
                "a central difference should shrink it about 100× (slope 2 on a log-log plot)"
            )
    return f"exact on 6 analytic derivatives; error slope {np.mean(slopes):.2f} on log-log (O(h²))"


# ------------------------------------------------------------------------------ the sigmoid

# σ(x) = 1 / (1 + e^-x), computed once to 40 significant digits with decimal.
_SIGMOID_FACTS = {
    -30.0: 9.357622968839299e-14,
    -5.0: 0.0066928509242848554,
    -2.0: 0.11920292202211756,
    -1.0: 0.2689414213699951,
    0.0: 0.5,
    1.0: 0.7310585786300049,
    2.0: 0.8807970779778824,
    5.0: 0.9933071490757152,
    20.0: 0.9999999979388464,
}


def _reference_sigmoid(x: np.ndarray) -> np.ndarray:
    """σ through the identity σ(x) = (1 + tanh(x/2)) / 2: accurate to ~1e-16 absolute everywhere."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def _check_basic_sigmoid(sigmoid: Callable[[Any], Any], name: str) -> None:
    expect_callable(sigmoid, name)
    xs = np.array(sorted(k for k in _SIGMOID_FACTS if abs(k) <= 5))  # (7,)
    try:
        got = as_array(sigmoid(xs.copy()), f"{name}(array)")
    except TypeError as exc:
        raise CheckFailed(
            f"{name} raised TypeError on a numpy array ({exc}); use np.exp, which works element by element, "
            "not math.exp"
        ) from None
    expect_shape(got, xs.shape, f"{name}(np.array of shape {xs.shape})")
    zero = float(got[list(xs).index(0.0)])
    if np.allclose(got, 1.0 + np.exp(-xs)):
        raise CheckFailed(
            f"{name}(0) returned {zero:.6g}, and every value is 1 + e^(−x): `1 / 1 + np.exp(-x)` divides "
            "1 by 1 first; write 1 / (1 + np.exp(-x))"
        )
    if not math.isclose(zero, 0.5, abs_tol=1e-12):
        raise CheckFailed(f"{name}(0) returned {zero:.6g}; expected 0.5 (e⁰ = 1)")
    two = float(got[list(xs).index(2.0)])
    if math.isclose(two, _SIGMOID_FACTS[-2.0], rel_tol=1e-9):
        raise CheckFailed(
            f"{name}(2) returned {two:.6g}; expected {_SIGMOID_FACTS[2.0]:.6g} — check the sign inside exp"
        )
    for x, g in zip(xs, got, strict=True):
        want = _SIGMOID_FACTS[float(x)]
        if not math.isclose(float(g), want, rel_tol=1e-9, abs_tol=1e-15):
            raise CheckFailed(f"{name}({x:g}) returned {float(g):.10g}; expected {want:.10g}")
    grid = np.linspace(-6.0, 6.0, 24).reshape(4, 6)  # (4, 6): shape must come back unchanged
    out = expect_close(
        sigmoid(grid.copy()),
        _reference_sigmoid(grid),
        f"{name}(array of shape (4, 6))",
        atol=1e-12,
        rtol=1e-9,
    )
    mirrored = as_array(sigmoid(-grid), f"{name}(-x)")  # (4, 6)
    if not np.allclose(mirrored + out, 1.0, atol=1e-12):
        raise CheckFailed(f"{name}(-x) should equal 1 - {name}(x) for every x")


@checker("step2.sigmoid")
def check_sigmoid(sigmoid: Callable[[Any], Any]) -> str:
    _check_basic_sigmoid(sigmoid, "sigmoid")
    return "right values at 7 points, element-wise on arrays, and σ(-x) = 1 - σ(x)"


@checker("step2.sigmoid_prime")
def check_sigmoid_prime(sigmoid_prime: Callable[[Any], Any]) -> str:
    expect_callable(sigmoid_prime, "sigmoid_prime")
    at_zero = float(as_array(sigmoid_prime(np.array([0.0])), "sigmoid_prime(0)").reshape(-1)[0])
    if math.isclose(at_zero, 0.0, abs_tol=1e-12):
        raise CheckFailed(
            "sigmoid_prime(0) returned 0; expected 0.25 — the formula σ(x)(1 - σ(x)) "
            "is applied to σ(x), not to x"
        )
    if math.isclose(at_zero, 0.75, abs_tol=1e-9):
        raise CheckFailed("sigmoid_prime(0) returned 0.75; expected 0.25 — it is σ(x) times (1 MINUS σ(x))")
    if not math.isclose(at_zero, 0.25, abs_tol=1e-9):
        raise CheckFailed(f"sigmoid_prime(0) returned {at_zero:.6g}; expected 0.25, the steepest slope of σ")
    xs = np.linspace(-8.0, 8.0, 33)  # (33,)
    # d/dx_i of sum_j σ(x_j) is σ'(x_i): one numerical gradient gives every slope at once.
    slopes = numerical_gradient(lambda v: float(np.sum(_reference_sigmoid(v))), xs)  # (33,)
    got = expect_close(
        sigmoid_prime(xs.copy()),
        slopes,
        "sigmoid_prime(np.linspace(-8, 8, 33))",
        atol=1e-8,
        rtol=1e-6,
        hint="compared with a numerical derivative of σ",
    )
    if np.any(got <= 0) or np.any(got > 0.25 + 1e-12):
        raise CheckFailed("σ'(x) must lie in (0, 0.25] for every x")
    return f"matches numerical derivatives of σ at 33 points (largest gap {np.max(np.abs(got - slopes)):.1e})"


def _source(fn: Callable[..., Any]) -> str:
    """``fn``'s source code, or "" where Python cannot find it (builtins, lambdas typed in a REPL)."""
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return ""


def _silences_warnings(fn: Callable[..., Any]) -> str | None:
    """The name of a warning switch in ``fn``'s source, if the learner turned warnings off."""
    source = _source(fn)
    for word in ("errstate", "seterr", "filterwarnings", "simplefilter", "catch_warnings"):
        if word in source:
            return word
    return None


@checker("step2.stable_sigmoid")
def check_stable_sigmoid(stable_sigmoid: Callable[[Any], Any]) -> str:
    expect_callable(stable_sigmoid, "stable_sigmoid")
    switch = _silences_warnings(stable_sigmoid)
    if switch is not None:
        raise CheckFailed(
            f"stable_sigmoid uses `{switch}`: hiding the overflow warning is not the same as avoiding the "
            "overflow. Never let exp see a large positive number"
        )
    extreme = "σ(-1000) is 0.0 and σ(1000) is 1.0 in floating point; clipping x changes the answer"
    precise = "σ(−30) is about 9.36e−14, σ(30) about 1 − 9.36e−14"
    cases: list[tuple[str, Any, Any, str]] = [
        ("stable_sigmoid(-1000.0)", -1000.0, 0.0, extreme),
        ("stable_sigmoid(1000.0)", 1000.0, 1.0, extreme),
        ("stable_sigmoid(-30.0)", -30.0, _SIGMOID_FACTS[-30.0], precise),
        (
            "stable_sigmoid(np.array([-1000, -30, -1, 0, 1, 30, 1000.0]))",
            np.array([-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0]),
            np.array(
                [
                    0.0,
                    _SIGMOID_FACTS[-30.0],
                    _SIGMOID_FACTS[-1.0],
                    0.5,
                    _SIGMOID_FACTS[1.0],
                    1.0 - _SIGMOID_FACTS[-30.0],
                    1.0,
                ]
            ),
            precise,
        ),
        (
            "stable_sigmoid(np.array([[-800.0], [800.0]]))",
            np.array([[-800.0], [800.0]]),
            np.array([[0.0], [1.0]]),
            extreme,
        ),
    ]
    uses_where = "where" in _source(stable_sigmoid)
    for what, x, want, hint in cases:
        arg = x.copy() if isinstance(x, np.ndarray) else x
        try:
            # Overflow anywhere (even in a branch np.where throws away) fails the check.
            with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                value = stable_sigmoid(arg)
        except (FloatingPointError, RuntimeWarning, OverflowError) as exc:
            note = (
                "; note that np.where computes BOTH branches for every element, so the unsafe one still runs"
                if uses_where
                else ""
            )
            raise CheckFailed(
                f"{what} overflowed ({exc}): exp of a large positive number is inf. Arrange the formula so "
                f"exp only ever sees numbers ≤ 0{note}"
            ) from None
        except TypeError as exc:
            raise CheckFailed(
                f"{what} raised TypeError ({exc}); it must work on numbers and on numpy arrays "
                "(np.asarray, np.exp, boolean masks)"
            ) from None
        if isinstance(x, np.ndarray) and not np.array_equal(arg, x):
            raise CheckFailed(f"{what} changed its input array in place; write the result into a new array")
        arr = as_array(value, what)
        if np.any(np.isnan(arr)):
            raise CheckFailed(f"{what} contains nan; expected no nan anywhere")
        # Absolute accuracy near 1e-16 is all the text asks for: 0.5 * (1 + tanh(x / 2)) is exact
        # to that, though it cannot keep σ(−30)'s relative precision.
        expect_close(arr, want, what, atol=1e-15, rtol=1e-6, hint=hint)
    _check_basic_sigmoid(stable_sigmoid, "stable_sigmoid")
    return "0.0 and 1.0 at ∓1000 with no overflow, full precision at -30, right on ordinary inputs"
