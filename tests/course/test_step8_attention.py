"""Step 8, notebook 2 checkers: attention by hand, the entropy prediction, the causal mask,
multi-head attention against Keras, sinusoidal positions and their shift.

Each passes a right answer and one written differently (float32, loops, other formulas), and fails
the slips beginners make with a message that names them.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import course

attention = course("step8").attention

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# sdpa ------------------------------------------------------------------------------------------


def sdpa(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: Any = None,
    *,
    scale: bool = True,
    axis: int = -1,
    after: bool = False,
    fill: float = -1e9,
) -> tuple[np.ndarray, np.ndarray]:
    scores = q @ np.swapaxes(k, -1, -2) / (np.sqrt(q.shape[-1]) if scale else 1.0)
    if mask is not None and not after:
        scores = np.where(mask, scores, fill)
    w = softmax(scores, axis=axis)
    if mask is not None and after:
        w = w * mask
    return w @ v, w


def sdpa_einsum(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Written differently: float32, einsum, -inf for the mask, scaling the queries first."""
    q, k, v = (a.astype(np.float32) for a in (q, k, v))
    scores = np.einsum("...qd,...kd->...qk", q * q.shape[-1] ** -0.5, k)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    w = np.exp(scores)
    w /= w.sum(axis=-1, keepdims=True)
    return np.einsum("...qk,...kv->...qv", w, v), w


def test_sdpa_right() -> None:
    r = evaluate("step8.sdpa", sdpa)
    assert r.status == "passed", r.message


def test_sdpa_written_differently() -> None:
    r = evaluate("step8.sdpa", sdpa_einsum)
    assert r.status == "passed", r.message


def test_sdpa_no_scaling() -> None:
    expect_failed(evaluate("step8.sdpa", lambda *a: sdpa(*a, scale=False)), "not divided by √d_k")


def test_sdpa_softmax_over_queries() -> None:
    expect_failed(evaluate("step8.sdpa", lambda *a: sdpa(*a, axis=-2)), "over the queries (axis -2)")


def test_sdpa_mask_after_softmax() -> None:
    expect_failed(
        evaluate("step8.sdpa", lambda *a: sdpa(*a, after=True)), "mask was applied after the softmax"
    )


def test_sdpa_mask_zero() -> None:
    expect_failed(evaluate("step8.sdpa", lambda *a: sdpa(*a, fill=0.0)), "set to 0", "e^0 = 1")


def test_sdpa_overflow_and_stub() -> None:
    def naive(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: Any = None) -> tuple[np.ndarray, np.ndarray]:
        scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
        if mask is not None:
            scores = np.where(mask, scores, -1e9)
        with np.errstate(over="ignore", invalid="ignore"):
            w = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
        return w @ v, w

    expect_failed(evaluate("step8.sdpa", naive), "q * 1000", "subtract each row's maximum")
    assert evaluate("step8.sdpa", stub).status == "not_attempted"


# softmax_entropy -------------------------------------------------------------------------------

RIGHT = {"unscaled": "falls", "scaled": "stays"}


def entropy(w: np.ndarray) -> float:
    return float(np.mean(-np.sum(w * np.log(np.where(w > 0, w, 1.0)), axis=-1)))


def entropy_scipy_like(w: np.ndarray) -> np.float32:
    """Written differently: float32, xlogy-style masking with np.log of w + (w == 0), reshape to rows."""
    rows = w.astype(np.float32).reshape(-1, w.shape[-1])
    return np.float32(-(rows * np.log(rows + (rows == 0))).sum(axis=1).mean())


def test_entropy_right_and_different() -> None:
    assert evaluate("step8.softmax_entropy", entropy, RIGHT).status == "passed"
    r = evaluate("step8.softmax_entropy", entropy_scipy_like, lambda: dict(RIGHT))
    assert r.status == "passed", r.message


