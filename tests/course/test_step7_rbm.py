"""Step 7, notebook 5 checkers: an RBM's conditionals, Bernoulli sampling, CD-1, and training.

Each passes a right answer and one written differently, and fails the slips beginners make
(a transposed W, a missing bias, samples where probabilities belong, a reversed sign, no 1/N)
with a message that names them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import course

rbm = course("step7").rbm


def sigmoid(a: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(a, -500, 500)))


def ph(v: np.ndarray, w: np.ndarray, c: np.ndarray) -> np.ndarray:
    return sigmoid(v @ w + c)


def pv(h: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    return sigmoid(h @ w.T + b)


def ph_loops(v: np.ndarray, w: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The same conditional, one unit at a time with math.exp-free tanh."""
    out = np.empty((len(v), w.shape[1]))
    for n in range(len(v)):
        for j in range(w.shape[1]):
            a = sum(v[n, i] * w[i, j] for i in range(w.shape[0])) + c[j]
            out[n, j] = 0.5 * (1 + np.tanh(a / 2))
    return out


def pv_einsum(h: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh((np.einsum("nj,ij->ni", h, w) + b) / 2))


# Conditionals -------------------------------------------------------------------------------


def test_conditionals_right() -> None:
    r = evaluate("step7.rbm_conditionals", ph, pv)
    assert r.status == "passed", r.message
    assert "0.731" in r.message


def test_conditionals_written_differently() -> None:
    r = evaluate("step7.rbm_conditionals", ph_loops, pv_einsum)
    assert r.status == "passed", r.message


def test_conditionals_transposed_w() -> None:
    r = evaluate("step7.rbm_conditionals", lambda v, w, c: sigmoid(v @ w.T + c), pv)
    expect_failed(r, "p_h_given_v", "W is used transposed")


def test_conditionals_transposed_w_going_down() -> None:
    r = evaluate("step7.rbm_conditionals", ph, lambda h, w, b: sigmoid(h @ w + b))
    expect_failed(r, "p_v_given_h", "W is used transposed")


def test_conditionals_no_bias() -> None:
    r = evaluate("step7.rbm_conditionals", lambda v, w, c: sigmoid(v @ w), pv)
    expect_failed(r, "p_h_given_v", "the bias is missing")


def test_conditionals_sign() -> None:
    r = evaluate("step7.rbm_conditionals", ph, lambda h, w, b: sigmoid(-(h @ w.T + b)))
    expect_failed(r, "p_v_given_h", "sign is reversed")


def test_conditionals_precedence() -> None:
    # 1 / 1 + exp(-a) is 1 + exp(-a): the message used to say only "expected σ(v W + c)".
    r = evaluate("step7.rbm_conditionals", lambda v, w, c: 1 / 1 + np.exp(-(v @ w + c)), pv)
    expect_failed(r, "p_h_given_v", "1 + exp(−a)", "1 / (1 + np.exp(-a))")


def test_conditionals_shape_error_is_a_failure_naming_shapes() -> None:
    # Right on square W, but np.dot(W, v.T).T breaks on the (3, 2) hand-worked W.
    r = evaluate("step7.rbm_conditionals", lambda v, w, c: sigmoid((w @ v.T).T + c), pv)
    assert r.status == "failed", r
    assert "W is used transposed" in r.message or "shapes" in r.message


def test_conditionals_in_place() -> None:
    def in_place(v: np.ndarray, w: np.ndarray, c: np.ndarray) -> np.ndarray:
        v *= 1.0  # harmless
        w += 0.0
        c -= 0.0
        a = v @ w
        a += c
        np.negative(a, out=a)
        return 1 / (1 + np.exp(np.clip(a, -500, 500)))

    assert evaluate("step7.rbm_conditionals", in_place, pv).status == "passed"

    def changes_v(v: np.ndarray, w: np.ndarray, c: np.ndarray) -> np.ndarray:
        v[:] = sigmoid(v @ w + c)[:, : v.shape[1]] if w.shape[1] >= v.shape[1] else v
        return ph(v, w, c)

    r = evaluate("step7.rbm_conditionals", changes_v, pv)
    assert r.status == "failed"


