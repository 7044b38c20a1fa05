"""Checkers for notebook 01: a gradient-descent step, the loop with a tolerance, the 2/L bound.

Facts: the closed form of gradient descent on a quadratic (minimum, exact number of steps until
the gradient is small, the 2/L step-size limit) and a Rosenbrock-like valley with minimum (1, 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, expect_close, expect_shape

from ._common import expect_scalar, unpack_pair


def _quadratic(A: np.ndarray, c: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Gradient of f(x) = 1/2 (x - c)^T A (x - c)."""
    return lambda x: A @ (np.asarray(x, dtype=float) - c)


def _steps_until_small(A: np.ndarray, c: np.ndarray, x0: np.ndarray, lr: float, tol: float) -> int:
    """Closed form: along eigenvector i the error is multiplied by (1 - lr * lam_i) per step."""
    lam, V = np.linalg.eigh(A)
    z = V.T @ (x0 - c)
    for k in range(100_000):
        if np.linalg.norm(lam * (1 - lr * lam) ** k * z) < tol:
            return k
    raise AssertionError("the checker's own case does not converge")  # pragma: no cover


def _near_tol(A: np.ndarray, c: np.ndarray, x0: np.ndarray, lr: float, tol: float, k: int) -> bool:
    """Whether the gradient norm after k - 1 or k steps is so close to tol that rounding may decide."""
    lam, V = np.linalg.eigh(A)
    z = V.T @ (x0 - c)
    norms = [np.linalg.norm(lam * (1 - lr * lam) ** j * z) for j in (max(k - 1, 0), k)]
    return any(abs(norm / tol - 1) < 1e-6 for norm in norms)


@checker("step3.gd_step")
def check_gd_step(gd_step: Callable[..., Any]) -> str:
    expect_callable(gd_step, "gd_step")
    c = np.array([1.0, -2.0])
    grad = lambda x: 2.0 * (x - c)  # noqa: E731 - f(x) = |x - c|^2
    x = np.array([3.0, 1.0])
    what = "gd_step(x=[3, 1], grad, lr=0.25) with f(x) = |x - [1, -2]|^2"
    got = expect_shape(gd_step(x, grad, 0.25), (2,), what)
    if not np.array_equal(x, [3.0, 1.0]):
        raise CheckFailed(
            "gd_step changed the x you passed in; return a new array (`x - ...`, not `x -= ...`) "
            "so that earlier points of a path stay as they were"
        )
    if np.allclose(got, [4.0, 2.5]):
        raise CheckFailed(f"{what} moved uphill to {got.tolist()}; a descent step goes AGAINST the gradient")
    expect_close(
        got, [2.0, -0.5], what, hint="the new point is the old one minus lr times the gradient there"
    )
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    x = np.array([0.5, -1.5, 2.0])

    def grad3(v: np.ndarray) -> np.ndarray:
        return np.array([v[0] ** 3, np.sin(v[1]), 4.0])

    got = expect_shape(gd_step(x, grad3, 0.1), (3,), "gd_step on a 3-D point")
    expect_close(got, x - 0.1 * grad3(x), "gd_step(x=[0.5, -1.5, 2], grad, lr=0.1) on another function")
    got = gd_step(np.array([2.0, 0.0]), _quadratic(A, np.zeros(2)), 0.0)
    expect_close(got, [2.0, 0.0], "gd_step with lr=0", hint="a learning rate of 0 must not move the point")
    return "a step goes against the gradient, scaled by the learning rate"


