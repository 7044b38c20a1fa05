"""Step 6.1's ``step6.ngram_perplexity``: right answers written three ways pass; the mistakes
beginners make fail with a message that names the cause."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import course

ngram = course("step6").ngram


def counter_style(train_ids: Any, test_ids: Any, vocab_size: int, order: int, k: float = 0.02) -> float:
    """Counters of tuples, a loop over the held-out characters."""
    train = [int(c) for c in train_ids]
    test = train[len(train) - order + 1 :] + [int(c) for c in test_ids] if order > 1 else list(test_ids)
    full = Counter(tuple(train[i : i + order]) for i in range(len(train) - order + 1))
    ctx = Counter(tuple(train[i : i + order - 1]) for i in range(len(train) - order + 1))
    total = 0.0
    for i in range(len(test) - order + 1):
        w = tuple(test[i : i + order])
        total -= np.log((full[w] + k) / (ctx[w[:-1]] + k * vocab_size))
    return float(np.exp(total / (len(test) - order + 1)))


def float32_style(train_ids: Any, test_ids: Any, vocab_size: int, order: int, k: float = 0.02) -> np.float32:
    p = np.float32(0)
    train = np.asarray(train_ids)
    joined = np.concatenate([train[len(train) - order + 1 :], test_ids])
    logs = []
    for i in range(len(joined) - order + 1):
        w = joined[i : i + order]
        hits = np.all(np.lib.stride_tricks.sliding_window_view(train, order) == w, axis=1).sum()
        ctx = np.all(np.lib.stride_tricks.sliding_window_view(train[:-1], order - 1) == w[:-1], axis=1).sum()
        logs.append(np.log(np.float32((hits + k) / (ctx + k * vocab_size))))
    p = np.exp(-np.mean(np.array(logs, dtype=np.float32)))
    return p


def mistaken(**bug: Any) -> Any:
    def fn(train_ids: Any, test_ids: Any, vocab_size: int, order: int, k: float = 0.02) -> float:
        return ngram.variant(np.asarray(train_ids), np.asarray(test_ids), vocab_size, order, k, **bug)

    return fn


def test_right_three_ways() -> None:
    for fn in (counter_style, float32_style, mistaken()):
        r = evaluate("step6.ngram_perplexity", fn)
        assert r.status == "passed", r.message


def test_counts_every_context_of_the_training_ids() -> None:
    # count(ctx) over all len(train) - order + 2 contexts, the last one included: a fair reading
    assert evaluate("step6.ngram_perplexity", mistaken(all_contexts=True)).status == "passed"


@pytest.mark.parametrize(
    ("bug", "fragments"),
    [
        ({"kv": False}, ("needs k V",)),
        ({"mean_p": True}, ("1 / (mean probability)", "geometric mean")),
        ({"carry": False}, ("lost their context", "across the cut")),
    ],
)
def test_known_mistakes(bug: dict[str, bool], fragments: tuple[str, ...]) -> None:
    expect_failed(evaluate("step6.ngram_perplexity", mistaken(**bug)), *fragments)


def test_counts_the_heldout_ids() -> None:
    def leak(train_ids: Any, test_ids: Any, vocab_size: int, order: int, k: float = 0.02) -> float:
        t, s = np.asarray(train_ids), np.asarray(test_ids)
        return ngram.variant(t, s, vocab_size, order, k, counts_from=np.concatenate([t, s]))

    expect_failed(evaluate("step6.ngram_perplexity", leak), "include the held-out ids", "training ids only")


def test_no_smoothing() -> None:
    r = evaluate("step6.ngram_perplexity", lambda a, b, v, n, k=0.02: mistaken()(a, b, v, n, 0.0))
    expect_failed(r, "unsmoothed (k = 0)", "probability of 0")


def test_one_order_too_short() -> None:
    r = evaluate("step6.ngram_perplexity", lambda a, b, v, n, k=0.02: mistaken()(a, b, v, max(n - 1, 1), k))
    expect_failed(r, "order-1 model")


def test_returns_cross_entropy() -> None:
    r = evaluate("step6.ngram_perplexity", lambda *a: float(np.log(mistaken()(*a))))
    expect_failed(r, "mean cross-entropy", "exp")


def test_matches_the_shared_ladder() -> None:
    from checks.ngrams import ngram_perplexity

    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 6, 300), rng.integers(0, 6, 50)
    for order in (1, 2, 3):
        assert np.isclose(counter_style(a, b, 6, order, 0.1), ngram_perplexity(a, b, 6, order, 0.1))


def test_stub() -> None:
    assert evaluate("step6.ngram_perplexity", stub).status == "not_attempted"
