"""Step 6.2 checkers (the LSTM language model): each passes right answers, written two ways,
and fails the typical wrong ones with a message that names the cause."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


# make_windows --------------------------------------------------------------------------------


def windows_right(ids: np.ndarray, seq_len: int, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    stride = stride or seq_len
    starts = np.arange(0, len(ids) - seq_len, stride)
    idx = starts[:, None] + np.arange(seq_len)
    return ids[idx].astype(np.int32), ids[idx + 1].astype(np.int32)


def windows_loop(ids: np.ndarray, seq_len: int, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The same, written as a while loop over the starts, into lists."""
    step = seq_len if stride is None else stride
    xs, ys, s = [], [], 0
    while s + seq_len < len(ids):
        xs.append(list(ids[s : s + seq_len]))
        ys.append(list(ids[s + 1 : s + seq_len + 1]))
        s += step
    return np.array(xs, dtype=np.int64).reshape(-1, seq_len), np.array(ys, dtype=np.int64).reshape(
        -1, seq_len
    )


def test_make_windows_right_two_ways() -> None:
    for fn in (windows_right, windows_loop):
        r = evaluate("step6.make_windows", fn)
        assert r.status == "passed", r.message


def test_make_windows_targets_not_shifted() -> None:
    r = evaluate("step6.make_windows", lambda ids, n, stride=None: (windows_right(ids, n, stride)[0],) * 2)
    expect_failed(r, "the targets equal the inputs", "shifted by one")


def test_make_windows_drops_the_last_window() -> None:
    def short(ids: np.ndarray, n: int, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        x, y = windows_right(ids, n, stride)
        return x[:-1], y[:-1]

    r = evaluate("step6.make_windows", short)
    expect_failed(r, "expected (3, 3)", "dropped the last window")


def test_make_windows_one_window_too_many() -> None:
    def padded(ids: np.ndarray, n: int, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        step = stride or n
        starts = range(0, len(ids) - n + 1, step)
        ext = np.append(ids, 0)
        return (
            np.array([ids[s : s + n] for s in starts]).reshape(-1, n),
            np.array([ext[s + 1 : s + n + 1] for s in starts]).reshape(-1, n),
        )

    r = evaluate("step6.make_windows", padded)
    expect_failed(r, "9 ids", "expected (2, 3)", "one window too many")


def test_make_windows_float_dtype() -> None:
    r = evaluate(
        "step6.make_windows", lambda ids, n, s=None: tuple(a.astype(float) for a in windows_right(ids, n, s))
    )
    expect_failed(r, "dtype float64", "integer ids")


def test_make_windows_ignores_stride() -> None:
    r = evaluate("step6.make_windows", lambda ids, n, stride=None: windows_right(ids, n))
    expect_failed(r, "stride=1", "expected (4, 3)")


def test_make_windows_stub() -> None:
    assert evaluate("step6.make_windows", stub).status == "not_attempted"


# perplexity ----------------------------------------------------------------------------------


def ppl_right(logits: np.ndarray, targets: np.ndarray) -> float:
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return float(np.exp(-np.take_along_axis(logp, targets[..., None], axis=-1).mean()))


def ppl_keras_ops(logits: np.ndarray, targets: np.ndarray) -> float:
    """The same with TensorFlow's own fused loss, in float32, via log2 and 2**."""
    import tensorflow as tf

    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits.astype(np.float32))
    bits = tf.reduce_mean(ce) / np.log(2.0)
    return float(2.0**bits)


def test_perplexity_right_two_ways() -> None:
    for fn in (ppl_right, ppl_keras_ops):
        r = evaluate("step6.perplexity", fn)
        assert r.status == "passed", r.message


def test_perplexity_without_exp() -> None:
    r = evaluate("step6.perplexity", lambda lo, t: np.log(ppl_right(lo, t)))
    expect_failed(r, "ln 4", "exp of it")


def test_perplexity_sum_not_mean() -> None:
    def summed(logits: np.ndarray, targets: np.ndarray) -> float:
        return float(np.exp(np.log(ppl_right(logits, targets)) * targets.size))

    r = evaluate("step6.perplexity", summed)
    expect_failed(r, "expected 4")
    r2 = evaluate("step6.perplexity", lambda lo, t: np.log(ppl_right(lo, t)) * t.size if lo.std() else 4.0)
    expect_failed(r2, "summed the 15 per-character losses", "take their mean")


def test_perplexity_softmax_over_the_batch_axis() -> None:
    def wrong_axis(logits: np.ndarray, targets: np.ndarray) -> float:
        z = logits - logits.max(axis=0, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=0, keepdims=True))
        return float(np.exp(-np.take_along_axis(logp, targets[..., None], axis=-1).mean()))

    r = evaluate("step6.perplexity", wrong_axis)
    expect_failed(r, "normalises over axis 0", "last axis")


