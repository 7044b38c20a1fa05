"""Step 8, notebook 1 checkers: attention pooling, recall with attention, teacher forcing and the
predicted alignment of a reversal.

The model checks are tested without training: a recall model whose query is set by hand (its
score is the marker column, so its attention sits on the marked step), an untrained SimpleRNN
at chance, and "attention" models that compute the alignment of reversing (or of copying)
directly from the source.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import course

why = course("step8").why_attention

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402  (after the environment that quiets TensorFlow)
from keras import ops  # noqa: E402

# attention_pool --------------------------------------------------------------------------------


def pool(
    scores: Any, values: Any, mask: Any = None, *, axis: int = -1, after: bool = False, fill: float = -1e9
) -> Any:
    if mask is not None and not after:
        scores = ops.where(ops.expand_dims(mask, 1), scores, fill)
    weights = ops.softmax(scores, axis=axis)
    if mask is not None and after:
        weights = weights * ops.cast(ops.expand_dims(mask, 1), weights.dtype)
    return ops.matmul(weights, values), weights


def pool_by_hand(scores: Any, values: Any, mask: Any = None) -> Any:
    """Written differently: an additive mask and exp / sum by hand, einsum for the average."""
    scores = ops.convert_to_tensor(scores)
    if mask is not None:
        scores = scores + (1.0 - ops.cast(mask[:, None, :], scores.dtype)) * -1e9
    e = ops.exp(scores - ops.max(scores, axis=-1, keepdims=True))
    weights = e / ops.sum(e, axis=-1, keepdims=True)
    return ops.einsum("nqt,ntd->nqd", weights, values), weights


def pool_numpy(scores: Any, values: Any, mask: Any = None) -> Any:
    if mask is not None:
        scores = np.where(mask[:, None, :], scores, -1e9)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1, keepdims=True)
    return w @ values, w


def test_pool_right() -> None:
    r = evaluate("step8.attention_pool", pool)
    assert r.status == "passed", r.message
    assert "inside a Keras model" in r.message


def test_pool_written_differently() -> None:
    r = evaluate("step8.attention_pool", pool_by_hand)
    assert r.status == "passed", r.message


def test_pool_wrong_axis() -> None:
    expect_failed(evaluate("step8.attention_pool", lambda *a: pool(*a, axis=1)), "axis 1, the queries")


def test_pool_mask_after_softmax() -> None:
    r = evaluate("step8.attention_pool", lambda *a: pool(*a, after=True))
    expect_failed(r, "mask was applied after the softmax", "before the softmax")


def test_pool_masked_score_zero() -> None:
    expect_failed(evaluate("step8.attention_pool", lambda *a: pool(*a, fill=0.0)), "e^0 = 1")


def test_pool_mask_ignored() -> None:
    expect_failed(evaluate("step8.attention_pool", lambda s, v, m=None: pool(s, v)), "the mask is ignored")


def test_pool_pair_swapped() -> None:
    r = evaluate("step8.attention_pool", lambda *a: pool(*a)[::-1])
    expect_failed(r, "the wrong way round", "(context, weights)")


def test_pool_numpy_fails_inside_a_model() -> None:
    expect_failed(evaluate("step8.attention_pool", pool_numpy), "fails inside a Keras model", "keras.ops")


def test_pool_overflow_and_stub() -> None:
    def naive(scores: Any, values: Any, mask: Any = None) -> Any:
        if mask is not None:
            scores = ops.where(ops.expand_dims(mask, 1), scores, -1e9)
        e = ops.exp(ops.convert_to_tensor(scores))
        w = e / ops.sum(e, axis=-1, keepdims=True)
        return ops.matmul(w, values), w

    expect_failed(evaluate("step8.attention_pool", naive), "exp overflows")
    assert evaluate("step8.attention_pool", stub).status == "not_attempted"


# recall_attention ------------------------------------------------------------------------------


class MarkerPool(keras.layers.Layer):
    """Attention set by hand: the score is 5 × the marker column, the values are the symbols."""

    def call(self, x: Any) -> Any:
        scores = 5.0 * x[:, None, :, -1]  # (N, 1, T): about 0.79 of the weight on the marker
        context, weights = pool(scores, x[:, :, :-1])
        return 10.0 * context[:, 0], weights[:, 0]


@pytest.fixture(scope="module")
def recall_models() -> tuple[Any, Any, Any]:
    inputs = keras.Input((why.TASK_STEPS, why.TASK_SYMBOLS + 1))
    logits, weights = MarkerPool()(inputs)
    keras.utils.set_random_seed(0)
    rnn = keras.Sequential(
        [
            keras.Input((why.TASK_STEPS, why.TASK_SYMBOLS + 1)),
            keras.layers.SimpleRNN(8),
            keras.layers.Dense(4),
        ]
    )
    return keras.Model(inputs, logits), keras.Model(inputs, weights), rnn


def on_marker(weights: np.ndarray, x: np.ndarray) -> float:
    marked = np.argmax(x[:, :, -1], axis=1)
    return float(np.mean(weights[np.arange(len(x)), marked]))


def on_marker_loop(weights: np.ndarray, x: np.ndarray) -> np.float32:
    """Written differently: a loop over the sequences, the marker found with np.flatnonzero, float32."""
    total = np.float32(0)
    for w, seq in zip(weights, x, strict=True):
        total += np.float32(w[np.flatnonzero(seq[:, -1])[0]])
    return total / np.float32(len(x))


def test_recall_right(recall_models: Any) -> None:
    r = evaluate("step8.recall_attention", *recall_models, on_marker)
    assert r.status == "passed", r.message
    assert "attention 1.000" in r.message


def test_recall_written_differently(recall_models: Any) -> None:
    r = evaluate("step8.recall_attention", *recall_models, on_marker_loop)
    assert r.status == "passed", r.message


@pytest.mark.parametrize(
    ("fn", "fragments"),
    [
        (lambda w, x: float(np.mean(np.argmax(w, 1) == np.argmax(x[:, :, -1], 1))), ("share of sequences",)),
        (lambda w, x: on_marker(w, x[:, :, ::-1]), ("symbol 0 (column 0)",)),
        (lambda w, x: on_marker(w, x) * len(x), ("the sum over the sequences",)),
        (lambda w, x: w[np.arange(len(x)), np.argmax(x[:, :, -1], 1)], ("one number per sequence",)),
        # agrees with the right answer on a model whose peak is always on the marker: random weights tell
        (lambda w, x: float(np.mean(np.max(w, axis=1))), ("random weights", "largest weight, wherever")),
    ],
)
def test_recall_weight_mistakes(recall_models: Any, fn: Any, fragments: tuple[str, ...]) -> None:
    expect_failed(evaluate("step8.recall_attention", *recall_models, fn), *fragments)


def test_recall_rnn_that_learned_is_suspect(recall_models: Any) -> None:
    model, weights, _ = recall_models
    r = evaluate("step8.recall_attention", model, weights, model, on_marker)
    expect_failed(r, "SimpleRNN 1.000", "should stay near chance")


def test_recall_not_trained_and_not_run(recall_models: Any) -> None:
    _, weights, rnn = recall_models
    expect_failed(evaluate("step8.recall_attention", rnn, weights, rnn, on_marker), "should reach 95%")
    assert evaluate("step8.recall_attention", None, None, None, on_marker).status == "not_attempted"


# teacher_forcing -------------------------------------------------------------------------------


def forcing(targets: np.ndarray, start: int) -> np.ndarray:
    inputs = np.empty_like(targets)
    inputs[:, 0] = start
    inputs[:, 1:] = targets[:, :-1]
    return inputs


def forcing_roll(targets: np.ndarray, start: int) -> list[list[int]]:
    """Written differently: np.roll, then the start written over the wrapped column; lists back."""
    rolled = np.roll(targets, 1, axis=1)
    rolled[:, 0] = start
    return rolled.tolist()


def test_forcing_right_and_different() -> None:
    assert evaluate("step8.teacher_forcing", forcing).status == "passed"
    assert evaluate("step8.teacher_forcing", forcing_roll).status == "passed"


@pytest.mark.parametrize(
    ("fn", "fragments"),
    [
        (lambda t, s: t.copy(), ("the targets themselves", "copy")),
        (
            lambda t, s: np.concatenate([t[:, 1:], np.full((len(t), 1), s)], axis=1),
            ("shifts the targets left",),
        ),
        (lambda t, s: np.concatenate([np.full((len(t), 1), s), t], axis=1), ("one step too long",)),
        (
            lambda t, s: np.concatenate([np.zeros((len(t), 1), int), t[:, :-1]], axis=1),
            ("not the start token",),
        ),
    ],
)
def test_forcing_mistakes(fn: Any, fragments: tuple[str, ...]) -> None:
    expect_failed(evaluate("step8.teacher_forcing", fn), *fragments)


def test_forcing_in_place() -> None:
    def in_place(targets: np.ndarray, start: int) -> np.ndarray:
        targets[:, 1:] = targets[:, :-1].copy()
        targets[:, 0] = start
        return targets

    expect_failed(evaluate("step8.teacher_forcing", in_place), "changed targets in place")


# alignment -------------------------------------------------------------------------------------


class Aligned(keras.layers.Layer):
    """One-hot attention of output step i on source position L - 1 - i (or i, for copying)."""

    def __init__(self, reverse: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reverse = reverse

    def call(self, source: Any, decoder_in: Any) -> Any:
        length = ops.sum(ops.cast(ops.not_equal(source, why.PAD), "int32"), axis=1)  # (N,)
        steps = ops.arange(why.MAX_LEN)
        target = (
            length[:, None] - 1 - steps[None, :]
            if self.reverse
            else ops.zeros_like(length)[:, None] + steps[None, :]
        )
        return ops.one_hot(ops.clip(target, 0, why.MAX_LEN - 1), why.MAX_LEN)  # (N, T_out, T_in)


def alignment_model(reverse: bool = True) -> Any:
    source = keras.Input((why.MAX_LEN,), dtype="int32")
    decoder_in = keras.Input((why.MAX_LEN,), dtype="int32")
    return keras.Model([source, decoder_in], Aligned(reverse)(source, decoder_in))


def test_alignment_right_and_different() -> None:
    r = evaluate("step8.alignment", lambda i, n: n - 1 - i, alignment_model())
    assert r.status == "passed", r.message
    assert "100.0%" in r.message
    r = evaluate("step8.alignment", lambda i, n: float(-(i - n + 1)), alignment_model())
    assert r.status == "passed", r.message


@pytest.mark.parametrize(
    ("fn", "fragments"),
    [
        (lambda i, n: i, ("returned 0", "the diagonal")),
        (lambda i, n: n - i, ("one past the end",)),
        (lambda i, n: 0, ("returned 0", "position 1")),
        (lambda i, n: n - 1, ("returned 1", "the same position for every output step")),
        (lambda i, n: why.MAX_LEN - 1 - i, ("returned 9", "padded end")),
        (lambda i, n: (n - 1 - i) / 2, ("expected a position",)),
    ],
)
def test_alignment_mistakes(fn: Any, fragments: tuple[str, ...]) -> None:
    expect_failed(evaluate("step8.alignment", fn, alignment_model()), *fragments)


def test_alignment_model_that_does_not_align() -> None:
    r = evaluate("step8.alignment", lambda i, n: n - 1 - i, alignment_model(reverse=False))
    expect_failed(r, "your prediction is right", "for only")


def test_alignment_untrained_model_is_not_attempted() -> None:
    assert evaluate("step8.alignment", lambda i, n: n - 1 - i, None).status == "not_attempted"
    assert evaluate("step8.alignment", stub, None).status == "not_attempted"
