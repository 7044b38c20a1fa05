"""Step 7, notebook 5 checkers: an RBM's conditionals, free energy, exact gradient, CD-1, and a
prediction about CD-1 against the exact gradient.

Each passes a right answer and one written differently, and fails the slips beginners make
(a transposed W, a missing bias, an overflowing log, a forgotten log Z, samples where
probabilities belong, a reversed sign, no 1/N) with a message that names them.
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


# Free energy --------------------------------------------------------------------------------


def free_energy(v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return -(v @ b) - np.logaddexp(0, v @ w + c).sum(axis=1)


def free_energy_loops(v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray) -> list[float]:
    """Written differently: a list, one row at a time, softplus as max(a, 0) + log1p(exp(-|a|))."""
    out = []
    for row in v.astype(np.float32):
        a = row @ w + c
        out.append(float(-row @ b - np.sum(np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a))))))
    return out


def test_free_energy_right() -> None:
    r = evaluate("step7.free_energy", free_energy)
    assert r.status == "passed", r.message


def test_free_energy_written_differently() -> None:
    r = evaluate("step7.free_energy", free_energy_loops)
    assert r.status == "passed", r.message


def test_free_energy_is_the_sum_over_hidden_vectors() -> None:
    rng = np.random.default_rng(0)
    v = (rng.random((4, 5)) < 0.5).astype(float)
    w, b, c = rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=3)
    assert np.allclose(rbm.ref_free_energy(v, w, b, c), rbm.brute_free_energy(v, w, b, c))


def test_free_energy_no_visible_bias() -> None:
    r = evaluate("step7.free_energy", lambda v, w, b, c: -np.logaddexp(0, v @ w + c).sum(axis=1))
    expect_failed(r, "visible bias term −b·v is missing")


def test_free_energy_overflow() -> None:
    def naive(v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        return -(v @ b) - np.log(1 + np.exp(v @ w + c)).sum(axis=1)

    expect_failed(evaluate("step7.free_energy", naive), "overflows", "np.logaddexp(0, a)")


def test_free_energy_only_h_equal_one() -> None:
    r = evaluate("step7.free_energy", lambda v, w, b, c: -(v @ b) - (v @ w + c).sum(axis=1))
    expect_failed(r, "1 + e^a")


def test_free_energy_sign() -> None:
    expect_failed(evaluate("step7.free_energy", lambda v, w, b, c: -free_energy(v, w, b, c)), "sign")


def test_free_energy_no_hidden_bias() -> None:
    r = evaluate("step7.free_energy", lambda v, w, b, c: -(v @ b) - np.logaddexp(0, v @ w).sum(axis=1))
    expect_failed(r, "hidden bias c is missing")


def test_free_energy_summed_over_batch() -> None:
    expect_failed(
        evaluate("step7.free_energy", lambda v, w, b, c: free_energy(v, w, b, c).sum()),
        "a single number",
        "axis=1",
    )


def test_free_energy_wrong_axis() -> None:
    def axis0(v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        return -(v @ b).sum() - np.logaddexp(0, v @ w + c).sum(axis=0)

    expect_failed(evaluate("step7.free_energy", axis0), "axis")


def test_free_energy_stub() -> None:
    assert evaluate("step7.free_energy", stub).status == "not_attempted"


# The exact gradient -------------------------------------------------------------------------


def exact_gradient(
    v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray, *, slip: str = ""
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = rbm.all_states(w.shape[0])
    m = -free_energy(s, w, b, c)
    if slip == "plus_f":
        m = -m
    p = np.exp(m - np.logaddexp.reduce(m))
    if slip == "uniform":
        p = np.full(len(s), 1 / len(s))
    ph, ps = ph_fn(v, w, c), ph_fn(s, w, c)
    n = 1 if slip == "sum" else len(v)
    k = len(v) if slip == "sum" else 1
    data = (v.T @ ph / n, v.sum(0) / (len(v) if n != 1 else 1), ph.sum(0) / (len(v) if n != 1 else 1))
    if slip == "data":
        return data
    model = (s.T @ (p[:, None] * ps), p @ s, p @ ps)
    out = tuple(d - k * m_ for d, m_ in zip(data, model, strict=True))
    if slip == "sign":
        out = tuple(-x for x in out)
    return out  # type: ignore[return-value]


ph_fn = ph


def exact_gradient_float32_loops(
    v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Written differently: itertools.product over states, unnormalised weights divided at the end."""
    import itertools

    states = np.array(list(itertools.product([0.0, 1.0], repeat=w.shape[0])))
    f = np.array([-(s @ b) - np.sum(np.logaddexp(0, s @ w + c)) for s in states])
    weights = np.exp(-(f - f.min()))
    z = weights.sum()
    dw, db, dc = np.zeros_like(w), np.zeros_like(b), np.zeros_like(c)
    for s, wt in zip(states, weights, strict=True):
        a = 1 / (1 + np.exp(-(s @ w + c)))
        dw -= wt / z * np.outer(s, a)
        db -= wt / z * s
        dc -= wt / z * a
    for row in v:
        a = 1 / (1 + np.exp(-(row @ w + c)))
        dw += np.outer(row, a) / len(v)
        db += row / len(v)
        dc += a / len(v)
    return dw.astype(np.float32), db.astype(np.float32), dc.astype(np.float32)


