"""Checkers for notebook 03: the gradient by central differences, the chain rule along one path
and along two, and the critical learning rate of a quadratic bowl.

Facts: analytic gradients written out below for each test function; derivatives of the chain-rule
exercises taken numerically by the course's own helper at many random points; eigenvalues of the
symmetric part of the matrix from ``np.linalg.eigvalsh``. Known wrong formulas are computed only
to name the cause of a failure, never to decide it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, expect_close, expect_formula, numerical_gradient

from ._common import _rng


def _logistic(z: Any) -> Any:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))  # σ(z) without overflow warnings


def _one_number(value: Any, what: str) -> float:
    if isinstance(value, complex) or np.iscomplexobj(value):
        raise CheckFailed(
            f"{what} returned a complex number ({value}); the answer is real — np.linalg.eig of a "
            "non-symmetric matrix can give complex eigenvalues, eigh/eigvalsh of a symmetric one never does"
        )
    arr = as_array(value, what)
    if arr.size != 1:
        raise CheckFailed(f"{what} returned an array of shape {arr.shape}; expected a single number")
    return float(arr.reshape(()))


# ------------------------------------------------------------------------------ the gradient


def _call_gradient(
    numerical_gradient_fn: Callable[..., Any],
    f: Callable[[np.ndarray], Any],
    x: np.ndarray,
    what: str,
    h: float | None = None,
) -> np.ndarray:
    """Call the learner's function on a copy of ``x``; check it left ``x`` alone and kept its shape."""
    arg = x.copy()
    value = numerical_gradient_fn(f, arg) if h is None else numerical_gradient_fn(f, arg, h=h)
    if not np.array_equal(arg, x):
        raise CheckFailed(
            f"{what} changed the caller's x: it was {x.tolist()} before the call and {arg.tolist()} after. "
            "Nudge a float copy of x (or build x + h·eᵢ as a new array) instead of adding to x itself"
        )
    if isinstance(value, (list, tuple)):
        raise CheckFailed(
            f"{what} returned a {type(value).__name__}; return a numpy array of x's shape "
            "(start from np.zeros(x.shape)), so that `w - lr * grad` works in step 3"
        )
    got = as_array(value, what)
    if got.shape != x.shape:
        why = (
            " — return one partial derivative per ENTRY of x, in x's own shape (np.ndindex(x.shape) "
            "visits every entry of an array of any shape)"
            if got.size == x.size
            else " — one partial derivative per entry of x"
        )
        raise CheckFailed(f"{what} has shape {got.shape}; expected {x.shape}, the shape of x{why}")
    return got


def _cubic(v: np.ndarray) -> Any:
    return v[0] ** 3 + v[0] * v[1] ** 2 + 2 * v[1]


