"""Checker for the count-based character n-gram of Step 6.1 (``step6.ngram_perplexity``).

The learner writes the add-``k`` n-gram perplexity that every neural model of step 6 is measured
against; the fact it is compared with is :func:`checks.ngrams.ngram_perplexity`, on small texts made
here and on a case worked by hand, with held-out contexts read across the cut.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import expect_callable

from ..ngrams import ngram_perplexity as reference


def _windows(ids: np.ndarray, n: int) -> list[tuple[int, ...]]:
    return [tuple(int(c) for c in ids[i : i + n]) for i in range(len(ids) - n + 1)]


def variant(
    train: np.ndarray,
    test: np.ndarray,
    vocab: int,
    order: int,
    k: float,
    *,
    carry: bool = True,
    kv: bool = True,
    mean_p: bool = False,
    counts_from: np.ndarray | None = None,
    all_contexts: bool = False,
) -> float:
    """The perplexity, right or with one beginner mistake switched on (to diagnose only)."""
    source = train if counts_from is None else counts_from
    full: dict[tuple[int, ...], int] = {}
    for w in _windows(source, order):
        full[w] = full.get(w, 0) + 1
    ctx: dict[tuple[int, ...], int] = {}
    for w in _windows(source if all_contexts else source[:-1], order - 1):
        ctx[w] = ctx.get(w, 0) + 1
    joined = np.concatenate([train[len(train) - order + 1 :], test]) if carry and order > 1 else test
    probs = []
    for w in _windows(joined, order):
        den = (ctx.get(w[:-1], 0) if order > 1 else len(source)) + (k * vocab if kv else k)
        probs.append((full.get(w, 0) + k) / den)
    p = np.array(probs)
    with np.errstate(divide="ignore"):
        return float(1.0 / p.mean()) if mean_p else float(np.exp(-np.log(p).mean()))


def _close(a: float, b: float) -> bool:
    return bool(np.isfinite(a) and abs(a - b) <= 1e-4 * abs(b))


CASES: list[tuple[list[int], list[int], int, int, float, str]] = [
    ([0, 1, 0, 1, 1], [0, 1], 2, 2, 1.0, "by hand"),
    ([0, 0, 1], [0, 1, 2], 3, 1, 1.0, "ids 0, 0, 1; test 0, 1, 2 (2 never seen)"),
    ([2, 0, 1, 2, 0, 1, 2, 2], [0, 1, 0], 4, 3, 0.5, "a trigram whose first test context is 2, 2"),
]


@checker("step6.ngram_perplexity")
def check_ngram_perplexity(ngram_perplexity: Any) -> str:
    expect_callable(ngram_perplexity, "ngram_perplexity")
    rng = np.random.default_rng(24)
    skew = np.array([30, 20, 10, 5, 3, 2, 0, 0], dtype=float)
    cases = [(np.array(a), np.array(b), v, n, k, note) for a, b, v, n, k, note in CASES]
    for order, k in ((1, 0.02), (2, 0.5), (3, 0.02), (4, 0.1)):
        train = rng.choice(8, size=600, p=skew / skew.sum())
        cases.append((train, rng.choice(8, size=120, p=skew / skew.sum()), 8, order, k, "600 skewed ids"))
    for train, test, vocab, order, k, note in cases:
        what = f"ngram_perplexity(train, test, vocab_size={vocab}, order={order}, k={k}) on {note}"
        kept = train.copy(), test.copy()
        with np.errstate(all="ignore"):
            value = ngram_perplexity(train, test, vocab, order, k)
        if not (np.array_equal(train, kept[0]) and np.array_equal(test, kept[1])):
            raise CheckFailed(f"{what} changed the ids it was given")
        try:
            got = float(np.asarray(value, dtype=float).reshape(()))
        except (TypeError, ValueError):
            raise CheckFailed(f"{what} returned {value!r}; expected one number") from None
        want = reference(train, test, vocab, order, k)
        if _close(got, want) or _close(got, variant(train, test, vocab, order, k, all_contexts=True)):
            continue
        raise CheckFailed(
            f"{what} returned {got:.6g}; expected {want:.6g}" + _cause(got, train, test, vocab, order, k)
        )
    return (
        f"add-k perplexity right for orders 1 to 4 on {len(cases)} cases (one by hand), "
        "held-out contexts read across the cut"
    )


def _cause(got: float, train: np.ndarray, test: np.ndarray, vocab: int, order: int, k: float) -> str:
    if not np.isfinite(got):
        return (
            " — a probability of 0 somewhere: an unseen (context, character) needs the k of add-k, "
            "(count + k) / (count(context) + k V)"
        )
    both = np.concatenate([train, test])
    checks = [
        (
            variant(train, test, vocab, order, k, kv=False),
            " — the denominator needs k V, not k: adding k to each "
            "of the V counts adds k V to their total, so that the probabilities still sum to 1",
        ),
        (
            variant(train, test, vocab, order, k, mean_p=True),
            " — that is 1 / (mean probability); perplexity "
            "is exp of the mean of -ln p, a geometric mean, not an arithmetic one",
        ),
        (
            variant(train, test, vocab, order, k, carry=False),
            " — the first held-out characters lost their "
            f"context: their {order - 1} preceding characters are the last ones of the training ids; "
            "read the contexts across the cut (prepend train[-(order - 1):] to the test ids), "
            "so every held-out character is predicted",
        ),
        (
            variant(train, test, vocab, order, k, counts_from=test),
            " — the counts come from the held-out ids: "
            "that leaks the answers into the model; count the training ids only",
        ),
        (
            variant(train, test, vocab, order, k, counts_from=both),
            " — the counts include the held-out ids: "
            "that leaks the answers into the model; count the training ids only",
        ),
        (
            float(np.log(reference(train, test, vocab, order, k))),
            " — that is the mean cross-entropy; perplexity is exp of it",
        ),
    ]
    with np.errstate(all="ignore"):
        unsmoothed = variant(train, test, vocab, order, 0.0)
    checks.append(
        (
            unsmoothed,
            " — that is the unsmoothed (k = 0) perplexity: add k to every count and k V to the "
            "context's count, or a pair never seen in training gets a probability of 0",
        )
    )
    if order > 1:
        checks.append(
            (
                reference(train, test, vocab, order - 1, k),
                f" — that is the order-{order - 1} model: "
                f"an order-{order} model reads the {order - 1} characters before each one",
            )
        )
    return next((why for value, why in checks if _close(got, value)), "")
