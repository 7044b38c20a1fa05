"""Checkers for step 2, "Getting Technical": linear algebra by hand, derivatives, the sigmoid.

Every expected value here is a fact: a product computed by ``np.matmul``, an analytic
derivative, a known value of the logistic function (computed to 40 digits once), or a
numerical gradient. Inputs are random but seeded, with non-square shapes so that a mix-up
of rows and columns cannot pass by accident.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, expect_close, expect_shape, numerical_gradient

_RNG_SEED = 20160102


def _rng() -> np.random.Generator:
    return np.random.default_rng(_RNG_SEED)


def _shape(a: np.ndarray) -> str:
    return str(tuple(a.shape))


def _expect_value_error(call: Callable[[], Any], what: str, why: str) -> None:
    """The learner's function must refuse incompatible shapes with a ValueError."""
    try:
        call()
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as exc:  # any other exception from the learner's code is the wrong kind
        raise CheckFailed(
            f"{what} raised {type(exc).__name__}; expected ValueError because {why} — "
            "check the shapes first and `raise ValueError(...)` with a clear message"
        ) from None
    raise CheckFailed(
        f"{what} returned a result; expected ValueError because {why} — "
        "a product of incompatible shapes is undefined, so refuse it"
    )


def _compatible_call(
    fn: Callable[[np.ndarray, np.ndarray], Any], a: np.ndarray, b: np.ndarray, what: str, why: str
) -> Any:
    """Call ``fn`` on copies of compatible operands; a ValueError here is the learner's mistake."""
    try:
        return fn(a.copy(), b.copy())
    except ValueError as exc:
        raise CheckFailed(
            f"{what} raised ValueError ({exc}) although these shapes fit: {why}. "
            "(Note that `*` multiplies element by element, which is not a matrix product.)"
        ) from None


# ------------------------------------------------------------------------------ linear algebra


@checker("step2.matvec")
def check_matvec(matvec: Callable[[np.ndarray, np.ndarray], Any]) -> str:
    expect_callable(matvec, "matvec")
    rng = _rng()
    for m, n in [(3, 4), (4, 3), (1, 5), (5, 1), (4, 4)]:
        A = rng.normal(size=(m, n))  # (m, n)
        x = rng.normal(size=n)  # (n,)
        what = f"matvec(A of shape {(m, n)}, x of shape {(n,)})"
        got = as_array(_compatible_call(matvec, A, x, what, f"A has {n} columns and x has {n} entries"), what)
        if got.shape == (m, n):
            raise CheckFailed(
                f"{what} has shape {got.shape}; expected {(m,)} — you kept every product A[i, j] * x[j]; "
                "each entry of the answer is the SUM over one row"
            )
        expect_shape(got, (m,), what)
        want = np.matmul(A, x)  # (m,)
        expect_close(got, want, what, hint="entry i is the dot product of row i of A with x")
    _expect_value_error(
        lambda: matvec(np.ones((3, 4)), np.ones(3)),
        "matvec(A of shape (3, 4), x of shape (3,))",
        "A has 4 columns but x has 3 entries",
    )
    _expect_value_error(
        lambda: matvec(np.ones((3, 4)), np.ones(5)),
        "matvec(A of shape (3, 4), x of shape (5,))",
        "A has 4 columns but x has 5 entries",
    )
    return "matches np.matmul on 5 shapes (square and not) and refuses mismatched shapes"


@checker("step2.matmul")
def check_matmul(matmul: Callable[[np.ndarray, np.ndarray], Any]) -> str:
    expect_callable(matmul, "matmul")
    rng = _rng()
    for m, k, n in [(2, 3, 4), (4, 3, 2), (1, 3, 1), (3, 1, 2), (4, 4, 4)]:
        A = rng.normal(size=(m, k))  # (m, k)
        B = rng.normal(size=(k, n))  # (k, n)
        what = f"matmul(A of shape {(m, k)}, B of shape {(k, n)})"
        got = as_array(_compatible_call(matmul, A, B, what, f"A has {k} columns and B has {k} rows"), what)
        want = np.matmul(A, B)  # (m, n)
        if got.shape == (n, m) and m != n:
            raise CheckFailed(
                f"{what} has shape {got.shape}; expected {(m, n)} — the result has one row per row of A "
                "and one column per column of B (did you build it transposed?)"
            )
        expect_shape(got, (m, n), what)
        right = np.allclose(got, want)
        if m == k == n and not right and np.allclose(got, A * B):
            raise CheckFailed(
                f"{what} equals the element-wise product A * B; a matrix product combines row i of A "
                "with column j of B"
            )
        if m == n and not right and np.allclose(got, want.T):
            raise CheckFailed(f"{what} is the transpose of the right answer — swap the roles of i and j")
        expect_close(got, want, what, hint="entry [i, j] is the dot product of row i of A with column j of B")
    _expect_value_error(
        lambda: matmul(np.ones((2, 3)), np.ones((2, 3))),
        "matmul(A of shape (2, 3), B of shape (2, 3))",
        "A has 3 columns but B has 2 rows",
    )
    _expect_value_error(
        lambda: matmul(np.ones((3, 2)), np.ones((3, 2))),
        "matmul(A of shape (3, 2), B of shape (3, 2))",
        "A has 2 columns but B has 3 rows",
    )
    return "matches np.matmul on 5 shape combinations, outer product included, and refuses mismatches"