@pytest.mark.parametrize(
    ("fn", "fragments"),
    [
        (lambda w: entropy(w) / np.log(2), ("in bits (log2)",)),
        (lambda w: float(np.mean(-np.sum(w * np.log(w), axis=-1))), ("0 · log 0", "nan")),
        (lambda w: -entropy(w), ("the sign is off",)),
        (lambda w: -np.sum(w * np.log(np.where(w > 0, w, 1.0)), axis=-1), ("one entropy per row",)),
    ],
)
def test_entropy_mistakes(fn: Any, fragments: tuple[str, ...]) -> None:
    with np.errstate(divide="ignore", invalid="ignore"):
        expect_failed(evaluate("step8.softmax_entropy", fn, RIGHT), *fragments)


def test_entropy_wrong_predictions() -> None:
    r = evaluate("step8.softmax_entropy", entropy, {"unscaled": "stays", "scaled": "stays"})
    expect_failed(r, "you predicted the unscaled entropy stays", "heads to 0")
    r = evaluate("step8.softmax_entropy", entropy, {"unscaled": "falls", "scaled": "falls"})
    expect_failed(r, "you predicted the scaled entropy falls", "stays put")
    expect_failed(
        evaluate("step8.softmax_entropy", entropy, {"unscaled": "down"}), "keys 'unscaled' and 'scaled'"
    )


def test_entropy_curves_fall_and_stay() -> None:
    curves = attention.entropy_curves()
    assert curves["unscaled"][0] > 2 * curves["unscaled"][-1]
    assert max(curves["scaled"]) - min(curves["scaled"]) < 0.1


# causal_mask -----------------------------------------------------------------------------------


def test_causal_mask_right_and_different() -> None:
    assert evaluate("step8.causal_mask", lambda t: np.tril(np.ones((t, t), dtype=bool))).status == "passed"

    def by_comparison(t: int) -> np.ndarray:  # written differently: broadcasting, ints 0/1
        return (np.arange(t)[None, :] <= np.arange(t)[:, None]).astype(int)

    r = evaluate("step8.causal_mask", by_comparison)
    assert r.status == "passed", r.message


def test_causal_mask_upper_triangle() -> None:
    r = evaluate("step8.causal_mask", lambda t: np.triu(np.ones((t, t), dtype=bool)))
    expect_failed(r, "changing the tokens after step 0", "sees the future", "np.triu")


def test_causal_mask_no_diagonal() -> None:
    r = evaluate("step8.causal_mask", lambda t: np.tril(np.ones((t, t), dtype=bool), k=-1))
    expect_failed(r, "may not attend to itself", "k=0")


def test_causal_mask_additive_floats_and_too_strict() -> None:
    def additive(t: int) -> np.ndarray:
        return np.where(np.tril(np.ones((t, t))) > 0, 0.0, -1e9)

    expect_failed(evaluate("step8.causal_mask", additive), "additive mask", "True where a step may attend")
    expect_failed(evaluate("step8.causal_mask", lambda t: np.eye(t, dtype=bool)), "cannot see step 0")


# multi_head ------------------------------------------------------------------------------------


def mha(
    x_q: np.ndarray,
    x_kv: np.ndarray,
    weights: list[np.ndarray],
    mask: Any = None,
    *,
    scale_by: str = "key_dim",
    out_bias: bool = True,
) -> np.ndarray:
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    q = np.einsum("ntd,dhk->nhtk", x_q, wq) + bq[:, None, :]
    k = np.einsum("ntd,dhk->nhtk", x_kv, wk) + bk[:, None, :]
    v = np.einsum("ntd,dhk->nhtk", x_kv, wv) + bv[:, None, :]
    if scale_by == "d_model":
        q = q * np.sqrt(q.shape[-1]) / np.sqrt(x_q.shape[-1])
    heads, _ = sdpa(q, k, v, None if mask is None else mask[:, None])
    return np.einsum("nhtv,hvd->ntd", heads, wo) + (bo if out_bias else 0.0)