def test_exact_gradient_right() -> None:
    r = evaluate("step7.rbm_exact_gradient", exact_gradient)
    assert r.status == "passed", r.message


def test_exact_gradient_written_differently() -> None:
    r = evaluate("step7.rbm_exact_gradient", exact_gradient_float32_loops)
    assert r.status == "passed", r.message


@pytest.mark.parametrize(
    ("slip", "fragment"),
    [
        ("data", "data term alone"),
        ("uniform", "every visible state alike"),
        ("plus_f", "e^(+F(v))"),
        ("sign", "sign is reversed"),
        ("sum", "times too large"),
    ],
)
def test_exact_gradient_slips(slip: str, fragment: str) -> None:
    r = evaluate("step7.rbm_exact_gradient", lambda v, w, b, c: exact_gradient(v, w, b, c, slip=slip))
    expect_failed(r, "central differences", fragment)


def test_exact_gradient_transposed() -> None:
    def transposed(v: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray) -> Any:
        dw, db, dc = exact_gradient(v, w, b, c)
        return dw.T, db, dc

    expect_failed(evaluate("step7.rbm_exact_gradient", transposed), "dW has shape", "transposed")


def test_exact_gradient_stub() -> None:
    assert evaluate("step7.rbm_exact_gradient", stub).status == "not_attempted"


def test_numerical_gradient_matches_the_formula() -> None:
    rng = np.random.default_rng(1)
    v = (rng.random((6, 4)) < 0.5).astype(float)
    w, b, c = rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=3)
    for got, want in zip(exact_gradient(v, w, b, c), rbm.numerical_gradient_ll(v, w, b, c), strict=True):
        assert np.allclose(got, want, atol=1e-6)


# The prediction -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1.0, 1, np.float32(1.0), 0.9999])
def test_prediction_right(value: Any) -> None:
    r = evaluate("step7.cd1_vs_exact", lambda: value)
    assert r.status == "passed", r.message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [(0.0, "not unrelated"), (0.55, "one sampled batch"), (2.0, "lies in [−1, 1]"), (0.9, "depend on v0")],
)
def test_prediction_wrong(value: float, fragment: str) -> None:
    expect_failed(evaluate("step7.cd1_vs_exact", lambda: value), "cd1_cosine_at_zero() is", fragment)


def test_prediction_not_a_number() -> None:
    expect_failed(evaluate("step7.cd1_vs_exact", lambda: "one"), "expected one number")


def test_prediction_stub() -> None:
    assert evaluate("step7.cd1_vs_exact", stub).status == "not_attempted"


def test_expected_cd1_is_exact_at_zero_weights() -> None:
    # The fact the prediction is checked against: with W = 0 the reconstruction is drawn from the
    # model, whatever the biases, so CD-1's expected update equals the exact gradient.
    rng = np.random.default_rng(2)
    v = (rng.random((30, 4)) < 0.5).astype(float)
    w, b, c = np.zeros((4, 3)), rng.normal(size=4), rng.normal(size=3)
    s, h = rbm.all_states(4), rbm.all_states(3)
    p0 = ph(v, w, c)
    p_h = np.prod(np.where(h[None] == 1, p0[:, None], 1 - p0[:, None]), axis=2)
    p_v = np.prod(np.where(s[None] == 1, pv(h, w, b)[:, None], 1 - pv(h, w, b)[:, None]), axis=2)
    q = (p_h @ p_v).mean(axis=0)
    expected = (v.T @ p0 / len(v) - s.T @ (q[:, None] * ph(s, w, c)), v.mean(0) - q @ s)
    exact = exact_gradient(v, w, b, c)
    assert np.allclose(expected[0], exact[0]) and np.allclose(expected[1], exact[1])
