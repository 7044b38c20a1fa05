"""Step 3.2b checkers (softmax, cross-entropy, P - Y, saturation): each passes right answers written
differently from the notebook's (loops, scipy, one-hot matrices), fails the typical mistakes with a
message that names them, and reports a stub as not attempted."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from dl7.checks import evaluate, registered
from tests.checking import expect_failed, stub

IDS = ("step3.softmax", "step3.cross_entropy", "step3.softmax_ce_grad", "step3.saturation")


def test_the_four_ids_are_registered():
    assert set(IDS) <= set(registered())


@pytest.mark.parametrize("exercise_id", IDS)
def test_stub_is_not_attempted(exercise_id):
    args = (stub, stub) if exercise_id == "step3.saturation" else (stub,)
    assert evaluate(exercise_id, *args).status == "not_attempted"


# ------------------------------------------------------------------------------------ softmax


def good_softmax(Z):
    Z = np.asarray(Z, dtype=float)
    E = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


def loop_softmax(Z):  # one row at a time, max subtracted with plain Python
    Z = np.asarray(Z, dtype=float)
    rows = Z.reshape(-1, Z.shape[-1])
    out = []
    for row in rows:
        top = max(row)
        e = [math.exp(v - top) for v in row]
        out.append([v / sum(e) for v in e])
    return np.array(out).reshape(Z.shape)


def global_max_softmax(Z):  # one max for the whole batch: exact for scores of similar size
    Z = np.asarray(Z, dtype=float)
    E = np.exp(Z - Z.max())
    return E / E.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("fn", [good_softmax, loop_softmax, global_max_softmax, special.softmax])
def test_softmax_passes(fn):
    def softmax(Z):
        return special.softmax(Z, axis=-1) if fn is special.softmax else fn(Z)

    result = evaluate("step3.softmax", softmax)
    assert result.status == "passed", result


def test_softmax_without_the_max_overflows():
    def raw(Z):
        E = np.exp(Z)
        return E / E.sum(axis=-1, keepdims=True)

    with np.errstate(over="ignore", invalid="ignore"):
        expect_failed(
            evaluate("step3.softmax", raw), "softmax([1001, 1002, 1003])", "nan", "subtract the largest"
        )


def test_softmax_down_the_columns_fails():
    def columns(Z):
        E = np.exp(Z - Z.max(axis=-1, keepdims=True))
        return E / E.sum(axis=0, keepdims=True)

    expect_failed(evaluate("step3.softmax", columns), "columns", "rows sum to", "keepdims=True")


def test_softmax_over_the_whole_batch_fails():
    def whole(Z):
        E = np.exp(Z - Z.max(axis=-1, keepdims=True))
        return E / E.sum()

    expect_failed(evaluate("step3.softmax", whole), "the whole batch to 1", "batch's total")


def test_softmax_without_keepdims_fails():
    def flat(Z):
        E = np.exp(Z - Z.max(axis=-1, keepdims=True))
        return E / E.sum(axis=-1)

    expect_failed(evaluate("step3.softmax", flat), "without keepdims=True", "COLUMN j")


def test_softmax_in_place_fails():
    def in_place(Z):
        Z -= Z.max(axis=-1, keepdims=True)
        E = np.exp(Z)
        return E / E.sum(axis=-1, keepdims=True)

    expect_failed(evaluate("step3.softmax", in_place), "changed the array you passed in")


def test_softmax_of_one_fixed_answer_fails():
    expect_failed(
        evaluate("step3.softmax", lambda Z: np.full(np.shape(Z), 1 / np.shape(Z)[-1])),
        "softmax([1, 2, 3])",
    )


# ------------------------------------------------------------------------------ cross-entropy


def good_cross_entropy(Z, y):
    logp = Z - special.logsumexp(Z, axis=1, keepdims=True)
    return -logp[np.arange(len(y)), y].mean()


def one_hot_cross_entropy(Z, y):  # one-hot targets and a sum, divided by N by hand
    Y = np.eye(Z.shape[1])[y]
    m = Z.max(axis=1, keepdims=True)
    logp = Z - m - np.log(np.exp(Z - m).sum(axis=1, keepdims=True))
    return float(-(Y * logp).sum() / len(y))


def loop_cross_entropy(Z, y):
    total = 0.0
    for row, label in zip(Z, y, strict=True):
        total += np.logaddexp.reduce(row) - row[label]
    return total / len(y)


@pytest.mark.parametrize("fn", [good_cross_entropy, one_hot_cross_entropy, loop_cross_entropy])
def test_cross_entropy_passes(fn):
    result = evaluate("step3.cross_entropy", fn)
    assert result.status == "passed", result


def test_cross_entropy_sum_fails():
    def total(Z, y):
        return good_cross_entropy(Z, y) * len(y)

    expect_failed(evaluate("step3.cross_entropy", total), "4 times the expected 1.09861", "SUM")


def test_cross_entropy_log_of_softmax_fails():
    def naive(Z, y):
        P = special.softmax(Z, axis=1)
        return -np.log(P[np.arange(len(y)), y]).mean()

    with np.errstate(divide="ignore"):
        expect_failed(
            evaluate("step3.cross_entropy", naive), "cross_entropy([[1000, 0, 0]], [1])", "inf", "log(0)"
        )


def test_cross_entropy_fancy_index_fails():
    def square(Z, y):
        logp = Z - special.logsumexp(Z, axis=1, keepdims=True)
        return -logp[:, y].mean()

    expect_failed(evaluate("step3.cross_entropy", square), "(N, N) array", "np.arange(N)")


def test_cross_entropy_of_the_predicted_class_fails():
    def predicted(Z, y):
        logp = Z - special.logsumexp(Z, axis=1, keepdims=True)
        return -logp[np.arange(len(y)), logp.argmax(axis=1)].mean()

    expect_failed(evaluate("step3.cross_entropy", predicted), "PREDICTS", "TRUE label")


def test_cross_entropy_returning_an_array_fails():
    def per_example(Z, y):
        logp = Z - special.logsumexp(Z, axis=1, keepdims=True)
        return -logp[np.arange(len(y)), y]

    expect_failed(evaluate("step3.cross_entropy", per_example), "shape (4,)", "single number")


# --------------------------------------------------------------------------- gradient P - Y


def good_grad(Z, y):
    G = special.softmax(Z, axis=1)
    G[np.arange(len(y)), y] -= 1.0
    return G / len(y)


def one_hot_grad(Z, y):  # built entry by entry from a one-hot Y
    N, K = Z.shape
    P = good_softmax(Z)
    return np.array([[(P[n, k] - (1.0 if k == y[n] else 0.0)) / N for k in range(K)] for n in range(N)])


@pytest.mark.parametrize("fn", [good_grad, one_hot_grad])
def test_softmax_ce_grad_passes(fn):
    result = evaluate("step3.softmax_ce_grad", fn)
    assert result.status == "passed", result


def test_softmax_ce_grad_sign_fails():
    expect_failed(
        evaluate("step3.softmax_ce_grad", lambda Z, y: -good_grad(Z, y)), "minus the gradient", "not Y - P"
    )


def test_softmax_ce_grad_without_the_mean_fails():
    expect_failed(
        evaluate("step3.softmax_ce_grad", lambda Z, y: good_grad(Z, y) * len(y)),
        "4 times the numerical gradient",
        "divided by N",
    )


def test_softmax_ce_grad_with_the_softmax_slope_fails():
    def slope(Z, y):
        P = good_softmax(Z)
        return good_grad(Z, y) * P * (1 - P)

    expect_failed(evaluate("step3.softmax_ce_grad", slope), "extra factor P(1 - P)", "cancels")


def test_softmax_ce_grad_transposed_fails():
    expect_failed(
        evaluate("step3.softmax_ce_grad", lambda Z, y: good_grad(Z, y).T), "shape (3, 1)", "one entry"
    )

    def transposed_when_square(Z, y):
        G = good_grad(Z, y)
        return G.T if G.shape[0] == G.shape[1] else G

    expect_failed(evaluate("step3.softmax_ce_grad", transposed_when_square), "is transposed")


def test_softmax_ce_grad_changing_z_fails():
    def in_place(Z, y):
        Z -= Z.max(axis=1, keepdims=True)
        return good_grad(Z, y)

    expect_failed(evaluate("step3.softmax_ce_grad", in_place), "changed the arrays you passed in")


def test_softmax_ce_grad_overflow_fails():
    def raw(Z, y):
        E = np.exp(Z)
        G = E / E.sum(axis=1, keepdims=True)
        G[np.arange(len(y)), y] -= 1.0
        return G / len(y)

    with np.errstate(over="ignore", invalid="ignore"):
        expect_failed(evaluate("step3.softmax_ce_grad", raw), "ce_grad([[1000, 0, -1000]], [1])", "nan")


# ---------------------------------------------------------------------------------- saturation


def _sigmoid(z):
    return special.expit(z)


def good_se(z, t):
    s = _sigmoid(z)
    return (s - t) * s * (1 - s)


def good_ce(z, t):
    return _sigmoid(z) - t


def loop_se(z, t):  # scalar by scalar, sigma'(z) written as e^-z / (1 + e^-z)^2
    return np.array(
        [
            (1 / (1 + math.exp(-a)) - b) * math.exp(-a) / (1 + math.exp(-a)) ** 2
            for a, b in zip(z, t, strict=True)
        ]
    )


def loop_ce(z, t):  # -t (1 - s) + (1 - t) s, expanded
    return np.array(
        [-b * (1 - 1 / (1 + math.exp(-a))) + (1 - b) / (1 + math.exp(-a)) for a, b in zip(z, t, strict=True)]
    )


@pytest.mark.parametrize(("se", "ce"), [(good_se, good_ce), (loop_se, loop_ce)])
def test_saturation_passes(se, ce):
    result = evaluate("step3.saturation", se, ce)
    assert result.status == "passed", result
    assert "-4.54e-05" in result.message and "-0.99995" in result.message
    assert "22,028 times larger" in result.message


def test_saturation_squared_error_without_the_slope_fails():
    expect_failed(
        evaluate("step3.saturation", good_ce, good_ce), "the cross-entropy's delta", "out (1 - out)"
    )


def test_saturation_cross_entropy_with_the_slope_fails():
    expect_failed(evaluate("step3.saturation", good_se, good_se), "has the factor", "cancels")


def test_saturation_sign_fails():
    expect_failed(
        evaluate("step3.saturation", good_se, lambda z, t: t - _sigmoid(z)),
        "minus dC/dz",
        "prediction minus target",
    )
    expect_failed(evaluate("step3.saturation", lambda z, t: -good_se(z, t), good_ce), "wrong way")


def test_saturation_missing_factor_fails():
    def no_one_minus(z, t):
        s = _sigmoid(z)
        return (s - t) * s

    expect_failed(evaluate("step3.saturation", no_one_minus, good_ce), "delta_squared_error")


# -- a difference quotient is not the derivation ---------------------------------------------


def test_softmax_ce_grad_by_central_differences_is_not_the_derivation() -> None:
    def numeric(Z: np.ndarray, y: np.ndarray) -> np.ndarray:
        def loss(S: np.ndarray) -> float:
            return float(np.mean(special.logsumexp(S, axis=1) - S[np.arange(len(y)), y]))

        G = np.zeros_like(Z, dtype=float)
        for i in np.ndindex(Z.shape):
            up, down = Z.astype(float), Z.astype(float)
            up[i] += 1e-5
            down[i] -= 1e-5
            G[i] = (loss(up) - loss(down)) / 2e-5
        return G

    expect_failed(evaluate("step3.softmax_ce_grad", numeric), "error of a difference quotient")


def test_saturation_deltas_by_central_differences_are_not_the_derivation() -> None:
    def se(z: np.ndarray, t: np.ndarray) -> np.ndarray:
        def loss(v: np.ndarray) -> np.ndarray:
            return 0.5 * (special.expit(v) - t) ** 2

        return (loss(z + 1e-5) - loss(z - 1e-5)) / 2e-5

    def ce_right(z: np.ndarray, t: np.ndarray) -> np.ndarray:
        return special.expit(z) - t

    expect_failed(evaluate("step3.saturation", se, ce_right), "error of a difference quotient")


def test_softmax_over_axis_1_is_told_to_use_the_last_axis() -> None:
    def axis1(Z):
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)

    expect_failed(evaluate("step3.softmax", axis1), "AxisError", "axis=-1")


def test_cross_entropy_clipped_at_an_epsilon_is_named() -> None:
    def clipped(Z, y):
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        P = E / E.sum(axis=1, keepdims=True)
        return float(-np.log(np.clip(P[np.arange(len(y)), y], 1e-12, 1.0)).mean())

    expect_failed(evaluate("step3.cross_entropy", clipped), "-ln(1e-12)", "log softmax from the scores")