def mha_concat(x_q: np.ndarray, x_kv: np.ndarray, weights: list[np.ndarray], mask: Any = None) -> np.ndarray:
    """Written differently: the paper's form, one head at a time, concatenated, one output matrix; float32."""
    wq, bq, wk, bk, wv, bv, wo, bo = (w.astype(np.float32) for w in weights)
    h = bq.shape[0]
    outs = []
    for i in range(h):
        out, _ = sdpa_einsum(x_q @ wq[:, i] + bq[i], x_kv @ wk[:, i] + bk[i], x_kv @ wv[:, i] + bv[i], mask)
        outs.append(out)
    return np.concatenate(outs, axis=-1) @ wo.reshape(h * wo.shape[1], -1) + bo


def test_mha_right() -> None:
    r = evaluate("step8.multi_head", mha)
    assert r.status == "passed", r.message
    assert "max abs difference" in r.message


def test_mha_written_differently() -> None:
    r = evaluate("step8.multi_head", mha_concat)
    assert r.status == "passed", r.message


def test_mha_scaled_by_d_model() -> None:
    expect_failed(
        evaluate("step8.multi_head", lambda *a: mha(*a, scale_by="d_model")), "√d_model", "√key_dim"
    )


def test_mha_no_output_bias() -> None:
    expect_failed(
        evaluate("step8.multi_head", lambda *a: mha(*a, out_bias=False)), "output projection's bias"
    )


def test_mha_no_input_biases() -> None:
    def no_bias(x_q: np.ndarray, x_kv: np.ndarray, w: list[np.ndarray], mask: Any = None) -> np.ndarray:
        w = list(w)
        for i in (1, 3, 5):
            w[i] = np.zeros_like(w[i])
        return mha(x_q, x_kv, w, mask)

    expect_failed(evaluate("step8.multi_head", no_bias), "query, key and value projections")


def test_mha_mask_ignored_and_stub() -> None:
    r = evaluate("step8.multi_head", lambda x_q, x_kv, w, mask=None: mha(x_q, x_kv, w))
    expect_failed(r, "a mask", "differs from Keras's MultiHeadAttention")
    assert evaluate("step8.multi_head", stub).status == "not_attempted"


# positions -------------------------------------------------------------------------------------


def pe(t: int, d: int) -> np.ndarray:
    return attention.reference_positions(t, d)


def pe_loop(t: int, d: int) -> list[list[float]]:
    """Written differently: two loops and math, float32-rounded, returned as lists."""
    import math

    rows = []
    for pos in range(t):
        row = []
        for j in range(d):
            angle = pos / 10000 ** ((j - j % 2) / d)
            row.append(float(np.float32(math.sin(angle) if j % 2 == 0 else math.cos(angle))))
        rows.append(row)
    return rows


def shift(k: int, d: int) -> np.ndarray:
    return attention.reference_shift(k, d)


def shift_lstsq(k: int, d: int) -> np.ndarray:
    """Written differently: solve PE[t] M = PE[t + k] by least squares on the positions themselves."""
    p = attention.reference_positions(400, d)
    a, b = (p[: 400 - k], p[k:]) if k >= 0 else (p[-k:], p[: 400 + k])
    return np.linalg.lstsq(a, b, rcond=None)[0]


def test_positions_right_and_different() -> None:
    assert evaluate("step8.positions", pe, shift).status == "passed"
    r = evaluate("step8.positions", pe_loop, shift_lstsq)
    assert r.status == "passed", r.message


def test_positions_sin_cos_swapped() -> None:
    def swapped(t: int, d: int) -> np.ndarray:
        p = pe(t, d)
        return p[:, np.arange(d) ^ 1]

    expect_failed(evaluate("step8.positions", swapped, shift), "sin and cos are swapped")


def test_positions_concatenated() -> None:
    def halves(t: int, d: int) -> np.ndarray:
        p = pe(t, d)
        return np.concatenate([p[:, 0::2], p[:, 1::2]], axis=1)

    expect_failed(evaluate("step8.positions", halves, shift), "concatenated", "interleaves")


