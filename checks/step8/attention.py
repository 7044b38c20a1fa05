"""Checkers for step 8's second notebook (02_attention_by_hand): ``step8.sdpa``,
``step8.softmax_entropy``, ``step8.causal_mask``, ``step8.multi_head`` and ``step8.positions``.

The facts: a numpy reference of softmax(q kᵀ / √d_k) v with masked scores at -inf; entropies of
weight rows whose entropy is known (uniform, one-hot); a causal mask judged by what it does
(change the tokens after step t and nothing at or before t may move); Keras 3's own
``layers.MultiHeadAttention`` (float64, random weights, biases included) to 1e-5, as 7.1 does for
the LSTM; the sinusoidal positions of Vaswani et al. (section 3.5), and the rotation that shifts
them by k steps, checked on every position. Wrong answers are named by re-running the slips
beginners make; those variants only word the message, the verdict comes from the facts.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable

TOLERANCE = 1e-5
ENTROPY_D_KS = (4, 16, 64, 256, 1024)
ENTROPY_T = 32


def _keras() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras

    return keras


def _softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=axis, keepdims=True))


def reference_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    scale: float | None = None,
    axis: int = -1,
    mask_after: bool = False,
    masked_score: float = -1e9,
) -> tuple[np.ndarray, np.ndarray]:
    """softmax(q kᵀ / √d_k) v; the keyword arguments put in the slips that the messages name."""
    scores = q @ np.swapaxes(k, -1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if mask is not None and not mask_after:
        scores = np.where(mask, scores, masked_score)
    weights = _softmax(scores, axis=axis)
    if mask is not None and mask_after:
        weights = weights * mask
    return weights @ v, weights


# sdpa ------------------------------------------------------------------------------------------


def _sdpa_cases() -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]:
    rng = np.random.default_rng(80)
    cases: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]] = []
    for shape_q, t_k, d_v, masked in (
        ((2, 3, 8), 5, 4, False),
        ((2, 4, 8), 4, 3, True),
        ((3, 2, 5, 16), 6, 2, True),  # (batch, heads, Tq, d_k)
        ((1, 1, 64), 7, 5, False),
    ):
        q = rng.normal(0.0, 1.0, shape_q)
        k = rng.normal(0.0, 1.0, (*shape_q[:-2], t_k, shape_q[-1]))
        v = rng.normal(0.0, 1.0, (*shape_q[:-2], t_k, d_v))
        mask = None
        if masked:
            mask = rng.random((*shape_q[:-1], t_k)) < 0.6
            mask[..., 0] = True  # every query may look at something
        cases.append((q, k, v, mask))
    return cases


def _sdpa_slips(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: Any) -> list[tuple[str, np.ndarray]]:
    d_k = q.shape[-1]
    slips = [
        (
            f"the scores were not divided by √d_k = √{d_k}: softmax(q kᵀ) v is sharper than the "
            "scaled softmax(q kᵀ / √d_k) v",
            reference_attention(q, k, v, mask, scale=1.0)[1],
        ),
        (
            f"the scores were divided by d_k = {d_k}, not by its square root √d_k",
            reference_attention(q, k, v, mask, scale=1 / d_k)[1],
        ),
        (
            "the softmax ran over the queries (axis -2), not over the keys (axis -1): each query's "
            "weights must sum to 1 over the keys it looks at",
            reference_attention(q, k, v, mask, axis=-2)[1],
        ),
    ]
    sizes = {f"q.shape[{a}]": q.shape[a] for a in range(q.ndim - 1)} | {"v.shape[-1]": v.shape[-1]}
    for name, size in sizes.items():
        if size != d_k:
            slips.append(
                (
                    f"the scores were divided by √{size}, the square root of {name}; d_k is the size of "
                    f"each query and key vector, q.shape[-1] = {d_k}",
                    reference_attention(q, k, v, mask, scale=1 / math.sqrt(size))[1],
                )
            )
    if mask is not None:
        slips += [
            (
                "the mask was applied after the softmax (the weights multiplied by it), so a query's "
                "weights no longer sum to 1 — mask the scores before the softmax",
                reference_attention(q, k, v, mask, mask_after=True)[1],
            ),
            (
                "the mask is ignored: positions where mask is False still get weight",
                reference_attention(q, k, v, None)[1],
            ),
            (
                "masked scores were set to 0, and e^0 = 1 still gives them weight — use a very "
                "negative number (-1e9 or -np.inf) before the softmax",
                reference_attention(q, k, v, mask, masked_score=0.0)[1],
            ),
            (
                "the mask is read the wrong way round: True means 'may attend'; the positions where "
                "mask is True got no weight",
                reference_attention(q, k, v, ~mask)[1],
            ),
        ]
    return slips


def _call_attention(fn: Any, what: str, *args: Any) -> tuple[np.ndarray, np.ndarray]:
    copies = [a.copy() if a is not None else None for a in args]
    out = fn(*copies)
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise CheckFailed(f"{what} returned {type(out).__name__}; expected a pair (output, weights)")
    if any(c is not None and not np.array_equal(c, a) for c, a in zip(copies, args, strict=True)):
        raise CheckFailed(f"{what} changed its input arrays; compute new arrays instead")
    return as_array(out[0], f"{what}'s output"), as_array(out[1], f"{what}'s weights")


@checker("step8.sdpa")
def check_sdpa(scaled_dot_product_attention: Any) -> str:
    fn = scaled_dot_product_attention
    expect_callable(fn, "scaled_dot_product_attention")
    cases = _sdpa_cases()
    for q, k, v, mask in cases:
        for dtype in (np.float64, np.float32):
            args = (q.astype(dtype), k.astype(dtype), v.astype(dtype), mask)
            what = (
                f"scaled_dot_product_attention(q {q.shape}, k {k.shape}, v {v.shape}, "
                f"{'mask ' + str(mask.shape) if mask is not None else 'mask=None'})"
            )
            out, weights = _call_attention(fn, what, *args)
            want_out, want_w = reference_attention(q, k, v, mask)
            tol = 1e-4 if dtype == np.float32 else TOLERANCE
            if weights.shape != want_w.shape:
                raise CheckFailed(
                    f"{what}: the weights have shape {weights.shape}; expected (..., Tq, Tk) = {want_w.shape}"
                )
            if not np.all(np.isfinite(weights)):
                raise CheckFailed(f"{what}: the weights contain nan or inf; expected finite weights")
            if not np.allclose(weights, want_w, atol=tol):
                message = (
                    f"{what}: the weights differ from softmax(q kᵀ / √d_k) by up to "
                    f"{np.abs(weights - want_w).max():.3g}"
                )
                for cause, variant in _sdpa_slips(q, k, v, mask):
                    if np.allclose(weights, variant, atol=tol):
                        raise CheckFailed(f"{message} — {cause}")
                raise CheckFailed(message)
            if out.shape != want_out.shape:
                raise CheckFailed(f"{what}: the output has shape {out.shape}; expected {want_out.shape}")
            if not np.allclose(out, want_out, atol=tol):
                raise CheckFailed(
                    f"{what}: the weights are right, but the output is off by up to "
                    f"{np.abs(out - want_out).max():.3g} — the output is weights @ v"
                )
    big = (cases[0][0] * 1000, cases[0][1], cases[0][2], None)
    out, weights = _call_attention(fn, "scaled_dot_product_attention(q * 1000, k, v)", *big)
    if not np.all(np.isfinite(weights)):
        raise CheckFailed(
            "scaled_dot_product_attention(q * 1000, k, v) gives nan or inf weights: exp overflows unless you "
            "subtract each row's maximum score before it"
        )
    return (
        f"equals softmax(q kᵀ / √d_k) v on {len(cases)} cases (3-D and 4-D, with and without masks, "
        "float32 and float64, large scores)"
    )


# softmax_entropy -------------------------------------------------------------------------------


def entropy_curves(seed: int = 8) -> dict[str, list[float]]:
    """Mean entropy (nats) of attention weights of random q, k ~ N(0, 1) as d_k grows."""
    rng = np.random.default_rng(seed)
    curves: dict[str, list[float]] = {"unscaled": [], "scaled": []}
    for d_k in ENTROPY_D_KS:
        q = rng.normal(size=(64, ENTROPY_T, d_k))
        k = rng.normal(size=(64, ENTROPY_T, d_k))
        for name, scale in (("unscaled", 1.0), ("scaled", 1 / math.sqrt(d_k))):
            w = _softmax(q @ np.swapaxes(k, -1, -2) * scale)
            curves[name].append(float(np.mean(-np.sum(w * np.log(np.where(w > 0, w, 1.0)), axis=-1))))
    return curves


TRENDS = ("falls", "stays", "rises")


@checker("step8.softmax_entropy")
def check_softmax_entropy(attention_entropy: Any, prediction: Any) -> str:
    expect_callable(attention_entropy, "attention_entropy")
    rng = np.random.default_rng(81)
    t = 8
    uniform = np.full((3, 4, t), 1 / t)
    one_hot = np.zeros((2, 5, t))
    one_hot[..., 3] = 1.0
    random_w = _softmax(rng.normal(0, 2, (4, 6, t)))
    for name, w in (("uniform", uniform), ("one-hot", one_hot), ("random", random_w)):
        for dtype in (np.float64, np.float32):
            what = f"attention_entropy({name} weights of shape {w.shape})"
            got = attention_entropy(w.astype(dtype))
            arr = as_array(got, what)
            rows = -np.sum(w * np.log(np.where(w > 0, w, 1.0)), axis=-1)
            want = float(rows.mean())
            if arr.shape == rows.shape:
                raise CheckFailed(
                    f"{what} returned one entropy per row, shape {arr.shape}; return their mean"
                )
            if arr.shape != ():
                raise CheckFailed(f"{what} returned shape {arr.shape}; expected one number, the mean entropy")
            value = float(arr)
            if not math.isfinite(value):
                raise CheckFailed(
                    f"{what} returned {value}: a weight of exactly 0 makes 0 · log 0 = 0 · (-inf) = nan; "
                    "by convention (the limit) 0 · log 0 = 0, so leave those terms out"
                )
            if abs(value - want) <= 1e-4:
                continue
            causes = [
                (want / math.log(2), "that is in bits (log2); use the natural log, nats"),
                (-want, "the sign is off: entropy is -Σ p log p, which is ≥ 0"),
                (float(rows.sum()), "that is the sum over all rows; return the mean over the rows"),
                (
                    float(-np.sum(w * np.log(np.where(w > 0, w, 1.0)), axis=-2).mean()),
                    "the sum ran over the wrong axis: each query's weights are the last axis",
                ),
                (
                    float(-np.sum(w * np.log(np.where(w > 0, w, 1.0)), axis=0).mean()),
                    "the sum ran over axis 0 (the batch); each query's weights are the last axis",
                ),
                (
                    want / w.shape[-1],
                    "that is the mean of -w ln w over every weight; sum over each row (the last axis), "
                    "then average the rows",
                ),
            ]
            cause = next((c for v, c in causes if abs(value - v) <= 1e-4), "")
            raise CheckFailed(
                f"{what} returned {value:.6g}; expected {want:.6g}"
                + (f" (ln {t} = {math.log(t):.4f} for uniform weights)" if name == "uniform" else "")
                + (f" — {cause}" if cause else "")
            )
    if callable(prediction):
        prediction = prediction()
    if not isinstance(prediction, dict) or set(prediction) != {"unscaled", "scaled"}:
        got = sorted(prediction) if isinstance(prediction, dict) else type(prediction).__name__
        raise CheckFailed(
            f"entropy_prediction() should return a dict with the keys 'unscaled' and 'scaled'; got {got}"
        )
    curves = entropy_curves()
    shown = "; ".join(f"{name}: " + ", ".join(f"{h:.2f}" for h in curve) for name, curve in curves.items())
    facts = {"unscaled": "falls", "scaled": "stays"}
    for name, want_trend in facts.items():
        said = prediction[name]
        if said not in TRENDS:
            raise CheckFailed(f"entropy_prediction()[{name!r}] is {said!r}; choose one of {list(TRENDS)}")
        if said != want_trend:
            why = (
                "without the scaling, the scores' spread grows like √d_k, the softmax nears a one-hot "
                "and its entropy heads to 0"
                if name == "unscaled"
                else "divided by √d_k the scores keep a spread of about 1 whatever d_k, so the entropy "
                "stays put"
            )
            raise CheckFailed(
                f"you predicted the {name} entropy {said} as d_k grows; measured for d_k = "
                f"{', '.join(map(str, ENTROPY_D_KS))} (nats, ln {ENTROPY_T} = {math.log(ENTROPY_T):.2f} is "
                f"uniform): {shown} — {why}"
            )
    return "entropy right on uniform, one-hot and random weights; as predicted, for d_k = " + (
        f"{', '.join(map(str, ENTROPY_D_KS))}: {shown}"
    )


# causal_mask -----------------------------------------------------------------------------------


@checker("step8.causal_mask")
def check_causal_mask(causal_mask: Any) -> str:
    expect_callable(causal_mask, "causal_mask")
    for t in (5, 9, 2, 1):
        what = f"causal_mask({t})"
        raw = causal_mask(t)
        mask = np.asarray(raw)
        if mask.shape != (t, t):
            raise CheckFailed(f"{what} has shape {mask.shape}; expected ({t}, {t}): one row per query step")
        if mask.dtype != bool:
            if np.issubdtype(mask.dtype, np.number) and np.any(mask < 0):
                raise CheckFailed(
                    f"{what} is an additive mask (0 where a step may attend, {mask.min():g} where not); "
                    "this notebook's mask is boolean, True where a step may attend, and the attention "
                    "function turns False into a very negative score itself"
                )
            if not np.all((mask == 0) | (mask == 1)):
                raise CheckFailed(
                    f"{what} holds values other than True/False (e.g. {mask.flat[0]!r}); this notebook's "
                    "mask says True where a step may attend"
                )
            mask = mask.astype(bool)
        # judge by behaviour: change the tokens after step s, and nothing at or before s may move
        rng = np.random.default_rng(82 + t)
        x = rng.normal(size=(1, t, 4))
        if not mask.diagonal().all():
            s = int(np.argmin(mask.diagonal()))
            raise CheckFailed(
                f"{what}: step {s} may not attend to itself (mask[{s}, {s}] is False)"
                + (
                    " — row 0 is then all False and its softmax is 0/0; keep the diagonal: np.tril, k=0"
                    if not mask[0].any()
                    else ""
                )
            )
        out, _ = reference_attention(x, x, x, mask)
        for s in range(t - 1):
            changed = x.copy()
            changed[:, s + 1 :] = rng.normal(size=(1, t - s - 1, 4))
            out2, _ = reference_attention(changed, changed, changed, mask)
            moved = np.abs(out2[:, : s + 1] - out[:, : s + 1]).max()
            if moved > 1e-12:
                j = int(np.argmax(mask[s, s + 1 :])) + s + 1
                raise CheckFailed(
                    f"{what}: changing the tokens after step {s} changed the outputs at steps up to {s} "
                    f"(by up to {moved:.3g}): mask[{s}, {j}] is True, so step {s} sees the future"
                    + (
                        " — np.triu keeps the upper triangle (j ≥ i); the past is np.tril"
                        if mask[0].all()
                        else ""
                    )
                )
        if not np.array_equal(mask, np.tril(np.ones((t, t), dtype=bool))):
            i, j = (int(a) for a in np.argwhere(mask != np.tril(np.ones((t, t), dtype=bool)))[0])
            raise CheckFailed(
                f"{what}: mask[{i}, {j}] is False, so step {i} cannot see step {j} of its own past; "
                "a causal mask hides only the future"
            )
    return "hides exactly the future: outputs up to step s never move when the tokens after s change"


# multi_head ------------------------------------------------------------------------------------

# (N, Tq, Tk, d_model, heads, key_dim); the first case is diagnosed
MHA_CASES = [(2, 4, 5, 6, 2, 3), (1, 3, 3, 8, 4, 2), (3, 5, 2, 4, 1, 5), (2, 6, 6, 10, 5, 4)]


def keras_mha_case(case: tuple[int, ...], seed: int, masked: bool) -> tuple[Any, ...]:
    """Random inputs, a float64 Keras MultiHeadAttention's random weights (biases too) and its output."""
    keras = _keras()
    n, tq, tk, d_model, heads, key_dim = case
    rng = np.random.default_rng(seed)
    layer = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=key_dim, dtype="float64")
    x_q = rng.normal(size=(n, tq, d_model))
    x_kv = rng.normal(size=(n, tk, d_model))
    layer(x_q, x_kv)  # builds it
    layer.set_weights([rng.normal(0.0, 0.5, w.shape) for w in layer.get_weights()])
    mask = None
    if masked:
        mask = rng.random((n, tq, tk)) < 0.6
        mask[..., 0] = True
    out = np.asarray(layer(x_q, x_kv, attention_mask=mask))
    return x_q, x_kv, [np.asarray(w) for w in layer.get_weights()], mask, out