@checker("step2.numerical_gradient")
def check_numerical_gradient(numerical_gradient_fn: Callable[..., Any]) -> str:
    expect_callable(numerical_gradient_fn, "numerical_gradient")
    # f(x, y) = x³ + x y² + 2y at (1.5, -2) with the large h = 0.1 tells formulas apart exactly:
    # central differences are off by (h²/6)·∂³f/∂x³ = h² in x and exact in y (f is quadratic in y).
    x0 = np.array([1.5, -2.0])
    h = 0.1
    what = "numerical_gradient(f, [1.5, -2.0], h=0.1) for f(x, y) = x³ + x·y² + 2y"
    got = _call_gradient(numerical_gradient_fn, _cubic, x0, what, h=h)
    exact = np.array([10.75, -4.0])  # (3x² + y², 2xy + 2)
    central = exact + np.array([h * h, 0.0])
    if not np.allclose(got, central, atol=1e-9, rtol=0):
        shown = f"{what} returned {np.round(got, 6).tolist()}"
        if np.allclose(got, exact + np.array([3 * 1.5 * h + h * h, 1.5 * h]), atol=1e-9):
            raise CheckFailed(
                f"{shown}: that is the FORWARD difference (f(x + h·eᵢ) - f(x)) / h, whose error shrinks "
                "only like h; step to both sides of x, as in notebook 02"
            )
        if np.allclose(got, 2 * central, atol=1e-9):
            raise CheckFailed(
                f"{shown}, twice the slopes: x + h·eᵢ and x - h·eᵢ are 2h apart, so divide by 2h"
            )
        if np.allclose(got, central * h * h, atol=1e-9):
            raise CheckFailed(
                f"{shown}, the slopes times h²: `/ 2 * h` divides by 2 and then multiplies by h; "
                "write / (2 * h)"
            )
        if np.allclose(got, exact, atol=1e-6):
            raise CheckFailed(
                f"{shown}; with h=0.1 central differences give exactly {central.tolist()} here — "
                "does your function ignore its `h` argument?"
            )
        raise CheckFailed(f"{shown}; expected {central.tolist()} (central differences with h=0.1)")

    # With the default h the answer must match the analytic gradient closely.
    rng = _rng()
    u = rng.normal(size=4)  # (4,)
    p = rng.normal(size=7)  # (7,)
    cases: list[tuple[str, Callable[[np.ndarray], Any], np.ndarray, Callable[[np.ndarray], np.ndarray]]] = [
        (
            "f(x, y) = x²·y + sin(x·y) at (0.7, -1.3)",
            lambda v: v[0] ** 2 * v[1] + np.sin(v[0] * v[1]),
            np.array([0.7, -1.3]),
            lambda v: np.array(
                [
                    2 * v[0] * v[1] + v[1] * np.cos(v[0] * v[1]),
                    v[0] ** 2 + v[0] * np.cos(v[0] * v[1]),
                ]
            ),
        ),
        (
            "f(x, y) = (1 - x)² + 10·(y - x²)² at (-0.8, 1.1)",
            lambda v: (1 - v[0]) ** 2 + 10 * (v[1] - v[0] ** 2) ** 2,
            np.array([-0.8, 1.1]),
            lambda v: np.array([-2 * (1 - v[0]) - 40 * v[0] * (v[1] - v[0] ** 2), 20 * (v[1] - v[0] ** 2)]),
        ),
        (
            "f(w) = log(Σ exp(wᵢ)) for w of 7 numbers",
            lambda v: np.log(np.sum(np.exp(v))),
            p,
            lambda v: np.exp(v) / np.sum(np.exp(v)),  # the softmax
        ),
        (
            "f(W) = Σ tanh(W @ u) for a (3, 4) matrix W",
            lambda W: np.sum(np.tanh(W @ u)),
            rng.normal(size=(3, 4)),
            lambda W: (1 - np.tanh(W @ u) ** 2)[:, None] * u[None, :],  # (3, 4)
        ),
        (
            "f(x, y) = x²·y at the INTEGER array np.array([2, 3])",
            lambda v: v[0] ** 2 * v[1],
            np.array([2, 3]),
            lambda v: np.array([2.0 * v[0] * v[1], float(v[0] ** 2)]),
        ),
    ]
    worst = 0.0
    for label, f, x, grad in cases:
        what = f"numerical_gradient for {label}"
        got = _call_gradient(numerical_gradient_fn, f, x, what)
        want = grad(x)
        if x.dtype.kind == "i" and np.allclose(got, 0.0):
            raise CheckFailed(
                f"{what} returned {got.tolist()}; expected {want.tolist()}. Adding h = 1e-5 to an entry "
                "of an integer array rounds it away (np.zeros_like(x) of an integer x is an integer array "
                "too): work with np.array(x, dtype=float)"
            )
        err = np.abs(got - want) / (1e-3 + np.abs(want))
        if not np.all(np.isfinite(got)) or np.max(err) > 1e-6:
            hint = (
                "off by about h times the second derivative: is it a one-sided (forward) difference?"
                if np.all(np.isfinite(got)) and np.max(err) > 1e-7
                else ""
            )
            expect_close(
                got, want, what, atol=1e-9, rtol=1e-6, hint=hint or "compared with the analytic gradient"
            )
        worst = max(worst, float(np.max(err)))
    return (
        f"exact central differences with h=0.1, and within {worst:.0e} (relative) of 5 analytic "
        "gradients, a (3, 4) matrix input included; x left unchanged"
    )


# ------------------------------------------------------------------------------ the chain rule


def _loss(w: float, b: float, x: float, t: float) -> float:
    return float(0.5 * (_logistic(w * x + b) - t) ** 2)


def _loss_of_wb(x: float, t: float) -> Callable[[np.ndarray], float]:
    return lambda v: _loss(v[0], v[1], x, t)


def _neuron_points() -> list[tuple[float, float, float, float]]:
    rng = _rng()
    pts = [(0.5, -0.3, 1.2, 1.0), (-1.0, 0.4, -2.0, 0.0)]
    for _ in range(40):
        w, b, x = rng.normal(0.0, 1.5, size=3)
        pts.append((float(w), float(b), float(x), float(rng.integers(0, 2))))
    return pts


