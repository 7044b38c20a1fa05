"""Step 8.4 checkers (a small GPT): each passes right answers, written two ways, and fails the
typical wrong ones with a message that names the cause. The trained-model check is driven by
models whose weights are set by hand (a bigram table, a copy of the input, a peek at the next
character), so no test trains a network."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dl7.checks import evaluate
from tests.checking import expect_failed, stub

from . import course

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


# gpt_model -----------------------------------------------------------------------------------


def gpt(
    vocab_size: int,
    seq_len: int,
    d_model: int = 64,
    n_layers: int = 2,
    n_heads: int = 4,
    *,
    causal: bool = True,
    positions: str = "learnt",
    final: str | None = None,
    upper: bool = False,
) -> Any:
    import keras
    from keras import layers

    ids = keras.Input((seq_len,), dtype="int32")
    x = layers.Embedding(vocab_size, d_model)(ids)
    if positions == "ids":  # the slip: the position table looked up with the character ids
        x = x + layers.Embedding(seq_len, d_model)(ids)
    if positions == "learnt":
        x = x + layers.Embedding(seq_len, d_model)(keras.ops.zeros_like(ids) + keras.ops.arange(seq_len))
    elif positions == "sinusoidal":
        t = np.arange(seq_len)[:, None] / 10000 ** (np.arange(0, d_model, 2) / d_model)
        pe = np.zeros((seq_len, d_model), np.float32)
        pe[:, 0::2], pe[:, 1::2] = np.sin(t), np.cos(t)
        x = x + pe
    for _ in range(n_layers):
        h = layers.LayerNormalization()(x)
        attention = layers.MultiHeadAttention(n_heads, d_model // n_heads)
        if upper:  # the slip: a mask the wrong way round, np.triu
            x = x + attention(h, h, attention_mask=np.triu(np.ones((seq_len, seq_len), dtype=bool)))
        else:
            x = x + attention(h, h, use_causal_mask=causal)
        h = layers.LayerNormalization()(x)
        x = x + layers.Dense(d_model)(layers.Dense(4 * d_model, activation="relu")(h))
    out = layers.Dense(vocab_size, activation=final)(layers.LayerNormalization()(x))
    return keras.Model(ids, out)


def test_gpt_model_right_two_ways() -> None:
    for fn in (gpt, lambda *a, **k: gpt(*a, positions="sinusoidal", **k)):
        r = evaluate("step8.gpt_model", fn)
        assert r.status == "passed", r.message


def test_gpt_model_no_causal_mask() -> None:
    r = evaluate("step8.gpt_model", lambda *a, **k: gpt(*a, causal=False, **k))
    expect_failed(r, "leaks the future", "no causal mask")


def test_gpt_model_mask_upper_triangle() -> None:
    r = evaluate("step8.gpt_model", lambda *a, **k: gpt(*a, upper=True, **k))
    expect_failed(r, "leaks the future", "np.triu is the future")


def test_gpt_model_positions_from_the_ids() -> None:
    r = evaluate("step8.gpt_model", lambda *a, **k: gpt(*a, positions="ids", **k))
    expect_failed(r, "an Embedding of 12 rows was given ids up to 22", "not the character ids")


def test_gpt_model_no_positions() -> None:
    r = evaluate("step8.gpt_model", lambda *a, **k: gpt(*a, positions="none", **k))
    expect_failed(r, "ignores the order", "position embedding")


def test_gpt_model_softmax_and_shape() -> None:
    r = evaluate("step8.gpt_model", lambda *a, **k: gpt(*a, final="softmax", **k))
    expect_failed(r, "ends in a softmax")
    r = evaluate("step8.gpt_model", lambda v, t, **k: gpt(v + 1, t, **k))
    expect_failed(r, "expected (4, 12, 23)")
    assert evaluate("step8.gpt_model", stub).status == "not_attempted"


# get_batch -----------------------------------------------------------------------------------


def batch_right(ids: np.ndarray, b: int, t: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    s = rng.integers(0, len(ids) - t, size=b)
    o = s[:, None] + np.arange(t)
    return ids[o], ids[o + 1]


def batch_loop(ids: np.ndarray, b: int, t: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One window at a time, a chunk of t + 1 split into input and target."""
    chunks = []
    for _ in range(b):
        s = int(rng.integers(len(ids) - t))
        chunks.append(ids[s : s + t + 1])
    stacked = np.stack(chunks).astype(np.int64)
    return stacked[:, :-1], stacked[:, 1:]