@checker("step3.gradient_descent")
def check_gradient_descent(gradient_descent: Callable[..., Any]) -> str:
    expect_callable(gradient_descent, "gradient_descent")
    cases = [
        ("f(x) = 2 (x - 3)^2 from x0 = [0]", np.array([[4.0]]), np.array([3.0]), np.array([0.0]), 0.1, 1e-6),
        (
            "a 2-D bowl with minimum [1, -2] from x0 = [-2, 2]",
            np.array([[3.0, 1.0], [1.0, 2.0]]),
            np.array([1.0, -2.0]),
            np.array([-2.0, 2.0]),
            0.2,
            1e-8,
        ),
        (
            "f(x) = 2 (x - 3)^2 started AT its minimum",
            np.array([[4.0]]),
            np.array([3.0]),
            np.array([3.0]),
            0.1,
            1e-6,
        ),
    ]
    for label, A, c, x0, lr, tol in cases:
        what = f"gradient_descent on {label} (lr={lr}, tol={tol:g})"
        x, n = unpack_pair(
            gradient_descent(_quadratic(A, c), x0.copy(), lr, tol=tol, max_iters=10_000), what, "(x, n_iters)"
        )
        x = expect_shape(x, c.shape, f"{what}: x")
        n = _count(n, what)
        want = _steps_until_small(A, c, x0, lr, tol)
        if n == 10_000:
            raise CheckFailed(
                f"{what} ran all 10000 iterations; the gradient norm falls below tol after {want} — "
                "stop as soon as it does"
            )
        if n != want and not (abs(n - want) == 1 and _near_tol(A, c, x0, lr, tol, want)):
            why = (
                " — one more than the updates made: count updates, not the checks of the gradient"
                if n == want + 1
                else " — one fewer: the update that brought the gradient below tol counts too"
                if n == want - 1
                else ""
            )
            raise CheckFailed(
                f"{what} reported {n} iterations; expected {want} (the number of updates made until "
                f"the norm of the gradient is below tol){why}"
            )
        if np.linalg.norm(A @ (x - c)) > 10 * tol:
            raise CheckFailed(
                f"{what} returned x = {x.tolist()}, but the minimum is at {c.tolist()} and the gradient "
                f"there has norm {np.linalg.norm(A @ (x - c)):.3g} > tol — return the final point"
            )

    # A non-quadratic valley: f(x, y) = (1 - x)^2 + 10 (y - x^2)^2, minimum at (1, 1).
    def rosen_grad(p: np.ndarray) -> np.ndarray:
        px, py = p
        return np.array([-2 * (1 - px) - 40 * px * (py - px * px), 20 * (py - px * px)])

    what = "gradient_descent on (1 - x)^2 + 10 (y - x^2)^2 from (-1, 1) with lr=0.01, tol=1e-6"
    x, n = unpack_pair(
        gradient_descent(rosen_grad, np.array([-1.0, 1.0]), 0.01, tol=1e-6, max_iters=20_000), what, "(x, n)"
    )
    expect_close(x, [1.0, 1.0], f"{what}: x", atol=1e-4, rtol=0)
    n = _count(n, what)
    if not 3000 <= n <= 3500:
        raise CheckFailed(f"{what} reported {n} iterations; it takes about 3240 steps to reach tol there")
    # Divergence: lr above the stable range must not converge, and the loop must still end.
    what = "gradient_descent on f(x) = 2 (x - 3)^2 from x0 = [0] with the too-large lr=0.6, max_iters=50"
    with np.errstate(all="ignore"):
        x, n = unpack_pair(
            gradient_descent(
                _quadratic(np.array([[4.0]]), np.array([3.0])), np.array([0.0]), 0.6, tol=1e-6, max_iters=50
            ),
            what,
            "(x, n)",
        )
    n = _count(n, what)
    if n != 50:
        raise CheckFailed(
            f"{what} reported {n} iterations; it never reaches tol, so it should stop at max_iters=50"
        )
    x = as_array(x, what)
    if np.all(np.isfinite(x)) and np.all(np.abs(x - 3.0) < 3.0):
        raise CheckFailed(
            f"{what} returned x = {x.tolist()}, closer to the minimum than the start; "
            "with this lr each step should overshoot further"
        )
    return "converges to the minimum, stops on tol, and gives up after max_iters when it diverges"


def _count(n: Any, what: str) -> int:
    try:
        value = float(n)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what}: n_iters is {type(n).__name__}; expected a whole number") from None
    if not value.is_integer():
        raise CheckFailed(f"{what}: n_iters is {n}; expected a whole number of iterations")
    return int(value)


