"""The n-gram ladder (checks/ngrams.py) against a plain dictionary count on small texts."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from tests.course import course

ngrams = course("ngrams")


def _by_hand(train: list[int], test: list[int], vocab: int, order: int, k: float) -> float:
    full = Counter(tuple(train[i : i + order]) for i in range(len(train) - order + 1))
    ctx = Counter(tuple(train[i : i + order - 1]) for i in range(len(train) - order + 1))
    joined = train[len(train) - (order - 1) :] + test if order > 1 else test
    total = 0.0
    for t in range(order - 1, len(joined)):
        window = tuple(joined[t - order + 1 : t + 1])
        context = window[:-1]
        den = ctx[context] if order > 1 else len(train)
        total += math.log((full[window] + k) / (den + k * vocab))
    return math.exp(-total / len(test))


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_matches_a_dictionary_count(order: int) -> None:
    rng = np.random.default_rng(order)
    train = list(rng.integers(0, 5, 300) % (1 + rng.integers(1, 5, 300)))
    test = list(rng.integers(0, 5, 60))
    got = ngrams.ngram_perplexity(train, test, 5, order, 0.3)
    assert got == pytest.approx(_by_hand(train, test, 5, order, 0.3), rel=1e-12)
    assert got > 1


def test_a_longer_context_helps_on_repetitive_text() -> None:
    text = [0, 1, 2, 3, 4] * 200
    ladder = ngrams.ladder(text[:800], text[800:], 5, orders=(1, 2, 3))
    assert ladder[1] == pytest.approx(5, rel=0.01)
    assert ladder[2] < 1.1 and ladder[3] < 1.1


def test_bad_order_is_refused() -> None:
    with pytest.raises(ValueError, match="order"):
        ngrams.ngram_perplexity([0, 1], [1], 2, 0)
