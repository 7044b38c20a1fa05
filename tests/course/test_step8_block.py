"""Step 8.3 checkers (a transformer block): each passes right answers, written two ways, and
fails the typical wrong ones with a message that names the cause."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub

from . import course

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

Fn = Callable[[np.ndarray], np.ndarray]


# layer_norm ----------------------------------------------------------------------------------


def ln_right(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + eps) + beta


def ln_keras(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5) -> Any:
    """Keras's own layer, in float32, its weights set to gamma and beta."""
    import keras

    layer = keras.layers.LayerNormalization(epsilon=eps)
    layer.build(x.shape)
    layer.set_weights([gamma.astype(np.float32), beta.astype(np.float32)])
    return layer(x.astype(np.float32)).numpy()


def ln_loop(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """One vector at a time, the variance as E[x²] − E[x]², in float32."""
    out = np.empty(x.shape, dtype=np.float32)
    for idx in np.ndindex(x.shape[:-1]):
        v = x[idx].astype(np.float64)
        var = (v * v).mean() - v.mean() ** 2
        out[idx] = gamma * (v - v.mean()) / np.sqrt(var + eps) + beta
    return out


def test_layer_norm_right_three_ways() -> None:
    for fn in (ln_right, ln_keras, ln_loop):
        r = evaluate("step8.layer_norm", fn)
        assert r.status == "passed", r.message


def test_layer_norm_batch_axis() -> None:
    def bn(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
        return g * (x - x.mean(axis=0, keepdims=True)) / np.sqrt(x.var(axis=0, keepdims=True) + eps) + b

    expect_failed(evaluate("step8.layer_norm", bn), "normalised over axis 0", "batch norm", "last axis")


def test_layer_norm_eps_outside_the_root() -> None:
    def outside(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
        return g * (x - x.mean(axis=-1, keepdims=True)) / (x.std(axis=-1, keepdims=True) + eps) + b

    expect_failed(evaluate("step8.layer_norm", outside), "inside the square root")


def test_layer_norm_sample_variance_and_no_affine() -> None:
    def ddof(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
        m = x.mean(axis=-1, keepdims=True)
        return g * (x - m) / np.sqrt(x.var(axis=-1, ddof=1, keepdims=True) + eps) + b

    expect_failed(evaluate("step8.layer_norm", ddof), "ddof=1")
    plain = lambda x, g, b, eps=1e-5: ln_right(x, np.ones_like(g), np.zeros_like(b), eps)  # noqa: E731
    expect_failed(evaluate("step8.layer_norm", plain), "gamma", "beta")


def test_layer_norm_divided_by_the_variance() -> None:
    def by_var(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        return gamma * (x - mean) / (x.var(axis=-1, keepdims=True) + eps) + beta

    expect_failed(evaluate("step8.layer_norm", by_var), "divided by the variance")


def test_layer_norm_in_place_and_stub() -> None:
    def in_place(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
        x -= x.mean(axis=-1, keepdims=True)
        return g * x / np.sqrt(x.var(axis=-1, keepdims=True) + eps) + b

    expect_failed(evaluate("step8.layer_norm", in_place), "changed x")
    assert evaluate("step8.layer_norm", stub).status == "not_attempted"


# pre_norm_block ------------------------------------------------------------------------------


def block_right(x: Any, attn: Fn, mlp: Fn, norm1: Fn, norm2: Fn) -> Any:
    h = x + attn(norm1(x))
    return h + mlp(norm2(h))


def block_other_form(x: Any, attn: Fn, mlp: Fn, norm1: Fn, norm2: Fn) -> Any:
    """The same, as a loop over the two sublayers, each added to a running sum."""
    stream = x
    for sub, norm in ((attn, norm1), (mlp, norm2)):
        stream = stream + sub(norm(stream))
    return stream


def test_pre_norm_block_right_two_ways() -> None:
    for fn in (block_right, block_other_form):
        r = evaluate("step8.pre_norm_block", fn)
        assert r.status == "passed", r.message


@pytest.mark.parametrize(
    ("wrong", "fragments"),
    [
        (lambda x, a, m, n1, n2: n2(n1(x + a(x)) + m(n1(x + a(x)))), ("post-norm",)),
        (lambda x, a, m, n1, n2: x + a(n1(x)) + m(n2(x)), ("the MLP reads x",)),
        (lambda x, a, m, n1, n2: m(n2(a(n1(x)))), ("no residual path",)),
        (lambda x, a, m, n1, n2: m(n2(x + a(n1(x)))), ("replaces h",)),
        (lambda x, a, m, n1, n2: block_right(x, a, m, n2, n1), ("norm1 belongs to attention",)),
        (lambda x, a, m, n1, n2: (lambda h: h + m(n2(h)))(n1(x) + a(n1(x))), ("normalise x itself",)),
        (lambda x, a, m, n1, n2: (lambda h: h + n2(m(h)))(x + n1(a(x))), ("sublayers' outputs",)),
    ],
)
def test_pre_norm_block_wrong_wirings(wrong: Any, fragments: tuple[str, ...]) -> None:
    expect_failed(evaluate("step8.pre_norm_block", wrong), *fragments)


def test_pre_norm_block_numpy_only() -> None:
    """Right on numpy arrays, but the notebook calls it on TensorFlow tensors, which have no .copy()."""

    def with_copy(x: Any, attn: Fn, mlp: Fn, norm1: Fn, norm2: Fn) -> Any:
        h = x.copy()
        h = h + attn(norm1(h))
        return h + mlp(norm2(h))

    expect_failed(evaluate("step8.pre_norm_block", with_copy), "fails on the TensorFlow tensors", "copy")


def test_pre_norm_block_in_place() -> None:
    def in_place(x: np.ndarray, attn: Fn, mlp: Fn, norm1: Fn, norm2: Fn) -> np.ndarray:
        x += attn(norm1(x))
        return x + mlp(norm2(x))

    expect_failed(evaluate("step8.pre_norm_block", in_place), "changed x", "h = x + ...")


# param_count ---------------------------------------------------------------------------------


def count_right(v: int, t: int, d: int, n: int) -> int:
    return v * d + t * d + n * (12 * d * d + 13 * d) + 2 * d + d * v + v


def count_other_form(v: int, t: int, d: int, n: int) -> float:
    """Layer by layer, as floats: the same number."""
    per_block = sum([3 * (d * d + d), d * d + d, d * 4 * d + 4 * d, 4 * d * d + d, 2 * d, 2 * d])
    return float((v + t) * d + n * per_block + 2 * d + (d + 1) * v)


def test_param_count_right_two_ways() -> None:
    for fn in (count_right, count_other_form):
        r = evaluate("step8.param_count", fn)
        assert r.status == "passed", r.message


def test_param_count_matches_keras() -> None:
    """The checker's count is what Keras counts for the notebooks' design."""
    import keras
    from keras import layers

    block = course("step8.block")
    for v, t, d, n, heads in [(102, 64, 64, 2, 4), (30, 16, 24, 3, 3)]:
        ids = keras.Input((t,), dtype="int32")
        positions = keras.ops.zeros_like(ids) + keras.ops.arange(t)
        x = layers.Embedding(v, d)(ids) + layers.Embedding(t, d)(positions)
        for _ in range(n):
            h = layers.LayerNormalization()(x)
            x = x + layers.MultiHeadAttention(heads, d // heads)(h, h, use_causal_mask=True)
            h = layers.LayerNormalization()(x)
            x = x + layers.Dense(d)(layers.Dense(4 * d, activation="gelu")(h))
        model = keras.Model(ids, layers.Dense(v)(layers.LayerNormalization()(x)))
        assert model.count_params() == block.gpt_params(v, t, d, n)


@pytest.mark.parametrize(
    ("wrong", "fragments"),
    [
        (lambda v, t, d, n: 12 * n * d * d + v * d + t * d + d * v, ("the approximation",)),
        (lambda v, t, d, n: 12 * n * d * d, ("weight matrices alone",)),
        (lambda v, t, d, n: count_right(v, t, d, n) - n * (4 * d * d + 3 * d), ("8·d², not 4·d²",)),
        (lambda v, t, d, n: count_right(v, t, d, n) - t * d, ("position embedding",)),
        (lambda v, t, d, n: count_right(v, t, d, n) - n * 4 * d - 2 * d, ("layer norms are missing",)),
        (lambda v, t, d, n: count_right(v, t, d, n) + 0.5, ("whole number",)),
        (lambda v, t, d, n: count_right(v, t, d, n) - 2 * d, ("final layer norm is missing",)),
        (lambda v, t, d, n: count_right(v, t, d, n) - n * (d * d + d), ("four projections",)),
    ],
)
def test_param_count_slips(wrong: Any, fragments: tuple[str, ...]) -> None:
    expect_failed(evaluate("step8.param_count", wrong), "the model has", *fragments)


# cost_growth ---------------------------------------------------------------------------------


def test_cost_growth() -> None:
    assert evaluate("step8.cost_growth", lambda: {"attention": 4, "recurrent": 2}).status == "passed"
    assert (
        evaluate("step8.cost_growth", lambda: {"attention": 4.0, "recurrent": np.float32(2)}).status
        == "passed"
    )
    expect_failed(evaluate("step8.cost_growth", lambda: {"attention": 2, "recurrent": 2}), "T × T")
    expect_failed(evaluate("step8.cost_growth", lambda: {"attention": 4, "recurrent": 4}), "doubles it")
    expect_failed(evaluate("step8.cost_growth", lambda: {"attention": 8, "recurrent": 2}), "T²")
    expect_failed(evaluate("step8.cost_growth", lambda: {"attention": 4}), "keys")
    assert evaluate("step8.cost_growth", stub).status == "not_attempted"