def _spd(eigenvalues: Sequence[float], seed: int) -> np.ndarray:
    """A symmetric positive definite matrix with known eigenvalues and non-trivial eigenvectors."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(len(eigenvalues), len(eigenvalues))))
    A: np.ndarray = (q * np.asarray(eigenvalues, dtype=float)) @ q.T
    return A


@checker("step3.learning_rates")
def check_learning_rates(
    critical_learning_rate: Callable[..., Any], classify_learning_rate: Callable[..., Any]
) -> str:
    expect_callable(critical_learning_rate, "critical_learning_rate")
    expect_callable(classify_learning_rate, "classify_learning_rate")
    cases = [
        np.array([[2.0, 1.5], [1.5, 2.0]]),  # eigenvalues 0.5 and 3.5: the diagonal alone misleads
        _spd([0.5, 2.0, 8.0], 1),
        _spd([0.1, 0.3, 1.0, 3.7, 4.2], 2),
    ]
    for A in cases:
        lam = np.linalg.eigvalsh(A)
        L, m = float(lam[-1]), float(lam[0])
        n = len(A)
        what = f"critical_learning_rate(A) for a {n}x{n} matrix A"
        got = expect_scalar(critical_learning_rate(A.copy()), what)
        if not math.isclose(got, 2 / L, rel_tol=1e-6):
            raise CheckFailed(f"{what} returned {got:.6g}; " + _why_rate_wrong(got, A, L, m))
        for factor, label in [
            (0.3, "monotone"),
            (0.95, "monotone"),
            (1.2, "oscillating"),
            (1.97, "oscillating"),
            (2.03, "diverging"),
            (3.0, "diverging"),
        ]:
            lr = factor / L
            answer = classify_learning_rate(lr, A.copy())
            if not isinstance(answer, str) or answer.strip().lower() != label:
                raise CheckFailed(
                    f"classify_learning_rate(lr={lr:.4g}, A) for a {n}x{n} A returned {answer!r}; expected "
                    f"{label!r} — look at what one step does along the steepest direction of A"
                )
    # On the boundaries: at lr = 2/L the error flips sign without shrinking ("diverging": it does
    # not shrink); at lr = 1/L it vanishes in one step, never changing sign ("monotone").
    A = np.array([[2.5, 1.5], [1.5, 2.5]])  # eigenvalues 1 and 4, exactly, so 1 - lr * 4 is exact too
    for lr, label in [(0.5, "diverging"), (0.25, "monotone")]:
        answer = classify_learning_rate(lr, A.copy())
        if not isinstance(answer, str) or answer.strip().lower() != label:
            raise CheckFailed(
                f"classify_learning_rate(lr={lr}, A) for A with eigenvalues 1 and 4 returned {answer!r}; "
                f"expected {label!r} — here 1 - lr * 4 is exactly {1 - lr * 4:g}: "
                + (
                    "the error keeps its size and flips sign, so it does not shrink"
                    if label == "diverging"
                    else "the error vanishes after one step without ever changing sign"
                )
            )
    return "the step-size limit is set by the steepest direction (the largest eigenvalue)"


def _why_rate_wrong(got: float, A: np.ndarray, L: float, m: float) -> str:
    if math.isclose(got, 1 / L, rel_tol=1e-6):
        return (
            "that is the largest rate without oscillation, but gradient descent still converges "
            "(oscillating) above it — how far can (1 - lr * lambda) go below 0?"
        )
    if math.isclose(got, 2 / m, rel_tol=1e-6):
        return "that rate suits the flattest direction; the steepest direction of A blows up first"
    if math.isclose(got, 2 / float(np.max(np.diag(A))), rel_tol=1e-6) or math.isclose(
        got, 2 / float(np.trace(A)), rel_tol=1e-6
    ):
        return "the diagonal of A does not tell the curvature of a rotated bowl — use its eigenvalues"
    verdict = "diverges" if got > 2 / L else "still converges above it"
    return f"gradient descent on 1/2 x^T A x {verdict}; find the rate where one direction stops shrinking"
