"""Checkers for Step 8.3, a transformer block: layer norm, the pre-norm residual block, the
parameter count of a small GPT and how the cost of attention grows with the sequence length.

Facts the checkers compare with: layer norm computed here over the last axis with the
population variance and ``eps`` inside the square root (Ba, Kiros & Hinton 2016; Keras's
``LayerNormalization``); the block's output computed here from callables the checker makes, each
a different map so that every wrong wiring gives a different number; the exact parameter count
of the notebook's design (Keras's ``MultiHeadAttention`` and ``Dense`` with their biases, two
layer norms per block, learnt positions, a final layer norm and an untied output layer), which
the course's tests match against ``model.count_params()``; and the growth of the work when the
length doubles: T² score entries for attention, T steps for a recurrent layer.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable

# step8.layer_norm -----------------------------------------------------------------------------


def reference_layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)  # the population variance, as Keras and the paper
    out: np.ndarray = gamma * (x - mean) / np.sqrt(var + eps) + beta
    return out


def _norm_over(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, axis: int) -> np.ndarray:
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True)
    out: np.ndarray = gamma * (x - mean) / np.sqrt(var + eps) + beta
    return out


def _layer_norm_cause(got: np.ndarray, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> str:
    def close(want: np.ndarray) -> bool:
        return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-4, atol=1e-5))

    for axis in range(x.ndim - 1):
        with np.errstate(all="ignore"):
            if close(_norm_over(x, gamma, beta, eps, axis)):
                return (
                    f" — you normalised over axis {axis}: that is batch norm (3.6), which averages each "
                    "feature over the examples; layer norm averages each example's own features, the "
                    "last axis (keepdims=True)"
                )
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    if close(gamma * (x - mean) / (std + eps) + beta):
        return " — eps goes inside the square root, sqrt(var + eps), not after it (std + eps)"
    if close(gamma * (x - mean) / np.sqrt(x.var(axis=-1, ddof=1, keepdims=True) + eps) + beta):
        return " — that is the sample variance (ddof=1); layer norm divides by d, as np.var does by default"
    if close((x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)):
        return " — the output is not scaled by gamma and shifted by beta"
    if close(gamma * (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)):
        return " — beta is missing: add it after scaling by gamma"
    if close(gamma * (x - mean) / (x.var(axis=-1, keepdims=True) + eps) + beta):
        return " — you divided by the variance; divide by its square root, the standard deviation"
    return ""


@checker("step8.layer_norm")
def check_layer_norm(layer_norm: Any) -> str:
    expect_callable(layer_norm, "layer_norm")
    rng = np.random.default_rng(83)
    cases: list[tuple[np.ndarray, str, float]] = [
        (rng.normal(2.0, 3.0, size=(4, 6)), "x of shape (4, 6)", 1e-5),
        (rng.normal(-1.0, 0.5, size=(2, 5, 8)), "x of shape (2, 5, 8): (batch, time, d)", 1e-5),
        (rng.normal(0.0, 0.01, size=(3, 16)), "x of shape (3, 16) with a spread of only 0.01", 1e-3),
        (rng.normal(0.0, 1.0, size=(5, 7)).astype(np.float32), "float32 x of shape (5, 7)", 1e-5),
    ]
    for x, desc, eps in cases:
        d = x.shape[-1]
        gamma = np.asarray(rng.uniform(0.5, 2.0, size=d))
        beta = np.asarray(rng.normal(0.0, 1.0, size=d))
        x_copy = x.copy()
        what = f"layer_norm on {desc}, eps={eps:g}"
        got = as_array(layer_norm(x, gamma, beta, eps), what)
        if not np.array_equal(x, x_copy):
            raise CheckFailed(f"{what} changed x; compute on a copy (x - mean makes a new array)")
        want = reference_layer_norm(x, gamma, beta, eps)
        if got.shape != want.shape:
            raise CheckFailed(
                f"{what} returned shape {got.shape}; expected {want.shape}, the shape of x "
                "(keepdims=True keeps the mean and variance broadcastable)"
            )
        tol = 1e-4 if x.dtype == np.float32 else 1e-6
        if not np.allclose(got, want, rtol=tol, atol=tol):
            i = np.unravel_index(int(np.argmax(np.abs(got - want))), got.shape)
            raise CheckFailed(
                f"{what} is off at index {tuple(int(k) for k in i)}: got {got[i]:.6g}, expected "
                f"{want[i]:.6g}" + _layer_norm_cause(got, np.asarray(x, np.float64), gamma, beta, eps)
            )
    return "mean and variance over each vector's own features, eps inside the root, gamma and beta: 4 cases"


# step8.pre_norm_block -------------------------------------------------------------------------


def _maps(rng: np.random.Generator, d: int) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Four different maps standing in for attention, the MLP and the two layer norms."""
    a = rng.normal(0, 0.5, (d, d))
    m = rng.normal(0, 0.5, (d, d))
    g1, g2 = rng.uniform(0.5, 1.5, d), rng.uniform(1.5, 2.5, d)
    b1, b2 = rng.normal(0, 0.3, d), rng.normal(0, 0.3, d)
    return {
        "attn": lambda h: np.tanh(h @ a),
        "mlp": lambda h: np.maximum(h @ m, 0.0) - 0.3,
        "norm1": lambda h: reference_layer_norm(h, g1, b1, 1e-5),
        "norm2": lambda h: reference_layer_norm(h, g2, b2, 1e-5),
    }