@checker("step2.chain_rule")
def check_chain_rule(neuron_grad: Callable[..., Any]) -> str:
    expect_callable(neuron_grad, "neuron_grad")
    points = _neuron_points()
    for w, b, x, t in points:
        what = f"neuron_grad(w={w:.3g}, b={b:.3g}, x={x:.3g}, t={t:g})"
        value = neuron_grad(w, b, x, t)
        got = as_array(value, what).reshape(-1)
        if got.shape != (2,):
            raise CheckFailed(f"{what} returned {got.size} numbers; expected 2: [dL/dw, dL/db]")
        want = numerical_gradient(_loss_of_wb(x, t), np.array([w, b]))  # (2,)
        if np.allclose(got, want, atol=1e-7, rtol=1e-5):
            y = float(_logistic(w * x + b))
            delta = (y - t) * y * (1 - y)  # dL/dz, exact
            expect_formula(got, [delta * x, delta], what)
            continue
        shown = (
            f"{what} returned {np.round(got, 6).tolist()}; dL/dw and dL/db are {np.round(want, 6).tolist()}"
        )
        y = float(_logistic(w * x + b))
        slope = y * (1 - y)
        guesses = [
            (
                np.array([-want[0], -want[1]]),
                "the sign is flipped: dL/dy of ½(y - t)² is (y - t), not (t - y)",
            ),
            (
                np.array([(y - t) * slope, (y - t) * slope]),
                "dL/dw misses the inner derivative: z = w·x + b changes by x when w changes by 1, "
                "so dz/dw = x joins the product",
            ),
            (
                np.array([(y - t) * x, y - t]),
                "the sigmoid's own slope σ'(z) = y(1 - y) is missing from the chain (dy/dz)",
            ),
            (
                np.array([(y - t) * w * (1 - w) * x, (y - t) * w * (1 - w)]),
                "σ'(z) = y(1 - y) must be taken at the neuron's output y = σ(w·x + b), not at w",
            ),
        ]
        for wrong, why in guesses:
            if np.allclose(got, wrong, atol=1e-7, rtol=1e-5):
                raise CheckFailed(f"{shown} — {why}")
        raise CheckFailed(
            f"{shown} (numerical derivatives) — multiply dL/dy · dy/dz · dz/dw, "
            "one factor per link of the chain"
        )
    return f"matches numerical derivatives of L at {len(points)} random (w, b, x, t)"


def _shared(w: float, x: float) -> float:
    return float(w * _logistic(w * x))


def _shared_of_w(x: float) -> Callable[[np.ndarray], float]:
    return lambda v: _shared(v[0], x)


@checker("step2.total_derivative")
def check_total_derivative(dy_dw: Callable[..., Any]) -> str:
    expect_callable(dy_dw, "dy_dw")
    rng = _rng()
    points = [(0.8, 1.5), (-1.2, 0.5)] + [(float(a), float(c)) for a, c in rng.normal(0.0, 1.5, size=(40, 2))]
    for w, x in points:
        what = f"dy_dw(w={w:.3g}, x={x:.3g})"
        got = _one_number(dy_dw(w, x), what)
        want = float(numerical_gradient(_shared_of_w(x), np.array([w]))[0])
        if math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-7):
            h = float(_logistic(w * x))
            expect_formula(got, h + w * h * (1 - h) * x, what)  # the two paths, exact
            continue
        h = float(_logistic(w * x))
        through_h = w * h * (1 - h) * x
        shown = f"{what} returned {got:.6g}; the numerical derivative of y = w·σ(w·x) is {want:.6g}"
        guesses = [
            (
                h,
                "that is only the path where w multiplies h directly; w also changes h = σ(w·x) — "
                "add that path",
            ),
            (
                through_h,
                "that is only the path through h = σ(w·x); w also multiplies h directly — add ∂y/∂w = h",
            ),
            (
                h * through_h,
                "the two paths are multiplied; each path's contribution is a product, the paths ADD",
            ),
            (
                h + w * h * (1 - h),
                "the path through h misses the inner derivative: d(w·x)/dw = x belongs in its product",
            ),
        ]
        for wrong, why in guesses:
            if math.isclose(got, wrong, rel_tol=1e-5, abs_tol=1e-7):
                raise CheckFailed(f"{shown} — {why}")
        raise CheckFailed(f"{shown} — add one product of local derivatives for each path from w to y")
    return f"matches numerical derivatives at {len(points)} random (w, x): both paths counted"


# ------------------------------------------------------------------------------ the critical learning rate