def reference_mha(
    x_q: np.ndarray,
    x_kv: np.ndarray,
    weights: list[np.ndarray],
    mask: np.ndarray | None,
    *,
    scale_dim: str = "key_dim",
    out_bias: bool = True,
    in_bias: bool = True,
    heads_as_one: bool = False,
    kv_from_q: bool = False,
    merge_unmoved: bool = False,
) -> np.ndarray:
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    if kv_from_q:
        x_kv = x_q
    if not in_bias:
        bq, bk, bv = (np.zeros_like(b) for b in (bq, bk, bv))
    q = np.einsum("ntd,dhk->nhtk", x_q, wq) + bq[:, None, :]  # (N, h, Tq, key_dim)
    k = np.einsum("ntd,dhk->nhtk", x_kv, wk) + bk[:, None, :]
    v = np.einsum("ntd,dhk->nhtk", x_kv, wv) + bv[:, None, :]
    d = {"key_dim": q.shape[-1], "d_model": x_q.shape[-1], "all": q.shape[1] * q.shape[-1]}[scale_dim]
    if heads_as_one:  # one big head over the concatenated projections
        q, k, v = (a.transpose(0, 2, 1, 3).reshape(a.shape[0], 1, a.shape[2], -1) for a in (q, k, v))
    m = None if mask is None else mask[:, None]
    out, _ = reference_attention(q, k, v, m, scale=1 / math.sqrt(d))
    if heads_as_one:
        out = out.reshape(out.shape[0], out.shape[2], wo.shape[0], wo.shape[1]).transpose(0, 2, 1, 3)
    if merge_unmoved:  # (N, h, Tq, v) reshaped straight to (N, Tq, h·v): rows of different heads mixed
        merged = out.reshape(out.shape[0], out.shape[2], -1)
        return np.asarray(merged @ wo.reshape(-1, wo.shape[-1]) + bo)
    return np.asarray(np.einsum("nhtv,hvd->ntd", out, wo) + (bo if out_bias else 0.0))