def test_perplexity_overflows_without_the_max() -> None:
    def naive(logits: np.ndarray, targets: np.ndarray) -> float:
        p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
        return float(np.exp(-np.log(np.take_along_axis(p, targets[..., None], axis=-1)).mean()))

    r = evaluate("step6.perplexity", naive)
    expect_failed(r, "large logits", "overflowed", "subtract each row's maximum")


def test_perplexity_mixed_log_bases() -> None:
    def mixed(logits: np.ndarray, targets: np.ndarray) -> float:
        return float(2.0 ** np.log(ppl_right(logits, targets)))

    r = evaluate("step6.perplexity", mixed)
    expect_failed(r, "same base")


# lm_predictions (a prediction) ------------------------------------------------------------


def test_lm_predictions_right() -> None:
    r = evaluate("step6.lm_predictions", lambda: {"unseen_context_perplexity": 102})
    assert r.status == "passed", r.message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (1 / 102, "probability each character gets"),
        (float("inf"), "no probability is 0"),
        (50, "uniform guess"),
    ],
)
def test_lm_predictions_wrong(value: float, fragment: str) -> None:
    expect_failed(evaluate("step6.lm_predictions", lambda: {"unseen_context_perplexity": value}), fragment)


def test_lm_predictions_stub() -> None:
    assert evaluate("step6.lm_predictions", stub).status == "not_attempted"


# lstm_lm -------------------------------------------------------------------------------------


def table_lstm(table: np.ndarray) -> Any:
    """An Embedding-LSTM-Dense model whose weights are set by hand so that the logits of the next
    character are ``table[current character]``: the LSTM passes its input straight through."""
    import keras
    from keras import layers

    v = table.shape[0]
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            layers.Embedding(v, v),
            layers.LSTM(v, return_sequences=True),
            layers.Dense(v),
        ]
    )
    emb, lstm, dense = model.layers
    emb.set_weights([np.eye(v, dtype=np.float32)])
    kernel = np.zeros((v, 4 * v), np.float32)
    kernel[:, 2 * v : 3 * v] = 3.0 * np.eye(v)  # cell candidate g = tanh(3 x); gates i, f, c, o
    bias = np.zeros(4 * v, np.float32)
    bias[:v], bias[v : 2 * v], bias[3 * v :] = 12.0, -12.0, 12.0  # input and output open, forget shut
    lstm.set_weights([kernel, np.zeros((v, 4 * v), np.float32), bias])
    scale = float(np.tanh(np.tanh(3.0)))  # the active unit's output; all others are 0
    dense.set_weights([(table / scale).astype(np.float32), np.zeros(v, np.float32)])
    return model


def bigram_table(ids: np.ndarray, v: int) -> np.ndarray:
    train = ids[: int(len(ids) * 0.9)]
    counts = np.ones((v, v))
    np.add.at(counts, (train[:-1], train[1:]), 1)
    return np.log(counts / counts.sum(axis=1, keepdims=True))


def test_lstm_lm_bigram_weights_fall_short(text_ids: tuple[list[str], np.ndarray]) -> None:
    vocab, ids = text_ids
    r = evaluate("step6.lstm_lm", table_lstm(bigram_table(ids, len(vocab))), vocab)
    expect_failed(r, "held-out perplexity 11.9", "bigram's is 11.94", "at most 10.74", "train on more text")


def test_lstm_lm_predicts_its_input(text_ids: tuple[list[str], np.ndarray]) -> None:
    vocab, _ = text_ids
    r = evaluate("step6.lstm_lm", table_lstm(8.0 * np.eye(len(vocab))), vocab)
    expect_failed(r, "predicts the character it is given", "shifted by one")


def test_lstm_lm_untrained(text_ids: tuple[list[str], np.ndarray]) -> None:
    import keras
    from keras import layers

    vocab, _ = text_ids
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            layers.Embedding(len(vocab), 8),
            layers.LSTM(16, return_sequences=True),
            layers.Dense(len(vocab)),
        ]
    )
    expect_failed(evaluate("step6.lstm_lm", model, vocab), "no better than counting", "trained")


def test_lstm_lm_softmax_outputs(text_ids: tuple[list[str], np.ndarray]) -> None:
    import keras

    vocab, ids = text_ids
    probs = keras.Sequential([table_lstm(bigram_table(ids, len(vocab))), keras.layers.Softmax()])
    expect_failed(evaluate("step6.lstm_lm", probs, vocab), "ends in a softmax", "from_logits=True")


def test_lstm_lm_only_the_last_step(text_ids: tuple[list[str], np.ndarray]) -> None:
    import keras
    from keras import layers

    vocab, _ = text_ids
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            layers.Embedding(len(vocab), 8),
            layers.LSTM(16),
            layers.Dense(len(vocab)),
        ]
    )
    expect_failed(evaluate("step6.lstm_lm", model, vocab), "return_sequences=True")