def _wirings(x: np.ndarray, f: dict[str, Callable[[np.ndarray], np.ndarray]]) -> dict[str, np.ndarray]:
    attn, mlp, n1, n2 = f["attn"], f["mlp"], f["norm1"], f["norm2"]
    h = x + attn(n1(x))
    post = n1(x + attn(x))
    return {
        "right": h + mlp(n2(h)),
        "post-norm": n2(post + mlp(post)),
        "post-norm, unnormalised output": post + mlp(post),
        "no residual": mlp(n2(attn(n1(x)))),
        "no residual around the MLP": mlp(n2(h)),
        "no residual around attention": attn(n1(x)) + mlp(n2(attn(n1(x)))),
        "parallel": x + attn(n1(x)) + mlp(n2(x)),
        "norm on the residual path": n1(x) + attn(n1(x)) + mlp(n2(n1(x) + attn(n1(x)))),
        "norms swapped": (x + attn(n2(x))) + mlp(n1(x + attn(n2(x)))),
        "a final norm": n2(h + mlp(n2(h))),
        "norms after the sublayers": (x + n1(attn(x))) + n2(mlp(x + n1(attn(x)))),
    }


_BLOCK_CAUSES = {
    "post-norm": "you normalise after adding (post-norm, the original 2017 order): in a pre-norm block the "
    "norm is applied to the input of each sublayer, and the residual path x → x + ... carries x "
    "itself, never normalised",
    "post-norm, unnormalised output": "you add attn(x) to x and then normalise (post-norm); pre-norm "
    "normalises the sublayer's input instead: h = x + attn(norm1(x))",
    "no residual": "there is no residual path: the output must be h + mlp(norm2(h)) with h = x + "
    "attn(norm1(x)); without the `x +` and `h +` the block is a plain stack",
    "no residual around the MLP": "the MLP's output replaces h instead of being added to it: return "
    "h + mlp(norm2(h))",
    "no residual around attention": "attention's output replaces x instead of being added to it: h = x + "
    "attn(norm1(x))",
    "parallel": "the MLP reads x; in this block it reads h = x + attn(norm1(x)), the output of the first "
    "half (the parallel form, GPT-J's, is another design)",
    "norm on the residual path": "you normalise x itself and carry the normalised x on: only the "
    "sublayers' inputs are normalised; the residual path carries x unchanged",
    "norms swapped": "norm1 belongs to attention and norm2 to the MLP",
    "norms after the sublayers": "you normalise the sublayers' outputs, norm1(attn(x)); pre-norm "
    "normalises their inputs: h = x + attn(norm1(x)), then h + mlp(norm2(h))",
    "a final norm": "the block ends with h + mlp(norm2(h)); there is no norm after the last addition "
    "(GPT adds one final layer norm after the whole stack, not per block)",
}