def _mha_slips(x_q: Any, x_kv: Any, w: Any, mask: Any) -> list[tuple[str, np.ndarray]]:
    slips = [
        (
            "the scores were divided by √d_model, not by √key_dim: each head's dot products have key_dim "
            "terms, and Keras scales the queries by 1/√key_dim",
            reference_mha(x_q, x_kv, w, mask, scale_dim="d_model"),
        ),
        (
            "the scores were divided by √(heads · key_dim); each head is scaled by its own √key_dim",
            reference_mha(x_q, x_kv, w, mask, scale_dim="all"),
        ),
        (
            "the output projection's bias (the last weight, shape (d_model,)) is missing",
            reference_mha(x_q, x_kv, w, mask, out_bias=False),
        ),
        (
            "the biases of the query, key and value projections (shape (heads, key_dim)) are missing",
            reference_mha(x_q, x_kv, w, mask, in_bias=False),
        ),
        (
            "that is one big head over the concatenated projections: each head needs its own softmax "
            "over its own key_dim-wide slice",
            reference_mha(x_q, x_kv, w, mask, heads_as_one=True),
        ),
        (
            "the heads (N, heads, Tq, value_dim) were reshaped to (N, Tq, heads · value_dim) without "
            "first moving the heads axis next to value_dim (transpose(0, 2, 1, 3)): the rows of "
            "different heads and steps got mixed",
            reference_mha(x_q, x_kv, w, mask, merge_unmoved=True),
        ),
    ]
    if mask is None:  # x_q has another length than x_kv: a mask would not fit it
        slips.append(
            (
                "the keys and values were computed from x_q; they come from x_kv (the queries from x_q)",
                reference_mha(x_q, x_kv, w, mask, kv_from_q=True),
            )
        )
    return slips