def test_lstm_lm_structure_and_vocab(text_ids: tuple[list[str], np.ndarray]) -> None:
    import keras
    from keras import layers

    vocab, _ = text_ids
    gru = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            layers.Embedding(len(vocab), 8),
            layers.GRU(8, return_sequences=True),
            layers.Dense(len(vocab)),
        ]
    )
    expect_failed(evaluate("step6.lstm_lm", gru, vocab), "no LSTM layer")
    model = table_lstm(np.zeros((len(vocab), len(vocab))))
    expect_failed(evaluate("step6.lstm_lm", model, vocab[:-1]), "vocab lacks 1 character")
    assert evaluate("step6.lstm_lm", None, vocab).status == "not_attempted"


@pytest.mark.slow
def test_lstm_lm_trained_passes_as_logits_and_as_probabilities(
    text_ids: tuple[list[str], np.ndarray],
) -> None:
    """A real, small training run (about 20 s on 2 cores): 300k characters, one pass."""
    import keras
    from keras import layers

    vocab, ids = text_ids
    v = len(vocab)
    n = 300_000 // 64
    x = ids[: n * 64].reshape(n, 64)
    y = ids[1 : n * 64 + 1].reshape(n, 64)
    keras.utils.set_random_seed(1)
    inputs = keras.Input((64,), dtype="int32")  # functional, fixed window length: written differently
    h = layers.LSTM(128, return_sequences=True)(layers.Embedding(v, 24)(inputs))
    model = keras.Model(inputs, layers.Dense(v)(h))
    model.compile(
        keras.optimizers.Adam(1e-2, global_clipnorm=5.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    r = evaluate("step6.lstm_lm", model, vocab)
    assert r.status == "passed", r.message
    assert "measured by the checker" in r.message
    probs = keras.Sequential([model, layers.Softmax()])  # probabilities instead of logits
    probs.compile(loss="sparse_categorical_crossentropy")  # ... under a loss that expects them
    r2 = evaluate("step6.lstm_lm", probs, vocab)
    assert r2.status == "passed", r2.message


def test_lstm_lm_not_trained_because_build_model_broke(text_ids: tuple[list[str], np.ndarray]) -> None:
    vocab, _ = text_ids
    assert evaluate("step6.lstm_lm", None, vocab, stub).status == "not_attempted"

    def crashes(vocab_size: int) -> Any:
        raise ValueError(
            "Input 0 of layer 'lstm' is incompatible with the layer: expected ndim=3, found ndim=4"
        )

    r = evaluate("step6.lstm_lm", None, vocab, crashes)
    assert r.status == "error" and "ValueError" in r.message and "in crashes" in r.message
    expect_failed(evaluate("step6.lstm_lm", None, vocab, lambda v: None), "returned None", "return model")
    expect_failed(evaluate("step6.lstm_lm", None, vocab, lambda v: object()), "run the training cell")


def test_make_windows_empty_result_without_its_shape_is_named() -> None:
    def from_lists(ids: np.ndarray, seq_len: int, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        step = stride or seq_len
        starts = range(0, len(ids) - seq_len, step)
        xs = [ids[s : s + seq_len] for s in starts]
        ys = [ids[s + 1 : s + seq_len + 1] for s in starts]
        return np.array(xs), np.array(ys)  # no windows: np.array([]) is float, shape (0,)

    expect_failed(
        evaluate("step6.make_windows", from_lists), "no whole window", "shape (0, 3)", "np.array([])"
    )


def test_perplexity_float32_passes() -> None:
    def p32(logits: np.ndarray, targets: np.ndarray) -> float:
        z = np.asarray(logits, dtype=np.float32)
        z = z - z.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        return float(np.exp(-np.take_along_axis(logp, targets[..., None], axis=-1).mean()))

    r = evaluate("step6.perplexity", p32)
    assert r.status == "passed", r.message


def test_perplexity_mean_of_per_sequence_perplexities() -> None:
    def per_sequence(logits: np.ndarray, targets: np.ndarray) -> float:
        z = logits - logits.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        ce = -np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]  # (batch, time)
        return float(np.mean(np.exp(ce.mean(axis=1))))

    r = evaluate("step6.perplexity", per_sequence)
    expect_failed(r, "mean of the per-sequence perplexities", "exp of the mean log-loss")


def test_lstm_lm_softmax_output_under_from_logits(text_ids: tuple[list[str], np.ndarray]) -> None:
    """A softmax output compiled with from_logits=True: the checker reads it as the loss did."""
    import keras

    vocab, ids = text_ids
    model = keras.Sequential([table_lstm(0.5 * bigram_table(ids, len(vocab))), keras.layers.Softmax()])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    expect_failed(evaluate("step6.lstm_lm", model, vocab), "ends in a softmax", "softmax(softmax(z))")


def test_lstm_lm_logits_under_a_probability_loss(text_ids: tuple[list[str], np.ndarray]) -> None:

    vocab, ids = text_ids
    model = table_lstm(bigram_table(ids, len(vocab)))
    model.compile(loss="sparse_categorical_crossentropy")
    expect_failed(evaluate("step6.lstm_lm", model, vocab), "expect probabilities", "from_logits=True")