def _on_tensors(pre_norm_block: Any) -> None:
    """The notebook calls the block on TensorFlow tensors with Keras layers: it must work there too."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    from keras import ops

    rng = np.random.default_rng(85)
    x = rng.normal(0.0, 1.5, size=(2, 3, 4)).astype(np.float32)
    a, m = (rng.normal(0, 0.5, (4, 4)).astype(np.float32) for _ in range(2))
    f = {"attn": lambda h: np.tanh(h @ a), "mlp": lambda h: np.maximum(h @ m, 0.0) - 0.3}
    t = {"attn": lambda h: ops.tanh(ops.matmul(h, a)), "mlp": lambda h: ops.relu(ops.matmul(h, m)) - 0.3}
    for name in ("norm1", "norm2"):
        f[name] = t[name] = lambda h: h * 0.5 + 0.1
    try:
        got = np.asarray(ops.convert_to_numpy(pre_norm_block(ops.convert_to_tensor(x), *t.values())))
    except Exception as exc:  # the learner's code meets tensors: any failure is theirs to read
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise CheckFailed(
            "pre_norm_block works on numpy arrays but fails on the TensorFlow tensors the notebook's Keras "
            f"layers give it ({type(exc).__name__}: {first}) — use only + and the four functions passed "
            "in; a tensor has no .copy() and cannot be written into (h = x + ... makes a new one)"
        ) from None
    if not np.allclose(got, _wirings(x, f)["right"], atol=1e-4):
        raise CheckFailed("pre_norm_block gives other numbers on TensorFlow tensors than on numpy arrays")


@checker("step8.pre_norm_block")
def check_pre_norm_block(pre_norm_block: Any) -> str:
    expect_callable(pre_norm_block, "pre_norm_block")
    rng = np.random.default_rng(84)
    for shape in [(3, 5), (2, 4, 6)]:
        x = rng.normal(0.0, 1.5, size=shape)
        f = _maps(rng, shape[-1])
        x_copy = x.copy()
        what = f"pre_norm_block(x, attn, mlp, norm1, norm2) on x of shape {shape}"
        out = pre_norm_block(x, f["attn"], f["mlp"], f["norm1"], f["norm2"])
        if out is None:
            raise CheckFailed(f"{what} returned None; did you forget a `return`?")
        got = as_array(out, what)
        if not np.array_equal(x, x_copy):
            raise CheckFailed(f"{what} changed x; `x += ...` writes into the caller's array: use h = x + ...")
        wirings = _wirings(x, f)
        want = wirings["right"]
        if got.shape != want.shape:
            raise CheckFailed(f"{what} returned shape {got.shape}; expected {want.shape}, the shape of x")
        if np.allclose(got, want, rtol=1e-5, atol=1e-6):
            continue
        cause = next(
            (_BLOCK_CAUSES[k] for k, v in wirings.items() if k != "right" and np.allclose(got, v, atol=1e-6)),
            "expected h = x + attn(norm1(x)), then h + mlp(norm2(h))",
        )
        raise CheckFailed(f"{what} does not match the pre-norm block — {cause}")
    _on_tensors(pre_norm_block)
    return "h = x + attn(norm1(x)); out = h + mlp(norm2(h)), checked with four distinct maps on 2 shapes"


# step8.param_count ----------------------------------------------------------------------------


def gpt_params(vocab_size: int, seq_len: int, d_model: int, n_layers: int) -> int:
    """Exact parameter count of the notebooks' GPT (the ratio 4 for the MLP's hidden width)."""
    d, v = d_model, vocab_size
    attention = 4 * d * d + 4 * d  # query, key, value and output projections, each with a bias
    mlp = d * 4 * d + 4 * d + 4 * d * d + d  # d → 4d → d, with biases
    norms = 2 * 2 * d  # two layer norms, a gamma and a beta each
    embeddings = v * d + seq_len * d  # characters and positions
    head = 2 * d + d * v + v  # the final layer norm and the output layer
    return embeddings + n_layers * (attention + mlp + norms) + head


def _param_slips(v: int, t: int, d: int, n: int) -> dict[int, str]:
    right = gpt_params(v, t, d, n)
    biases_norms = n * (13 * d) + 2 * d + v
    return {
        12 * n * d * d: "that is 12·L·d², the blocks' weight matrices alone; add the embeddings, the "
        "output layer, the biases and the layer norms",
        right - n * 4 * d * d - n * 3 * d: "the MLP's hidden layer has 4·d units (d → 4d → d), so its "
        "two weight matrices hold 8·d², not 4·d²",
        right - t * d: "the position embedding is missing: seq_len rows of d numbers",
        right - v * d - v: "the output layer is missing: d·V weights and V biases, one logit per character",
        right - v * d: "the character embedding is missing: V rows of d numbers",
        right - biases_norms: "the biases and the layer norms' gamma and beta are missing",
        right - n * 4 * d - 2 * d: "the layer norms are missing: each has a gamma and a beta of d numbers, "
        "two per block and one at the end",
        right - 2 * d: "the final layer norm is missing: after the last block, before the output layer, "
        "a gamma and a beta of d numbers",
        right - n * (d * d + d): "attention has four projections, each d·d + d: query, key, value and the "
        "output one that mixes the heads",
        right - n * 9 * d - v: "the biases are missing: Dense and MultiHeadAttention have them by default",
        12 * n * d * d + v * d + t * d + d * v: "that is 12·L·d² plus the embeddings and the output layer: "
        "the approximation; the exact count adds every bias and every layer norm's gamma and beta",
    }


@checker("step8.param_count")
def check_param_count(param_count: Any) -> str:
    expect_callable(param_count, "param_count")
    cases = [(102, 64, 64, 2), (65, 256, 384, 6), (50_257, 1024, 768, 12), (10, 8, 16, 1)]
    for v, t, d, n in cases:
        what = f"param_count(vocab_size={v}, seq_len={t}, d_model={d}, n_layers={n})"
        got = param_count(v, t, d, n)
        if got is None:
            raise CheckFailed(f"{what} returned None; did you forget a `return`?")
        try:
            value = float(np.asarray(got, dtype=np.float64).reshape(()))
        except (TypeError, ValueError):
            raise CheckFailed(f"{what} returned {type(got).__name__}; expected one whole number") from None
        want = gpt_params(v, t, d, n)
        if value == want:
            continue
        msg = f"{what} returned {value:,.0f}; the model has {want:,}"
        slip = _param_slips(v, t, d, n).get(round(value)) if value.is_integer() else None
        if slip:
            msg += f" — {slip}"
        elif not math.isfinite(value) or not value.is_integer():
            msg += " — a count of numbers is a whole number"
        raise CheckFailed(msg)
    share = 12 * 12 * 768**2 / gpt_params(50_257, 1024, 768, 12)
    return (
        f"exact on 4 sizes, GPT-2 small's shape included ({gpt_params(50_257, 1024, 768, 12):,} with "
        "an output layer of its own; "
        f"12·L·d² is {share:.0%} of it, the rest mostly the embedding and output layer)"
    )


# step8.cost_growth ----------------------------------------------------------------------------


@checker("step8.cost_growth")
def check_cost_growth(cost_growth: Any) -> str:
    expect_callable(cost_growth, "cost_growth")
    got = cost_growth()
    if not isinstance(got, dict) or set(got) != {"attention", "recurrent"}:
        raise CheckFailed(
            f"cost_growth() should return a dict with the keys 'attention' and 'recurrent'; got {got!r}"
        )
    for key in ("attention", "recurrent"):
        value = got[key]
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise CheckFailed(f"cost_growth()[{key!r}] is {value!r}; expected one number, a factor")
    att, rec = float(got["attention"]), float(got["recurrent"])
    if math.isclose(att, 2.0) and math.isclose(rec, 2.0):
        raise CheckFailed(
            "you predict that both grow 2×; the recurrent layer does (one step per position), but "
            "attention scores every pair of positions: T × T entries, so doubling T gives 4× as many"
        )
    if not math.isclose(att, 4.0, rel_tol=1e-3):
        raise CheckFailed(
            f"cost_growth()['attention'] is {att:g}; the score matrix Q Kᵀ has T × T entries, each a dot "
            "product of length d_k: what happens to T² when T doubles?"
        )
    if math.isclose(rec, 4.0) or math.isclose(rec, 1.0):
        raise CheckFailed(
            f"cost_growth()['recurrent'] is {rec:g}; a recurrent layer does the same work at each of "
            "the T steps (h = tanh(x W + h U)), so doubling T doubles it"
        )
    if not math.isclose(rec, 2.0, rel_tol=1e-3):
        raise CheckFailed(f"cost_growth()['recurrent'] is {rec:g}; count the steps: T of them")
    return "attention's work grows 4× when T doubles (T² pairs), a recurrent layer's 2× (T steps)"