def _spd(eigenvalues: list[float], seed: int) -> np.ndarray:
    """A symmetric positive definite matrix with known eigenvalues and rotated eigenvectors."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(len(eigenvalues), len(eigenvalues))))
    A: np.ndarray = (q * np.asarray(eigenvalues, dtype=float)) @ q.T
    return A


def _descent_report(M: np.ndarray, lr: float, steps: int = 300) -> str:
    """What ``steps`` steps of gradient descent on ½ wᵀMw do to |w| from a fixed unit start."""
    S = 0.5 * (M + M.T)  # (d, d) the gradient of ½ wᵀMw is S w
    w = np.cos(np.arange(len(M)) + 0.3)  # (d,) a start with a component along every axis of the bowl
    w = w / np.linalg.norm(w)
    for k in range(1, steps + 1):
        w = w - lr * (S @ w)
        if np.linalg.norm(w) > 1e6:
            return f"gradient descent with lr = {lr:.4g} diverges: |w| grows from 1 past 1e6 in {k} steps"
    norm = float(np.linalg.norm(w))
    verdict = "still converges" if norm < 1 else "diverges"
    return f"gradient descent with lr = {lr:.4g} {verdict}: |w| goes from 1 to {norm:.3g} in {steps} steps"


@checker("step2.critical_rate")
def check_critical_rate(critical_rate: Callable[..., Any]) -> str:
    expect_callable(critical_rate, "critical_rate")
    antisym = np.array([[0.0, 1.5, -0.5], [-1.5, 0.0, 2.0], [0.5, -2.0, 0.0]])  # adds nothing to wᵀMw
    cases = [
        ("the symmetric 2x2 M = [[2, 1.5], [1.5, 2]]", np.array([[2.0, 1.5], [1.5, 2.0]])),
        ("a symmetric 4x4 M", _spd([0.2, 1.0, 3.0, 6.0], 3)),
        ("a NON-symmetric 3x3 M", _spd([0.5, 2.0, 5.0], 4) + antisym),
    ]
    for label, M in cases:
        what = f"critical_rate(M) for {label}"
        arg = M.copy()
        with np.errstate(all="ignore"):
            got = _one_number(critical_rate(arg), what)
        if not np.array_equal(arg, M):
            raise CheckFailed(f"{what} changed M in place; leave the caller's matrix as it was")
        S = 0.5 * (M + M.T)
        lam = np.linalg.eigvalsh(S)  # ascending
        want = 2.0 / float(lam[-1])
        if math.isclose(got, want, rel_tol=1e-6):
            continue
        shown = f"{what} returned {got:.6g}"
        if 0 < got < 1e6:  # show what descent does just beyond the learner's answer, in their numbers
            shown += f" ({_descent_report(M, 0.99 * got if got > want else 1.05 * got)})"
        raise CheckFailed(f"{shown}; " + _why_rate_wrong(got, M, S))
    return "2 / (largest eigenvalue of the symmetric part): right for symmetric and non-symmetric M"


def _why_rate_wrong(got: float, M: np.ndarray, S: np.ndarray) -> str:
    lam = np.linalg.eigvalsh(S)
    L, m = float(lam[-1]), float(lam[0])

    def near(x: float) -> bool:
        return math.isclose(got, x, rel_tol=1e-6)

    if near(1 / L):
        return (
            "that is 1/λ_max, where the steepest direction is wiped out in ONE step; descent still "
            "converges (zig-zagging) above it — for which factors r does r^k still shrink to 0? "
            "(Or you took the eigenvalues of M + Mᵀ without the ½ of the symmetric part.)"
        )
    if near(2 / m):
        return "that rate suits the flattest direction; the steepest one (largest eigenvalue) blows up first"
    if near(2 / float(np.max(np.diag(M)))) or near(2 / float(np.trace(M))):
        return "the diagonal of M does not give the curvatures of a rotated bowl — use eigenvalues"
    if not np.allclose(M, M.T):
        lower = np.linalg.eigvalsh(M)  # what eigh sees: the lower triangle, mirrored
        eig = np.linalg.eigvals(M)
        if near(2 / float(lower[-1])):
            return (
                "np.linalg.eigh/eigvalsh read only the LOWER triangle of the matrix and assume it is "
                "symmetric; this M is not. The gradient of ½ wᵀMw is ½(M + Mᵀ)w: use the eigenvalues of "
                "that symmetric part"
            )
        if near(2 / float(np.max(eig.real))) or near(2 / float(np.max(np.abs(eig)))):
            return (
                "those are eigenvalues of M itself; for a non-symmetric M the gradient of ½ wᵀMw is "
                "½(M + Mᵀ)w, so the curvatures are the eigenvalues of the symmetric part ½(M + Mᵀ)"
            )
    return "find the rate at which the factor (1 - lr·λ) of the steepest direction stops shrinking the error"
