"""Checkers for notebook 02b: softmax, cross-entropy, their gradient P - Y, and saturation.

Facts: softmax values of small vectors (e^z / sum e^z, worked out by hand), its invariance to
adding a constant, ln K for uniform scores, the losses of confidently right and wrong answers
(0 and the score gap), and central differences of losses the checker evaluates itself, in a
log-sum-exp form that cannot overflow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import (
    as_array,
    expect_callable,
    expect_close,
    expect_formula,
    expect_shape,
    numerical_gradient,
)

from ._common import expect_gradient, expect_scalar, logistic, seeded_rng

SOFTMAX_123 = [0.09003057317038046, 0.24472847105479764, 0.6652409557748218]  # softmax([1, 2, 3])
KEEPDIMS = "sum over axis=-1 with keepdims=True, so each row is divided by its own sum"


def _log_softmax(Z: np.ndarray) -> np.ndarray:
    """log softmax over the last axis, as z - logsumexp(z): never log(0), never exp overflow."""
    m = Z.max(axis=-1, keepdims=True)
    return np.asarray(Z - m - np.log(np.exp(Z - m).sum(axis=-1, keepdims=True)), dtype=float)


def _mean_ce(Z: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(_log_softmax(Z)[np.arange(len(y)), y]))


def _fmt(values: np.ndarray) -> str:
    return np.array2string(np.asarray(values, dtype=float), precision=4, separator=", ", suppress_small=True)


# ------------------------------------------------------------------------------------ softmax


def _call_softmax(softmax: Callable[..., Any], Z: np.ndarray, what: str) -> np.ndarray:
    given = Z.copy()
    try:
        result = softmax(given)
    except np.exceptions.AxisError as exc:  # axis=1 on one example of shape (K,)
        raise CheckFailed(
            f"{what} raised AxisError ({exc}): the scores here have shape {Z.shape}. Use axis=-1, the "
            "last axis, which is the classes both for one example (K,) and for a batch (N, K)"
        ) from None
    out = expect_shape(result, Z.shape, what)
    if not np.array_equal(given, Z):
        raise CheckFailed(
            f"{what} changed the array you passed in (`Z -= ...` works in place); "
            "compute `Z - Z.max(...)` into a new array"
        )
    return out


def _expect_rows_sum_to_one(P: np.ndarray, Z: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(P)):
        return  # expect_close names the nan and its cause
    sums = P.sum(axis=-1)
    if np.allclose(sums, 1.0, atol=1e-9):
        return
    if P.ndim == 2 and np.allclose(P.sum(axis=0), 1.0, atol=1e-9):
        raise CheckFailed(
            f"the columns of {what} sum to 1 but its rows sum to {_fmt(sums)}: "
            f"each ROW is one example's probabilities — {KEEPDIMS}"
        )
    if math.isclose(float(P.sum()), 1.0, abs_tol=1e-9):
        raise CheckFailed(
            f"the rows of {what} sum to {_fmt(sums)} and the whole batch to 1: you divided by the "
            f"batch's total — {KEEPDIMS}"
        )
    if P.ndim == 2 and P.shape[0] == P.shape[1]:
        E = np.exp(Z - Z.max(axis=-1, keepdims=True))
        if np.allclose(P * E.sum(axis=-1)[None, :], E, atol=1e-9):
            raise CheckFailed(
                f"the rows of {what} sum to {_fmt(sums)}: a sum without keepdims=True has shape (N,), "
                "and broadcasting divided COLUMN j by row j's sum (with N != K it raises instead)"
            )
    raise CheckFailed(f"the rows of {what} sum to {_fmt(sums)}; a softmax's rows each sum to 1")


@checker("step3.softmax")
def check_softmax(softmax: Callable[..., Any]) -> str:
    expect_callable(softmax, "softmax")
    hint = "softmax(z)_k = exp(z_k) / sum_j exp(z_j), over the last axis"
    z = np.array([1.0, 2.0, 3.0])
    expect_close(
        _call_softmax(softmax, z, "softmax([1, 2, 3])"), SOFTMAX_123, "softmax([1, 2, 3])", hint=hint
    )
    overflow = "np.exp(1000) is inf and inf / inf is nan — subtract the largest score first"
    for big, want in (
        ([1001.0, 1002.0, 1003.0], SOFTMAX_123),
        ([-1003.0, -1002.0, -1001.0], SOFTMAX_123),
        ([1000.0, 0.0, -1000.0], [1.0, 0.0, 0.0]),
    ):
        what = f"softmax({[int(v) for v in big]})"
        expect_close(_call_softmax(softmax, np.array(big), what), want, what, hint=overflow)
    Z = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5], [3.0, 1.0, 2.0]])  # (3, 3): a missing keepdims shows
    what = "softmax(Z) for Z = [[1, 2, 3], [0.5, 0.5, 0.5], [3, 1, 2]]"
    P = _call_softmax(softmax, Z, what)
    _expect_rows_sum_to_one(P, Z, what)
    s1, s2, s3 = SOFTMAX_123
    expect_close(P, [[s1, s2, s3], [1 / 3, 1 / 3, 1 / 3], [s3, s1, s2]], what, hint=hint)
    rng = seeded_rng()
    for shape, shift in (((4, 4), 0.0), ((5, 3), 0.0), ((3, 7), 900.0), ((1, 6), 0.0), ((4, 1), 0.0)):
        Z = rng.normal(0.0, 3.0, shape) + shift
        what = f"softmax(Z) for random scores Z of shape {shape}" + (f" near {shift:g}" if shift else "")
        P = _call_softmax(softmax, Z, what)
        _expect_rows_sum_to_one(P, Z, what)
        want = np.exp(_log_softmax(Z))
        expect_close(P, want, what, atol=1e-9, rtol=1e-7, hint=overflow if shift else hint)
        c = rng.normal(0.0, 5.0, (shape[0], 1))  # a different constant for every row
        expect_close(
            _call_softmax(softmax, Z + c, "softmax(Z + c)"),
            P,
            f"softmax(Z + c), c a different constant per row, for Z of shape {shape}",
            atol=1e-9,
            rtol=1e-7,
            hint="adding a constant to every score of a row must not change that row's probabilities",
        )
    return "rows sum to 1, softmax([1, 2, 3]) = [0.0900, 0.2447, 0.6652], and scores of ±1000 give no nan"


# ------------------------------------------------------------------------------ cross-entropy


def _call_ce(cross_entropy: Callable[..., Any], Z: np.ndarray, y: np.ndarray, what: str) -> float:
    Zc, yc = Z.copy(), y.copy()
    got = expect_scalar(cross_entropy(Zc, yc), what)
    if not (np.array_equal(Zc, Z) and np.array_equal(yc, y)):
        raise CheckFailed(f"{what} changed the arrays you passed in; leave Z and y as they were")
    return got


def _expect_ce(got: float, Z: np.ndarray, y: np.ndarray, what: str) -> None:
    want = _mean_ce(Z, y)
    n = len(y)
    logp = _log_softmax(Z)
    if math.isinf(got) or math.isnan(got):
        raise CheckFailed(
            f"{what} returned {got}; expected {want:.6g}. The right class's probability underflowed "
            "to 0 and log(0) = -inf — compute log softmax(z)_y as z_y - max(z) - log(sum exp(z - max(z)))"
        )
    if math.isclose(got, want, rel_tol=1e-7, abs_tol=1e-8):
        return
    if n > 1 and math.isclose(got, n * want, rel_tol=1e-6, abs_tol=1e-9) and not math.isclose(want, 0.0):
        raise CheckFailed(
            f"{what} returned {got:.6g}, {n} times the expected {want:.6g}: that is the SUM over the "
            f"{n} examples; the loss is their mean"
        )
    if n > 1 and math.isclose(got, float(-logp[:, y].mean()), rel_tol=1e-6, abs_tol=1e-9):
        raise CheckFailed(
            f"{what} returned {got:.6g}; expected {want:.6g}. logp[:, y] is an (N, N) array — every "
            "row at every label; logp[np.arange(N), y] picks one entry per row, the right class's"
        )
    for eps in (1e-7, 1e-8, 1e-9, 1e-10, 1e-12, 1e-15, 1e-16):
        if want > -math.log(eps) + 1 and math.isclose(got, -math.log(eps), rel_tol=1e-3):
            raise CheckFailed(
                f"{what} returned {got:.6g}; expected {want:.6g}. That is -ln({eps:g}): clipping the "
                "probability at an epsilon caps the loss there. Compute log softmax from the scores "
                "instead, z_y - max(z) - log(sum exp(z - max(z))), which stays finite and exact"
            )
    if math.isclose(got, float(-logp.max(axis=-1).mean()), rel_tol=1e-6, abs_tol=1e-9):
        raise CheckFailed(
            f"{what} returned {got:.6g}; expected {want:.6g}: you scored the class the model PREDICTS "
            "(the largest score); the loss uses the probability of the TRUE label y"
        )
    expect_close(got, want, what, atol=1e-8, rtol=1e-7, hint="the mean over examples of -log softmax(z)[y]")


@checker("step3.cross_entropy")
def check_cross_entropy(cross_entropy: Callable[..., Any]) -> str:
    expect_callable(cross_entropy, "cross_entropy")
    Z, y = np.zeros((4, 3)), np.array([0, 1, 2, 0])
    what = "cross_entropy(zeros((4, 3)), [0, 1, 2, 0])"
    got = _call_ce(cross_entropy, Z, y, what)
    _expect_ce(got, Z, y, what + " (uniform scores: every example costs ln 3)")
    Z, y = np.array([[2.0, 1.0, 0.1]]), np.array([0])
    what = "cross_entropy([[2, 1, 0.1]], [0])"
    _expect_ce(_call_ce(cross_entropy, Z, y, what), Z, y, what + " = -ln 0.6590")
    Z, y = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0], [0.0, 3.0, 1.0]]), np.array([0, 2, 2])
    what = "cross_entropy(Z, y) for Z = [[2, 1, 0.1], [0.5, 2.5, -1], [0, 3, 1]], y = [0, 2, 2]"
    _expect_ce(_call_ce(cross_entropy, Z, y, what), Z, y, what)
    for big, label, want in (
        ([[1000.0, 0.0, 0.0]], 1, "1000 (the top score minus the right one)"),
        ([[1000.0, 0.0, 0.0]], 0, "0 (confidently right)"),
        ([[1000.0, 1000.0, 0.0]], 0, "ln 2"),
        ([[-1000.0, 0.0, 0.0]], 0, "1000"),
    ):
        Z, y = np.array(big), np.array([label])
        what = f"cross_entropy({[[int(v) for v in big[0]]]}, [{label}]), exactly {want},"
        _expect_ce(_call_ce(cross_entropy, Z, y, what), Z, y, what)
    rng = seeded_rng()
    for n, k in ((5, 4), (7, 10), (2, 2)):
        Z, y = rng.normal(0.0, 4.0, (n, k)), rng.integers(0, k, n)
        what = f"cross_entropy on random scores of shape {(n, k)}"
        _expect_ce(_call_ce(cross_entropy, Z, y, what), Z, y, what)
    return (
        "ln 3 for uniform scores over 3 classes, 1000 (not inf) for a confident wrong answer, the batch mean"
    )


# --------------------------------------------------------------------------- gradient P - Y


def _ce_of_scores(y: np.ndarray) -> Callable[[np.ndarray], float]:
    return lambda Z: _mean_ce(Z, y)


@checker("step3.softmax_ce_grad")
def check_softmax_ce_grad(ce_grad: Callable[..., Any]) -> str:
    expect_callable(ce_grad, "ce_grad")
    rng = seeded_rng()
    cases = [
        ("[[2, 1, 0.1]], y = [0] (one example)", np.array([[2.0, 1.0, 0.1]]), np.array([0])),
        ("a batch of 4 random examples, 3 classes", rng.normal(0.0, 2.0, (4, 3)), rng.integers(0, 3, 4)),
        ("a batch of 6 random examples, 5 classes", rng.normal(0.0, 2.0, (6, 5)), rng.integers(0, 5, 6)),
        ("a batch of 3 random examples, 3 classes", rng.normal(0.0, 2.0, (3, 3)), rng.integers(0, 3, 3)),
    ]
    for label, Z, y in cases:
        what = f"ce_grad on {label}"
        Zc, yc = Z.copy(), y.copy()
        got = as_array(ce_grad(Zc, yc), what)
        if got.shape != Z.shape:
            raise CheckFailed(f"{what} has shape {got.shape}; expected {Z.shape}, one entry per score in Z")
        if not (np.array_equal(Zc, Z) and np.array_equal(yc, y)):
            raise CheckFailed(f"{what} changed the arrays you passed in; build a new array for the gradient")
        want = numerical_gradient(_ce_of_scores(y), Z)  # the facts: central differences
        n = len(y)
        P = np.exp(_log_softmax(Z))
        if got.shape == want.shape and n > 1 and np.allclose(got, n * want, atol=1e-7, rtol=1e-5):
            raise CheckFailed(
                f"{what} is {n} times the numerical gradient: the loss is the MEAN over the {n} "
                "examples, so each row of P - Y is divided by N"
            )
        if got.shape == want.shape and np.allclose(got, want * P * (1 - P), atol=1e-7, rtol=1e-5):
            raise CheckFailed(
                f"{what} has an extra factor P(1 - P) (got {_fmt(got[0])} in row 0, expected "
                f"{_fmt(want[0])}): the softmax's slope is already inside P - Y — the log in the "
                "loss cancels it"
            )
        if np.allclose(got, -want, atol=1e-7, rtol=1e-5):
            raise CheckFailed(
                f"{what} is minus the gradient (got {_fmt(got[0])} in row 0, expected {_fmt(want[0])}): "
                "it is P - Y, not Y - P; the true class's entry is negative"
            )
        if Z.shape[0] == Z.shape[1] and np.allclose(got, want.T, atol=1e-7, rtol=1e-5):
            raise CheckFailed(f"{what} is transposed: row n must hold example n's dL/dz")
        expect_gradient(
            got,
            want,
            what,
            hint="compared with central differences of the mean cross-entropy; dL/dz = (P - Y) / N",
        )
        expect_formula(got, (P - np.eye(Z.shape[1])[y]) / n, what)
    Z, y = np.array([[1000.0, 0.0, -1000.0]]), np.array([1])
    what = "ce_grad([[1000, 0, -1000]], [1])"
    expect_close(
        ce_grad(Z.copy(), y.copy()),
        [[1.0, -1.0, 0.0]],
        what,
        atol=1e-9,
        hint="P = softmax(Z) needs the max subtracted, or exp(1000) overflows",
    )
    return "(P - Y) / N matches central differences, for one example and for batches"


# ---------------------------------------------------------------------------------- saturation


def _squared_error(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (logistic(z) - t) ** 2, dtype=float)


def _binary_ce(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    # -[t ln s + (1 - t) ln(1 - s)] with s = sigmoid(z); ln s = -ln(1 + e^-z), ln(1 - s) = -ln(1 + e^z)
    return np.asarray(t * np.logaddexp(0.0, -z) + (1.0 - t) * np.logaddexp(0.0, z), dtype=float)


def _elementwise_derivative(
    loss: Callable[[np.ndarray, np.ndarray], np.ndarray], z: np.ndarray, t: np.ndarray
) -> np.ndarray:
    eps = 1e-5
    return np.asarray((loss(z + eps, t) - loss(z - eps, t)) / (2 * eps), dtype=float)


@checker("step3.saturation")
def check_saturation(delta_squared_error: Callable[..., Any], delta_cross_entropy: Callable[..., Any]) -> str:
    expect_callable(delta_squared_error, "delta_squared_error")
    expect_callable(delta_cross_entropy, "delta_cross_entropy")
    z = np.array([-10.0, -3.0, -0.5, 0.0, 1.5, 4.0, 10.0])
    t = np.array([1.0, 1.0, 0.0, 0.3, 0.0, 1.0, 0.0])
    sig = logistic(z)
    slope = sig * (1 - sig)
    shown = "z = [-10, -3, -0.5, 0, 1.5, 4, 10], t = [1, 1, 0, 0.3, 0, 1, 0]"

    what = f"delta_squared_error({shown})"
    se = expect_shape(delta_squared_error(z.copy(), t.copy()), z.shape, what)
    want_se = _elementwise_derivative(_squared_error, z, t)
    if np.allclose(se, sig - t, atol=1e-9):
        raise CheckFailed(
            f"{what} is sigmoid(z) - t, the cross-entropy's delta. Squared error 1/2 (out - t)^2 "
            "reaches z through out = sigmoid(z), so the chain rule adds sigmoid'(z) = out (1 - out)"
        )
    expect_gradient(se, want_se, what, hint="dE/dz = dE/dout * dout/dz, as in Mazur's delta")
    expect_formula(se, (sig - t) * slope, what)

    what = f"delta_cross_entropy({shown})"
    ce = expect_shape(delta_cross_entropy(z.copy(), t.copy()), z.shape, what)
    want_ce = _elementwise_derivative(_binary_ce, z, t)
    if np.allclose(ce, (sig - t) * slope, atol=1e-9):
        raise CheckFailed(
            f"{what} has the factor sigmoid(z)(1 - sigmoid(z)) in it (at z = -10, t = 1 you get "
            f"{ce[0]:.3g}, expected {want_ce[0]:.6g}). Differentiate C = -[t ln s + (1 - t) ln(1 - s)] "
            "through s = sigmoid(z): dC/ds = (s - t) / (s (1 - s)), and the s (1 - s) cancels"
        )
    if np.allclose(ce, -want_ce, atol=1e-9):
        raise CheckFailed(
            f"{what} is minus dC/dz (at z = -10, t = 1 you get {ce[0]:.6g}, expected {want_ce[0]:.6g}): "
            "the delta is sigmoid(z) - t, prediction minus target"
        )
    expect_gradient(ce, want_ce, what, hint="dC/dz for C = -[t ln s + (1 - t) ln(1 - s)], s = sigmoid(z)")
    expect_formula(ce, sig - t, what)
    ratio = want_ce[0] / want_se[0]
    return (
        f"at z = -10, t = 1: squared error's delta {se[0]:.3g}, cross-entropy's {ce[0]:.5g}, "
        f"{ratio:,.0f} times larger"
    )