def test_get_batch_right_two_ways() -> None:
    for fn in (batch_right, batch_loop):
        r = evaluate("step8.get_batch", fn)
        assert r.status == "passed", r.message


def test_get_batch_one_start_for_the_whole_batch() -> None:
    def one_start(ids: np.ndarray, b: int, t: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        s = int(rng.integers(0, len(ids) - t))
        return np.tile(ids[s : s + t], (b, 1)), np.tile(ids[s + 1 : s + t + 1], (b, 1))

    expect_failed(evaluate("step8.get_batch", one_start), "all 16 windows of the batch start at")


def test_get_batch_targets_not_shifted() -> None:
    r = evaluate("step8.get_batch", lambda ids, b, t, rng: (batch_right(ids, b, t, rng)[0],) * 2)
    expect_failed(r, "the targets equal the inputs", "NEXT character")


def test_get_batch_never_the_last_window() -> None:
    def short(ids: np.ndarray, b: int, t: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return batch_right(ids[:-1], b, t, rng)

    expect_failed(evaluate("step8.get_batch", short), "never 41", "high end is excluded")


def test_get_batch_ignores_rng_and_shifts_wrong() -> None:
    def global_rng(
        ids: np.ndarray, b: int, t: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        return batch_right(ids, b, t, np.random.default_rng())

    expect_failed(evaluate("step8.get_batch", global_rng), "same rng")
    r = evaluate(
        "step8.get_batch", lambda ids, b, t, rng: (lambda x, y: (x, y + 1))(*batch_right(ids, b, t, rng))
    )
    expect_failed(r, "shifted by one")
    assert evaluate("step8.get_batch", stub).status == "not_attempted"


# sample_top_k --------------------------------------------------------------------------------


def top_k_right(logits: np.ndarray, k: int, temperature: float, rng: np.random.Generator) -> int:
    z = logits / temperature
    z = np.where(z >= np.sort(z)[-k], z, -np.inf)
    p = np.exp(z - z.max())
    return int(rng.choice(len(p), p=p / p.sum()))


def top_k_gumbel(logits: np.ndarray, k: int, temperature: float, rng: np.random.Generator) -> np.int64:
    """argpartition for the top k, then the Gumbel-max trick, in float32."""
    keep = np.argpartition(logits, -k)[-k:]
    noisy = logits[keep].astype(np.float32) / np.float32(temperature) + rng.gumbel(size=k).astype(np.float32)
    return keep[np.argmax(noisy)]


def test_sample_top_k_right_two_ways() -> None:
    for fn in (top_k_right, top_k_gumbel):
        r = evaluate("step8.sample_top_k", fn)
        assert r.status == "passed", r.message


def test_sample_top_k_smallest() -> None:
    def smallest(logits: np.ndarray, k: int, t: float, rng: np.random.Generator) -> int:
        keep = np.argsort(logits)[:k]
        p = np.exp(logits[keep] / t - (logits[keep] / t).max())
        return int(keep[rng.choice(k, p=p / p.sum())])

    expect_failed(evaluate("step8.sample_top_k", smallest), "k SMALLEST", "[-k:]")


def test_sample_top_k_temperature_after_softmax() -> None:
    def after(logits: np.ndarray, k: int, t: float, rng: np.random.Generator) -> int:
        p = np.exp(logits - logits.max())
        p = np.where(logits >= np.sort(logits)[-k], p, 0.0) / p.sum() / t
        return int(rng.choice(len(p), p=p / p.sum()))

    expect_failed(evaluate("step8.sample_top_k", after), "temperature=0.5", "changed nothing", "LOGITS")


def test_sample_top_k_temperature_multiplied() -> None:
    def times(logits: np.ndarray, k: int, t: float, rng: np.random.Generator) -> int:
        return top_k_right(logits * t * t, k, t, rng)  # top_k_right divides by t: logits * t overall

    expect_failed(evaluate("step8.sample_top_k", times), "temperature=0.5", "multiplied by T = 0.5")


def test_sample_top_k_no_cut_and_argmax() -> None:
    r = evaluate("step8.sample_top_k", lambda lo, k, t, rng: top_k_right(lo, len(lo), t, rng))
    expect_failed(r, "outside the top 3")
    expect_failed(evaluate("step8.sample_top_k", lambda lo, k, t, rng: int(np.argmax(lo))), "same id")
    assert evaluate("step8.sample_top_k", stub).status == "not_attempted"


# small_gpt -----------------------------------------------------------------------------------


def table_model(table: np.ndarray, seq_len: int = 64, peek: bool = False) -> Any:
    """Logits at position t = table[id at t] (or, peeking, table[id at t + 1]: it reads the future)."""
    import keras
    from keras import layers

    v = table.shape[0]
    ids = keras.Input((seq_len,), dtype="int32")
    emb = layers.Embedding(v, v)
    z = emb(ids)
    if peek:
        z = layers.Lambda(lambda a: keras.ops.concatenate([a[:, 1:], a[:, -1:]], axis=1))(z)
    model = keras.Model(ids, z)
    emb.set_weights([table.astype(np.float32)])
    return model


def bigram_logits(ids: np.ndarray, v: int) -> np.ndarray:
    train = ids[: int(len(ids) * 0.9)]
    counts = np.ones((v, v))
    np.add.at(counts, (train[:-1], train[1:]), 1)
    return np.log(counts / counts.sum(axis=1, keepdims=True))


def train_windows(ids: np.ndarray, n: int = 500, seq_len: int = 64, held: bool = False) -> np.ndarray:
    start = int(len(ids) * 0.9)
    lo, hi = (start, len(ids) - seq_len) if held else (0, start - seq_len)
    s = np.random.default_rng(0).integers(lo, hi, size=n)
    return ids[s[:, None] + np.arange(seq_len)].astype(np.uint8)


def test_small_gpt_passes_under_the_bar(text_ids: tuple[list[str], np.ndarray], monkeypatch: Any) -> None:
    vocab, ids = text_ids
    monkeypatch.setattr(course("step8.gpt"), "MAX_PERPLEXITY", 12.5)  # a bigram table clears this bar
    r = evaluate("step8.small_gpt", table_model(bigram_logits(ids, len(vocab))), vocab, train_windows(ids))
    assert r.status == "passed", r.message
    assert "5-gram 4.93" in r.message and "below the 2-gram" not in r.message


def test_small_gpt_bigram_falls_short(text_ids: tuple[list[str], np.ndarray]) -> None:
    vocab, ids = text_ids
    r = evaluate("step8.small_gpt", table_model(bigram_logits(ids, len(vocab))), vocab, train_windows(ids))
    expect_failed(r, "held-out perplexity 11.", "the bar is 6.5", "1-gram 22.32", "train longer")


def test_small_gpt_leaks_the_future(text_ids: tuple[list[str], np.ndarray]) -> None:
    vocab, ids = text_ids
    model = table_model(8.0 * np.eye(len(vocab)), peek=True)  # perplexity near 1: it reads the answer
    expect_failed(
        evaluate("step8.small_gpt", model, vocab, train_windows(ids)), "leaks the future", "causal mask"
    )


def test_small_gpt_targets_not_shifted(text_ids: tuple[list[str], np.ndarray]) -> None:
    vocab, ids = text_ids
    model = table_model(8.0 * np.eye(len(vocab)))
    expect_failed(
        evaluate("step8.small_gpt", model, vocab, train_windows(ids)), "the character it is given", "shifted"
    )


def test_small_gpt_trained_on_heldout(text_ids: tuple[list[str], np.ndarray]) -> None:
    vocab, ids = text_ids
    seen = np.concatenate([train_windows(ids), train_windows(ids, n=60, held=True)])
    r = evaluate("step8.small_gpt", table_model(bigram_logits(ids, len(vocab))), vocab, seen)
    expect_failed(r, "trained on held-out text", "train_ids only")


def test_small_gpt_one_batch_over_and_over(text_ids: tuple[list[str], np.ndarray]) -> None:
    """The loop drew one batch before it and trained on it at every step: 2,000 steps, 32 windows."""
    vocab, ids = text_ids
    seen = np.tile(train_windows(ids, n=32), (100, 1))
    r = evaluate("step8.small_gpt", table_model(np.zeros((len(vocab), len(vocab)))), vocab, seen)
    expect_failed(r, "hold only 32 different ones", "get_batch inside the loop")


def test_small_gpt_untrained_and_missing(text_ids: tuple[list[str], np.ndarray]) -> None:
    vocab, ids = text_ids
    flat = table_model(np.zeros((len(vocab), len(vocab))))
    expect_failed(
        evaluate("step8.small_gpt", flat, vocab, train_windows(ids)), "no better than character counts"
    )
    model = table_model(bigram_logits(ids, len(vocab)))
    expect_failed(evaluate("step8.small_gpt", model, vocab, None), "no training windows were recorded")
    assert evaluate("step8.small_gpt", None, vocab, None).status == "not_attempted"