def test_conditionals_stub() -> None:
    assert evaluate("step7.rbm_conditionals", stub, stub).status == "not_attempted"


# Sampling -----------------------------------------------------------------------------------


def test_sample_right() -> None:
    r = evaluate("step7.rbm_sample", lambda p, u: (u < p).astype(float))
    assert r.status == "passed", r.message


def test_sample_written_differently() -> None:
    r = evaluate("step7.rbm_sample", lambda p, u: np.where(p > u, 1, 0))
    assert r.status == "passed", r.message


def test_sample_reversed() -> None:
    expect_failed(evaluate("step7.rbm_sample", lambda p, u: (u > p).astype(float)), "opposite")


def test_sample_boundary() -> None:
    expect_failed(evaluate("step7.rbm_sample", lambda p, u: (u <= p).astype(float)), "strict u < p")


def test_sample_draws_its_own() -> None:
    rng = np.random.default_rng(0)
    r = evaluate("step7.rbm_sample", lambda p, u: (rng.random(p.shape) < p).astype(float))
    expect_failed(r)


def test_sample_rounds() -> None:
    expect_failed(evaluate("step7.rbm_sample", lambda p, u: np.round(p)), "rounded p")


def test_sample_stub() -> None:
    assert evaluate("step7.rbm_sample", stub).status == "not_attempted"


# CD-1 ---------------------------------------------------------------------------------------