def test_positions_frequency_per_column() -> None:
    def per_column(t: int, d: int) -> np.ndarray:
        angles = np.arange(t)[:, None] / 10000 ** (np.arange(d) / d)
        return np.where(np.arange(d) % 2 == 0, np.sin(angles), np.cos(angles))

    expect_failed(evaluate("step8.positions", per_column, shift), "its own frequency")


def test_shift_wrong_way_and_radians() -> None:
    expect_failed(evaluate("step8.positions", pe, lambda k, d: shift(-k, d)), "turns the wrong way")

    def radians(k: int, d: int) -> np.ndarray:
        m = np.zeros((d, d))
        for i in range(d // 2):
            c, s = np.cos(k), np.sin(k)
            m[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[c, -s], [s, c]]
        return m

    expect_failed(evaluate("step8.positions", pe, radians), "k radians")
    expect_failed(evaluate("step8.positions", pe, lambda k, d: shift(1, d)), "shift by one step")


# Mistakes found by running learners' answers through `dl7 run`: each failed before with no cause.


def test_sdpa_scaled_by_another_size() -> None:
    def by_batch(q: Any, k: Any, v: Any, mask: Any = None) -> Any:
        scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[0])  # the batch size, not d_k
        if mask is not None:
            scores = np.where(mask, scores, -1e9)
        w = softmax(scores)
        return w @ v, w

    expect_failed(evaluate("step8.sdpa", by_batch), "square root of q.shape[0]", "q.shape[-1]")


@pytest.mark.parametrize(
    ("fn", "fragments"),
    [
        (lambda w: float(np.mean(-np.sum(w * np.log(np.where(w > 0, w, 1.0)), axis=0))), ("axis 0",)),
        (lambda w: float(-np.mean(w * np.log(np.where(w > 0, w, 1.0)))), ("over every weight",)),
    ],
)
def test_entropy_summed_elsewhere(fn: Any, fragments: tuple[str, ...]) -> None:
    expect_failed(evaluate("step8.softmax_entropy", fn, {"unscaled": "falls", "scaled": "stays"}), *fragments)


def test_mha_heads_merged_without_transpose() -> None:
    def unmoved(x_q: Any, x_kv: Any, weights: Any, mask: Any = None) -> Any:
        wq, bq, wk, bk, wv, bv, wo, bo = weights
        q = np.einsum("ntd,dhk->nhtk", x_q, wq) + bq[:, None, :]
        k = np.einsum("ntd,dhk->nhtk", x_kv, wk) + bk[:, None, :]
        v = np.einsum("ntd,dhk->nhtk", x_kv, wv) + bv[:, None, :]
        heads, _ = sdpa(q, k, v, None if mask is None else mask[:, None])
        return heads.reshape(x_q.shape[0], x_q.shape[1], -1) @ wo.reshape(-1, wo.shape[-1]) + bo

    expect_failed(evaluate("step8.multi_head", unmoved), "without first moving the heads axis")


def test_mha_keys_from_the_queries() -> None:
    expect_failed(evaluate("step8.multi_head", lambda q, kv, w, m=None: mha(q, q, w)), "computed from x_q")


def test_positions_pair_index_exponent() -> None:
    def pair_index(t: int, d: int) -> np.ndarray:
        angles = np.arange(t)[:, None] / 10000 ** (np.arange(d // 2) / d)
        p = np.zeros((t, d))
        p[:, 0::2], p[:, 1::2] = np.sin(angles), np.cos(angles)
        return p

    expect_failed(evaluate("step8.positions", pair_index, shift), "1/10000^(i/d)", "2i/d")


def test_shift_pair_index_and_no_sines() -> None:
    def pair_index(k: int, d: int) -> np.ndarray:
        return attention._shift_at(k, 1.0 / 10000 ** (np.arange(d // 2) / d))

    expect_failed(evaluate("step8.positions", pe, pair_index), "k/10000^(i/d)")
    expect_failed(
        evaluate("step8.positions", pe, lambda k, d: np.diag(np.diag(shift(k, d)))), "M is diagonal"
    )
