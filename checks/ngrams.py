"""Count-based character n-gram language models: the ladder every neural model is measured against.

Shared by the step-6 checkers (6.1's and 6.2's baselines) and the step after step 7 (the small
GPT), so that all of them compare with the same numbers on the same split. An order-``n`` model
predicts a character from the ``n - 1`` before it with add-``k`` smoothing over the vocabulary:

    p(c | context) = (count(context, c) + k) / (count(context) + k * V)

Held-out characters take their context from the characters before them, across the cut between
the training and held-out parts, as a model reading the text would. Counts are made with numpy
on integer codes of the contexts, so the whole ladder on the movie reviews takes about a second.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# The add-k constant the ladder uses unless told otherwise: small enough that a seen context's
# counts dominate, large enough that an unseen character is not a disaster. Chosen on the
# training part alone (its last 10 % held out: k = 0.1, 0.05, 0.02, 0.01, 0.005 gave a 5-gram
# perplexity of 5.42, 5.11, 4.95, 4.96, 5.02), never on the held-out characters.
DEFAULT_K = 0.02


def _codes(ids: np.ndarray, order: int, vocab_size: int) -> np.ndarray:
    """Integer code of each window ``ids[t - order + 1 .. t]`` for t >= order - 1."""
    n = len(ids) - order + 1
    code = np.zeros(max(n, 0), dtype=np.int64)
    for j in range(order):
        code = code * vocab_size + ids[j : j + n]
    return code


def ngram_perplexity(
    train_ids: Sequence[int] | np.ndarray,
    test_ids: Sequence[int] | np.ndarray,
    vocab_size: int,
    order: int,
    k: float = DEFAULT_K,
) -> float:
    """Held-out perplexity of an add-``k`` character model of this ``order`` (1 = unigram)."""
    train = np.asarray(train_ids, dtype=np.int64)
    test = np.asarray(test_ids, dtype=np.int64)
    if order < 1:
        raise ValueError(f"order must be at least 1, not {order}")
    if vocab_size**order >= 2**62:
        raise ValueError(f"order {order} is too long for a vocabulary of {vocab_size}")
    if order == 1:
        counts = np.bincount(train, minlength=vocab_size).astype(np.float64)
        p = (counts[test] + k) / (len(train) + k * vocab_size)
        return float(np.exp(-np.log(p).mean()))
    # Held-out windows read their context across the cut: the last order-1 training characters.
    joined = np.concatenate([train[-(order - 1) :], test])
    full_train, ctx_train = _codes(train, order, vocab_size), _codes(train[:-1], order - 1, vocab_size)
    full_test, ctx_test = _codes(joined, order, vocab_size), _codes(joined[:-1], order - 1, vocab_size)
    full_keys, full_counts = np.unique(full_train, return_counts=True)
    ctx_keys, ctx_counts = np.unique(ctx_train, return_counts=True)
    num = _lookup(full_keys, full_counts, full_test)
    den = _lookup(ctx_keys, ctx_counts, ctx_test)
    p = (num + k) / (den + k * vocab_size)
    return float(np.exp(-np.log(p).mean()))


def _lookup(keys: np.ndarray, counts: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``counts`` of each of ``wanted`` among sorted ``keys``, 0 where absent."""
    at = np.searchsorted(keys, wanted)
    at_clipped = np.minimum(at, len(keys) - 1)
    found = (at < len(keys)) & (keys[at_clipped] == wanted)
    return np.where(found, counts[at_clipped], 0).astype(np.float64)


def ladder(
    train_ids: Sequence[int] | np.ndarray,
    test_ids: Sequence[int] | np.ndarray,
    vocab_size: int,
    orders: Sequence[int] = (1, 2, 3, 4, 5),
    k: float = DEFAULT_K,
) -> dict[int, float]:
    """Held-out perplexity of each order, ``{1: unigram, 2: bigram, ...}``."""
    return {n: ngram_perplexity(train_ids, test_ids, vocab_size, n, k) for n in orders}