@checker("step2.transpose")
def check_transpose(transpose: Callable[[np.ndarray], Any]) -> str:
    expect_callable(transpose, "transpose")
    rng = _rng()
    for shape in [(2, 3), (3, 2), (1, 4), (4, 1), (3, 3)]:
        A = rng.normal(size=shape)
        what = f"transpose(A of shape {shape})"
        got = as_array(transpose(A.copy()), what)
        want_shape = (shape[1], shape[0])
        expect_shape(got, want_shape, what)
        if shape[0] == shape[1] and np.allclose(got, A):
            raise CheckFailed(f"{what} returned the matrix unchanged; row i should become column i")
        if min(shape) > 1 and np.allclose(got, A.reshape(want_shape)):
            raise CheckFailed(
                f"{what} has the right shape but is a reshape: the numbers are still in row-by-row "
                "order. A transpose turns row i into column i"
            )
        expect_close(got, A.T, what, hint="entry [j, i] of the result is entry [i, j] of A")
    A = rng.normal(size=(2, 3))
    B = rng.normal(size=(3, 4))
    lhs = as_array(transpose(A @ B), "transpose(A @ B)")
    expect_close(lhs, B.T @ A.T, "transpose(A @ B)", hint="(AB)ᵀ should equal BᵀAᵀ")
    return "right on 5 shapes, and (AB)ᵀ = BᵀAᵀ holds"


@checker("step2.center_columns")
def check_center_columns(center_columns: Callable[[np.ndarray], Any]) -> str:
    expect_callable(center_columns, "center_columns")
    rng = _rng()
    for n, d in [(6, 3), (4, 4), (2, 5)]:
        X = rng.normal(size=(n, d)) + rng.uniform(-10, 10, size=d)  # (n, d), columns far from 0
        original = X.copy()
        what = f"center_columns(X of shape {(n, d)})"
        try:
            got = as_array(center_columns(X), what)
        except ValueError as exc:
            raise CheckFailed(
                f"{what} raised ValueError ({exc}); the column means have shape ({d},) and must line up "
                "with the last axis of X — which axis did you average over?"
            ) from None
        if not np.array_equal(X, original):
            raise CheckFailed(f"{what} changed X in place; return a new array and leave the data alone")
        expect_shape(got, (n, d), what)
        col_means = got.mean(axis=0)  # (d,)
        if not np.allclose(col_means, 0.0, atol=1e-9):
            j = int(np.argmax(np.abs(col_means)))
            if np.allclose(got.mean(axis=1), 0.0, atol=1e-9):
                raise CheckFailed(
                    f"{what}: every ROW now has mean 0, but column {j} has mean {col_means[j]:.4g}; "
                    "centre each column (average down the rows, axis=0)"
                )
            if np.allclose(got, X - X.mean()):
                raise CheckFailed(
                    f"{what}: you subtracted one overall mean; each column needs its own mean "
                    f"(column {j} still has mean {col_means[j]:.4g})"
                )
            raise CheckFailed(f"{what}: column {j} has mean {col_means[j]:.4g}; expected 0 for every column")
        shift = got - X  # (n, d): must be the same row vector in every row
        if not np.allclose(shift, shift[0], atol=1e-9):
            raise CheckFailed(
                f"{what}: the columns have mean 0, but the values were not just shifted; "
                "subtract the same number from every entry of a column"
            )
    return "every column ends with mean 0, only shifted, X untouched (square and non-square)"


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
    precise = "tiny values must keep their relative precision (computing 1 - σ(-x) loses it)"
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
        expect_close(arr, want, what, atol=0.0, rtol=1e-6, hint=hint)
    _check_basic_sigmoid(stable_sigmoid, "stable_sigmoid")
    return "0.0 and 1.0 at ∓1000 with no overflow, full precision at -30, right on ordinary inputs"