@checker("step8.multi_head")
def check_multi_head(multi_head_attention: Any) -> str:
    fn = multi_head_attention
    expect_callable(fn, "multi_head_attention")
    worst = 0.0
    for n_case, case in enumerate(MHA_CASES):
        for masked in (False, True):
            x_q, x_kv, weights, mask, want = keras_mha_case(case, seed=83 + n_case, masked=masked)
            args = [
                x_q.copy(),
                x_kv.copy(),
                [w.copy() for w in weights],
                None if mask is None else mask.copy(),
            ]
            what = (
                f"multi_head_attention(x_q {x_q.shape}, x_kv {x_kv.shape}, weights of a {case[4]}-head layer "
                f"with key_dim {case[5]}, {'a mask' if masked else 'mask=None'})"
            )
            got = as_array(fn(*args), what)
            if not np.array_equal(args[0], x_q) or any(
                not np.array_equal(a, b) for a, b in zip(args[2], weights, strict=True)
            ):
                raise CheckFailed(f"{what} changed its input arrays; compute new arrays instead")
            if got.shape != want.shape:
                raise CheckFailed(f"{what} returned shape {got.shape}; Keras's layer gives {want.shape}")
            diff = float(np.abs(got - want).max())
            if diff <= TOLERANCE:
                worst = max(worst, diff)
                continue
            message = f"{what}: your output differs from Keras's MultiHeadAttention by up to {diff:.3g}"
            for cause, variant in _mha_slips(x_q, x_kv, weights, mask):
                if np.allclose(got, variant, atol=TOLERANCE):
                    raise CheckFailed(f"{message} — {cause}")
            raise CheckFailed(message)
    return (
        f"matches Keras's MultiHeadAttention on {len(MHA_CASES)} random layers (1 to 5 heads, with and "
        f"without masks): max abs difference {worst:.1e}"
    )