def make_cd1(
    *,
    transpose: bool = False,
    pos_samples: bool = False,
    sign: float = 1.0,
    biases: bool = True,
    divide: bool = True,
    v1_prob: bool = False,
    in_place: bool = False,
    lr_on_biases: bool = True,
) -> Any:
    def cd1(
        v0: np.ndarray,
        w: np.ndarray,
        b: np.ndarray,
        c: np.ndarray,
        lr: float,
        u_h: np.ndarray,
        u_v: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(v0) if divide else 1
        p0 = ph(v0, w, c)
        h0 = (u_h < p0).astype(float)
        pv1 = pv(h0, w, b)
        v1 = pv1 if v1_prob else (u_v < pv1).astype(float)
        p1 = ph(v1, w, c)
        pos = v0.T @ (h0 if pos_samples else p0)
        dw = sign * lr * (pos - v1.T @ p1) / n
        if transpose:
            dw = dw.T
        rate = lr if lr_on_biases else 1.0
        db = sign * rate * (v0 - v1).sum(axis=0) / n if biases else 0.0
        dc = sign * rate * (p0 - p1).sum(axis=0) / n if biases else 0.0
        if in_place:
            w += dw
            b += db
            c += dc
            return w, b, c
        return w + dw, b + db, c + dc

    return cd1


def cd1_loop(
    v0: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray, lr: float, u_h: np.ndarray, u_v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Written differently: one example at a time, outer products, a running average."""
    dw, db, dc = np.zeros_like(w), np.zeros_like(b), np.zeros_like(c)
    for n in range(len(v0)):
        p0 = ph(v0[n : n + 1], w, c)[0]
        h0 = np.where(u_h[n] < p0, 1.0, 0.0)
        v1 = np.where(u_v[n] < pv(h0[None], w, b)[0], 1.0, 0.0)
        p1 = ph(v1[None], w, c)[0]
        dw += np.outer(v0[n], p0) - np.outer(v1, p1)
        db += v0[n] - v1
        dc += p0 - p1
    k = len(v0)
    return w + lr * dw / k, b + lr * db / k, c + lr * dc / k


def test_cd1_right() -> None:
    r = evaluate("step7.cd1_update", make_cd1())
    assert r.status == "passed", r.message
    assert "0.25" in r.message


def test_cd1_written_differently() -> None:
    r = evaluate("step7.cd1_update", cd1_loop)
    assert r.status == "passed", r.message


def test_cd1_hand_case_is_what_the_text_says() -> None:
    v0, u_h, u_v = rbm.HAND_CD["v0"], rbm.HAND_CD["u_h"], rbm.HAND_CD["u_v"]
    w, b, c = make_cd1()(v0, np.zeros((3, 2)), np.zeros(3), np.zeros(2), 1.0, u_h, u_v)
    assert np.allclose(w, rbm.HAND_CD_W) and np.allclose(b, rbm.HAND_CD_B) and np.allclose(c, rbm.HAND_CD_C)


def test_cd1_samples_for_probabilities() -> None:
    expect_failed(evaluate("step7.cd1_update", make_cd1(pos_samples=True)), "binary samples h0")


def test_cd1_sign_reversed() -> None:
    expect_failed(evaluate("step7.cd1_update", make_cd1(sign=-1.0)), "wrong sign")


def test_cd1_biases_forgotten() -> None:
    expect_failed(evaluate("step7.cd1_update", make_cd1(biases=False)), "Δb", "never updated")


def test_cd1_not_divided_by_n() -> None:
    expect_failed(evaluate("step7.cd1_update", make_cd1(divide=False)), "times too large", "divide")


def test_cd1_learning_rate_missing_on_the_biases() -> None:
    # Used to say only "expected Δb = lr·mean(v0 − v1)".
    r = evaluate("step7.cd1_update", make_cd1(lr_on_biases=False))
    expect_failed(r, "the learning rate lr = ", "is missing from Δb")


def test_cd1_transposed() -> None:
    expect_failed(
        evaluate("step7.cd1_update", make_cd1(transpose=True)), "ΔW is transposed", "transpose goes on v"
    )


def test_cd1_reconstruction_probabilities() -> None:
    expect_failed(evaluate("step7.cd1_update", make_cd1(v1_prob=True)), "p(v|h0) as the reconstruction")


def test_cd1_in_place() -> None:
    expect_failed(evaluate("step7.cd1_update", make_cd1(in_place=True)), "in place")


def test_cd1_stub() -> None:
    assert evaluate("step7.cd1_update", stub).status == "not_attempted"


# Training -----------------------------------------------------------------------------------


def train(epochs: int, lr: float = 0.1, seed: int = 0, update: Any = None) -> tuple[np.ndarray, ...]:
    update = update or make_cd1()
    v_train, _ = rbm.binarised_digits()
    rng = np.random.default_rng(seed)
    w = 0.01 * rng.normal(size=(64, 64))
    b, c = np.zeros(64), np.zeros(64)
    for _ in range(epochs):
        order = rng.permutation(len(v_train))
        for i in range(0, len(v_train), 20):
            v0 = v_train[order[i : i + 20]]
            w, b, c = update(v0, w, b, c, lr, rng.random((len(v0), 64)), rng.random(v0.shape))
    return w, b, c


@pytest.mark.slow
def test_train_passes_after_training() -> None:
    r = evaluate("step7.rbm_train", *train(12))
    assert r.status == "passed", r.message
    assert "down from 0.25" in r.message


def test_train_too_short() -> None:
    expect_failed(evaluate("step7.rbm_train", *train(1)), "needs at most 0.08")


def test_train_reversed_sign() -> None:
    expect_failed(evaluate("step7.rbm_train", *train(2, update=make_cd1(sign=-1.0))), "sign")


def test_train_wrong_shape() -> None:
    w, b, c = train(1)
    expect_failed(evaluate("step7.rbm_train", w.T[:10], b, c), "shape")


def test_train_not_run() -> None:
    assert evaluate("step7.rbm_train", None, None, None).status == "not_attempted"


@pytest.mark.parametrize("k", [0, 5])
def test_reconstruction_error_untrained_is_a_quarter(k: int) -> None:
    v = (np.random.default_rng(k).random((10, 64)) < 0.5).astype(float)
    assert rbm.reconstruction_error(v, np.zeros((64, 3)), np.zeros(64), np.zeros(3)) == pytest.approx(0.25)