# positions -------------------------------------------------------------------------------------


def reference_positions(t: int, d: int) -> np.ndarray:
    """Vaswani et al. 3.5: PE[t, 2i] = sin(t / 10000^(2i/d)), PE[t, 2i+1] = cos(t / 10000^(2i/d))."""
    rates = 1.0 / 10000 ** (np.arange(0, d, 2) / d)  # (d/2,)
    angles = np.arange(t)[:, None] * rates[None, :]  # (t, d/2)
    pe = np.zeros((t, d))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe


def _position_slips(t: int, d: int) -> list[tuple[str, np.ndarray]]:
    rates = 1.0 / 10000 ** (np.arange(0, d, 2) / d)
    angles = np.arange(t)[:, None] * rates
    swapped = np.zeros((t, d))
    swapped[:, 0::2], swapped[:, 1::2] = np.cos(angles), np.sin(angles)
    wrong_rate = np.arange(t)[:, None] * (1.0 / 10000 ** (np.arange(1, d, 2) / d))
    odd = np.zeros((t, d))
    odd[:, 0::2], odd[:, 1::2] = np.sin(angles), np.cos(wrong_rate)
    by_column = np.arange(t)[:, None] / 10000 ** (np.arange(d) / d)
    per_col = np.where(np.arange(d) % 2 == 0, np.sin(by_column), np.cos(by_column))
    return [
        (
            "sin and cos are swapped: even columns 2i hold the sine, odd columns 2i+1 the cosine",
            swapped,
        ),
        (
            "the halves are concatenated (all sines, then all cosines); the paper interleaves them: "
            "column 2i is a sine, column 2i+1 the cosine of the same frequency",
            np.concatenate([np.sin(angles), np.cos(angles)], axis=1),
        ),
        (
            "each column got its own frequency 10000^(j/d); a sine and its cosine share one, "
            "10000^(2i/d) for columns 2i and 2i+1",
            per_col,
        ),
        ("the cosine columns use the next frequency; columns 2i and 2i+1 share 10000^(2i/d)", odd),
        (
            "pair i got the frequency 1/10000^(i/d); the exponent is 2i/d, with 2i the sine's column",
            _interleave(np.arange(t)[:, None] / 10000 ** (np.arange(d // 2) / d)),
        ),
    ]


def _interleave(angles: np.ndarray) -> np.ndarray:
    pe = np.zeros((angles.shape[0], 2 * angles.shape[1]))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe


def reference_shift(k: int, d: int) -> np.ndarray:
    """M with PE[t + k] = PE[t] @ M: one 2×2 rotation by k·ω_i per frequency."""
    return _shift_at(k, 1.0 / 10000 ** (np.arange(0, d, 2) / d))


def _shift_at(k: int, rates: np.ndarray) -> np.ndarray:
    d = 2 * len(rates)
    m = np.zeros((d, d))
    for i, w in enumerate(rates):
        c, s = math.cos(k * w), math.sin(k * w)
        m[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[c, -s], [s, c]]
    return m


@checker("step8.positions")
def check_positions(sinusoidal_positions: Any, shift_matrix: Any) -> str:
    expect_callable(sinusoidal_positions, "sinusoidal_positions")
    expect_callable(shift_matrix, "shift_matrix")
    for t, d in ((50, 16), (7, 2), (128, 64)):
        what = f"sinusoidal_positions({t}, {d})"
        got = as_array(sinusoidal_positions(t, d), what)
        want = reference_positions(t, d)
        if got.shape != want.shape:
            raise CheckFailed(f"{what} has shape {got.shape}; expected (T, d) = {want.shape}")
        if np.allclose(got, want, atol=1e-5):
            continue
        message = f"{what} differs from Vaswani et al.'s PE by up to {np.abs(got - want).max():.3g}"
        for cause, variant in _position_slips(t, d):
            if np.allclose(got, variant, atol=1e-5):
                raise CheckFailed(f"{message} — {cause}")
        if not np.allclose(got[0], want[0], atol=1e-5):
            start = np.round(got[0, :4], 3)
            message += f" (at t = 0 the row is sin 0, cos 0, … = 0, 1, 0, 1, …; yours starts {start})"
        raise CheckFailed(message)
    pe = reference_positions(200, 16)
    for k in (1, 3, 10, -4):
        what = f"shift_matrix({k}, 16)"
        m = as_array(shift_matrix(k, 16), what)
        if m.shape != (16, 16):
            raise CheckFailed(f"{what} has shape {m.shape}; expected (d, d) = (16, 16)")
        lo, hi = max(0, -k), min(200, 200 - k)
        moved = pe[lo:hi] @ m  # (rows, 16): should be PE[t + k]
        err = float(np.abs(moved - pe[lo + k : hi + k]).max())
        if err <= 1e-6:
            continue
        angle_k = np.zeros((16, 16))
        for i in range(8):  # every block turned by k radians, whatever its frequency
            c, s = math.cos(k), math.sin(k)
            angle_k[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[c, -s], [s, c]]
        cause = ""
        if np.allclose(m, reference_shift(-k, 16), atol=1e-6):
            cause = " — PE[t] @ M gives PE[t - k]: the rotation turns the wrong way; transpose each 2×2 block"
        elif k != 1 and np.allclose(m, reference_shift(1, 16), atol=1e-6):
            cause = " — that is the shift by one step whatever k; block i turns by k · ω_i"
        elif np.allclose(m, angle_k, atol=1e-6):
            cause = " — every block turns by k radians; block i must turn by k · ω_i, ω_i = 1/10000^(2i/d)"
        elif np.allclose(m, _shift_at(k, 1.0 / 10000 ** (np.arange(8) / 16)), atol=1e-6):
            cause = " — block i turns by k/10000^(i/d); its frequency is ω_i = 1/10000^(2i/d)"
        elif np.allclose(m, np.diag(np.diag(m)), atol=1e-12):
            cause = (
                " — M is diagonal: a shift turns each (sin, cos) pair, so each 2×2 block needs its sine "
                "terms, [[cos kω_i, -sin kω_i], [sin kω_i, cos kω_i]]"
            )
        raise CheckFailed(
            f"{what}: PE[t] @ M is off from PE[t + k] by up to {err:.3g} over t = {lo} … {hi - 1}{cause}"
        )
    return (
        "the sinusoidal positions match the paper on 3 sizes, and PE[t] @ shift_matrix(k) = PE[t + k] "
        "for every t and k in (1, 3, 10, -4)"
    )
