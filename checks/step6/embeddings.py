"""Checkers for Step 6.3, word embeddings.

Conventions shared with the notebook: an embedding matrix ``E`` has one row per word id,
shape (V, d); id 0 is the padding id (``vocab[0] == "<pad>"``), so real words have ids 1..V-1
and row 0 is never a word.

Facts the checkers compare with: one-hot products and ``keras.layers.Embedding`` with the same
weights, cosine similarities worked out here on random matrices with zero rows, an embedding
built here whose nearest neighbours are known by construction, and, for the trained model, a
held-out accuracy and a sentiment-word clustering measured here against random word sets.
Keras is imported only by the checkers that need it.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, expect_close


def _keras() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras

    return keras


# step6.embedding_lookup ----------------------------------------------------------------------


@checker("step6.embedding_lookup")
def check_embedding_lookup(embedding_lookup: Any) -> str:
    expect_callable(embedding_lookup, "embedding_lookup")
    rng = np.random.default_rng(3)
    vocab, dim = 9, 4
    E = rng.normal(size=(vocab, dim))  # (V, d); row 0 is the padding id's row
    cases = [
        np.array([3, 0, 8, 3]),  # (T,), a repeated id and the padding id
        np.array([[1, 2, 0, 0], [8, 7, 6, 5], [4, 0, 0, 0]]),  # (N, T): a padded batch
        np.array([5]),
    ]
    for ids in cases:
        what = f"embedding_lookup(E of shape {E.shape}, ids of shape {ids.shape})"
        E_given = E.copy()
        try:
            got = as_array(embedding_lookup(E_given, ids.copy()), what)
        except IndexError as exc:
            raise CheckFailed(
                f"{what} raised IndexError ({exc}) — ids go up to V-1 = {vocab - 1} and pick *rows* of E, "
                f"shape (V, d); E.T has only d = {dim} rows"
            ) from None
        if not np.array_equal(E_given, E):
            raise CheckFailed(f"{what} changed E in place; a lookup only reads it")
        want = np.eye(vocab)[ids] @ E  # one-hot rows times the matrix: the definition
        if got.shape != want.shape:
            raise CheckFailed(
                f"{what} has shape {got.shape}; expected {want.shape} — one d-vector per id, "
                "keeping the shape of ids (a batch of sequences gives (N, T, d))"
            )
        if np.allclose(got, E[ids - 1]):
            raise CheckFailed(
                f"{what} returned row id - 1 for each id — ids index rows directly: id 0 is the padding "
                "row 0, so no shift is needed"
            )
        expect_close(got, want, what, atol=1e-12, rtol=1e-12, hint="row i of E is the vector of id i")

    keras = _keras()
    layer = keras.layers.Embedding(vocab, dim)
    layer.build((None,))
    layer.set_weights([E.astype("float32")])
    ids = cases[1]
    want = np.asarray(layer(ids))
    got = as_array(embedding_lookup(E.astype("float32"), ids), "embedding_lookup")
    expect_close(got, want, "embedding_lookup compared with keras.layers.Embedding", atol=1e-6, rtol=1e-6)
    return "equals one_hot(ids) @ E for 1-D and 2-D ids, and keras.layers.Embedding with the same weights"


# step6.cosine_similarity -----------------------------------------------------------------------


def cosine_matrix(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(n, m) cosines between the rows of A and of B; 0 wherever a row is all zeros."""
    na = np.linalg.norm(A, axis=1, keepdims=True)  # (n, 1)
    nb = np.linalg.norm(B, axis=1, keepdims=True)  # (m, 1)
    An = np.divide(A, na, out=np.zeros_like(A), where=na > 0)
    Bn = np.divide(B, nb, out=np.zeros_like(B), where=nb > 0)
    return np.asarray(An @ Bn.T)


def _cosine_mistake(got: np.ndarray, A: np.ndarray, B: np.ndarray) -> str:
    """The likely cause when ``got`` is not the cosine matrix of A and B."""
    if got.shape != (len(A), len(B)):
        return f"expected shape (n, m) = {(len(A), len(B))}"
    if np.allclose(got, A @ B.T):
        return "those are the plain dot products; divide by both vectors' lengths: cos = a·b / (|a| |b|)"
    with np.errstate(all="ignore"):
        wrong_axis = (A / np.linalg.norm(A, axis=0)) @ (B / np.linalg.norm(B, axis=0)).T
    if np.allclose(got, wrong_axis, atol=1e-6):
        return "you normalised each column; normalise each row — np.linalg.norm(A, axis=1, keepdims=True)"
    return "cos(a, b) = a·b / (|a| |b|), row by row"


@checker("step6.cosine_similarity")
def check_cosine_similarity(cosine_similarity: Any) -> str:
    expect_callable(cosine_similarity, "cosine_similarity")
    rng = np.random.default_rng(5)
    A = rng.normal(size=(6, 5)) * rng.uniform(0.1, 10, size=(6, 1))  # rows of very different lengths
    B = rng.normal(size=(7, 5)) * rng.uniform(0.1, 10, size=(7, 1))
    cases = [
        # By hand: parallel, opposite, orthogonal, a longer copy, 45 degrees.
        (np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[3.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])),
        (A, B),
        (A.copy(), B.copy()),
    ]
    cases[2][0][2] = 0.0  # a zero vector (an untrained row) on each side
    cases[2][1][4] = 0.0
    names = [
        "cosine_similarity(A, B) with A = [[1, 0], [0, 2]], B = [[3, 0], [-1, 0], [0, 1], [1, 1]]",
        f"cosine_similarity(A of shape {A.shape}, B of shape {B.shape}), rows of lengths 0.1 to 10",
        f"cosine_similarity(A of shape {A.shape}, B of shape {B.shape}) with a zero row in each",
    ]
    for (a, b), what in zip(cases, names, strict=True):
        with np.errstate(all="ignore"):
            got = as_array(cosine_similarity(a.copy(), b.copy()), what)
        want = cosine_matrix(a, b)
        if got.shape == want.shape and np.allclose(got, want, atol=1e-6, rtol=1e-6):
            continue
        if got.shape == want.shape and not np.all(np.isfinite(got)):
            raise CheckFailed(
                f"{what} contains nan: a zero vector has length 0, and 0 / 0 is nan — give it similarity 0 "
                "(divide only where the norm is > 0, or by np.maximum(norm, 1e-12))"
            )
        if got.shape != want.shape:
            raise CheckFailed(f"{what} has shape {got.shape}; {_cosine_mistake(got, a, b)}")
        i, j = np.unravel_index(int(np.argmax(np.abs(got - want))), got.shape)
        raise CheckFailed(
            f"{what}: entry ({i}, {j}) is {got[i, j]:.4g}; expected {want[i, j]:.4g} — "
            + _cosine_mistake(got, a, b)
        )
    return "right on hand-made vectors and on random rows of very different lengths; zero vectors give 0"


# step6.nearest_neighbours ----------------------------------------------------------------------

# A constructed embedding: each word's vector is chosen, so its neighbours are known.
_WORDS = {  # listed in an order unrelated to similarity, so a shifted index cannot look right
    "<pad>": [0.95, 0.31, 0.0],  # the padding row: not a word, though it sits next to "good"
    "<unk>": [0.0, 0.0, 1.0],
    "superb": [9.0, 9.0, 0.2],  # long: wins on dot product with "good", but a wider angle
    "bad": [-1.0, 0.2, 0.0],
    "fine": [0.7, 0.6, 0.0],
    "table": [0.0, 0.1, 0.9],
    "great": [0.9, 0.35, 0.05],  # the closest direction to "good"
    "awful": [-0.9, 0.1, 0.1],
    "good": [1.0, 0.3, 0.0],
    "chair": [0.1, 0.0, 0.8],
}
_VOCAB = list(_WORDS)
_E = np.array(list(_WORDS.values()))


def expected_neighbours(word: str, E: np.ndarray, vocab: list[str], k: int) -> list[str]:
    i = vocab.index(word)
    sims = cosine_matrix(E[i : i + 1], E)[0]
    sims[[0, i]] = -np.inf  # never the padding row, never the word itself
    return [vocab[j] for j in np.argsort(-sims, kind="stable")[:k]]


@checker("step6.nearest_neighbours")
def check_nearest_neighbours(nearest_neighbours: Any) -> str:
    expect_callable(nearest_neighbours, "nearest_neighbours")
    rng = np.random.default_rng(9)
    big_vocab = ["<pad>", "<unk>"] + [f"w{i}" for i in range(2, 60)]
    big_E = rng.normal(size=(60, 8)) * rng.uniform(0.2, 5, size=(60, 1))
    cases = [
        ("good", _E, _VOCAB, 3),
        ("bad", _E, _VOCAB, 2),
        ("table", _E, _VOCAB, 4),
        ("w7", big_E, big_vocab, 5),
        ("w59", big_E, big_vocab, 6),
    ]
    for word, E, vocab, k in cases:
        what = f"nearest_neighbours({word!r}, E, vocab, k={k})"
        got = nearest_neighbours(word, E.copy(), list(vocab), k)
        if not isinstance(got, list | tuple) or not all(isinstance(w, str) for w in got):
            raise CheckFailed(f"{what} returned {got!r}; expected a list of {k} words (strings)")
        got = list(got)
        want = expected_neighbours(word, E, vocab, k)
        if got == want:
            continue
        i = vocab.index(word)
        ids = [vocab.index(w) if w in vocab else -1 for w in got]
        sims = cosine_matrix(E[i : i + 1], E)[0]
        if got[0] == word and got[1:] == want[:-1]:
            why = "the word itself is always its own nearest neighbour (cosine 1); leave it out"
        elif [vocab[j - 1] for j in ids if j > 0] == want or [
            vocab[j + 1] for j in ids if 0 <= j < len(vocab) - 1
        ] == want:
            why = (
                "each word is one place off its row: if you searched E[1:] (skipping the padding row), "
                "add 1 back to the positions before looking words up"
            )
        elif word in got:
            why = "the word itself is always its own nearest neighbour (cosine 1); leave it out"
        elif "<pad>" in got:
            why = "row 0 is the padding id, not a word; leave it out"
        elif len(got) != k:
            why = f"return exactly k = {k} words"
        elif got == [vocab[j] for j in np.argsort(-(E @ E[i]), kind="stable") if j not in (0, i)][:k]:
            why = "that ranks by dot product, which favours long vectors; rank by cosine similarity"
        elif got == expected_neighbours(word, E, vocab, len(vocab) - 2)[::-1][:k]:
            why = "those are the *least* similar words; sort by decreasing similarity"
        else:
            why = f"their cosines with {word!r} are {[round(float(sims[j]), 3) for j in ids]}"
        raise CheckFailed(f"{what} returned {got}; expected {want} — {why}")
    return (
        f"right on {len(cases)} cases, including a long vector that dot products prefer and a padding "
        "row next to 'good'"
    )


# step6.sentiment_embedding ---------------------------------------------------------------------

POSITIVE = (
    "good", "great", "best", "wonderful", "beautiful", "funny", "enjoyable", "brilliant",
    "moving", "entertaining", "charming", "fascinating", "powerful", "fun", "solid", "fresh",
)  # fmt: skip
NEGATIVE = (
    "bad", "worst", "dull", "boring", "stupid", "mess", "fails", "flat",
    "tedious", "lame", "awful", "predictable", "unfunny", "pointless", "waste", "tiresome",
)  # fmt: skip
MAX_LEN = 40
EMBED_DIM = 16
EPOCHS = 2
MIN_ACCURACY = 0.72
RANDOM_SETS = 300


def tokenize(sentence: str) -> list[str]:
    """Lower-case words, keeping contractions (it's, don't) whole."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", sentence.lower())


def build_vocab(sentences: Any, min_count: int = 2) -> list[str]:
    """["<pad>", "<unk>", then words seen at least min_count times, most frequent first]."""
    counts = Counter(w for s in sentences for w in tokenize(s))
    return ["<pad>", "<unk>"] + [w for w, c in counts.most_common() if c >= min_count]


def encode(sentences: Any, word_to_id: dict[str, int], max_len: int = MAX_LEN) -> np.ndarray:
    """(N, max_len) ids, padded with 0 at the end; unknown words become 1."""
    out = np.zeros((len(sentences), max_len), dtype=np.int64)
    for r, s in enumerate(sentences):
        ids = [word_to_id.get(w, 1) for w in tokenize(s)][:max_len]
        out[r, : len(ids)] = ids
    return out


def separation(E: np.ndarray, a: list[int], b: list[int]) -> float:
    """Mean cosine within each word set minus the mean cosine across the two sets."""
    S = cosine_matrix(E[a + b], E[a + b])
    n = len(a)

    def upper(M: np.ndarray) -> float:
        return float(M[np.triu_indices(len(M), 1)].mean())

    return (upper(S[:n, :n]) + upper(S[n:, n:])) / 2 - float(S[:n, n:].mean())


def _find_embedding(model: Any, keras: Any) -> Any:
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.Embedding):
            return layer
    return None


def shuffle_words(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of (N, T) ids with each row's words in a random order; the padding stays at the end."""
    out = np.array(X, copy=True)
    for row in out:
        n = int(np.count_nonzero(row))
        row[:n] = rng.permutation(row[:n])
    return out


def _check_shuffle_prediction(predicted: Any, change: float) -> None:
    """The learner's predicted change (in points) of held-out accuracy when the words are shuffled."""
    value = predicted() if callable(predicted) else predicted  # a stub raises NotImplementedError
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise CheckFailed(
            f"predicted_shuffle_change() returned {value!r}; expected one number, the change in points"
        )
    if abs(float(value) - change) > 0.5:
        raise CheckFailed(
            f"you predicted a change of {float(value):+.1f} points; shuffling the words of every held-out "
            f"sentence changed the accuracy by {change:+.2f} — the model averages the word vectors, and "
            "a mean is the same in any order: it cannot see word order at all, so not one prediction "
            "moves"
        )


@checker("step6.sentiment_embedding")
def check_sentiment_embedding(build_model: Any, predicted_shuffle_change: Any = None) -> str:
    expect_callable(build_model, "build_model")
    if predicted_shuffle_change is not None:
        expect_callable(predicted_shuffle_change, "predicted_shuffle_change")
        predicted_shuffle_change()  # a stub: not done yet, before seconds of training
    keras = _keras()
    from dl7 import datasets

    x_train, y_train, x_test, y_test = datasets.load("movie-reviews").split()
    vocab = build_vocab(x_train)
    word_to_id = {w: i for i, w in enumerate(vocab)}
    X_train, X_test = encode(x_train, word_to_id), encode(x_test, word_to_id)

    keras.utils.set_random_seed(0)
    what = f"build_model(vocab_size={len(vocab)}, embed_dim={EMBED_DIM})"
    model = build_model(len(vocab), EMBED_DIM)
    if not isinstance(model, keras.Model):
        raise CheckFailed(f"{what} returned {type(model).__name__}; expected a keras model")
    layer = _find_embedding(model, keras)
    if layer is None:
        raise CheckFailed(f"{what} has no keras.layers.Embedding layer; start with one")
    if layer.input_dim != len(vocab):
        raise CheckFailed(
            f"{what}: the Embedding layer has input_dim={layer.input_dim}; "
            f"expected vocab_size = {len(vocab)} — "
            "ids run from 0 (padding) to vocab_size - 1, one row each"
        )
    if layer.output_dim != EMBED_DIM:
        raise CheckFailed(
            f"{what}: the Embedding layer has output_dim={layer.output_dim}; expected {EMBED_DIM}"
        )
    first = np.asarray(model(X_test[:256], training=False)).ravel()  # before any training
    if first.size != 256:
        raise CheckFailed(
            f"{what} gives {first.size} numbers for 256 sentences; expected one probability per sentence — "
            "end with layers.Dense(1, activation='sigmoid')"
        )
    if np.any(first < 0) or np.any(first > 1):
        raise CheckFailed(
            f"{what} gives outputs from {first.min():.3g} to {first.max():.3g} on 256 sentences; expected "
            "probabilities in [0, 1] — end with layers.Dense(1, activation='sigmoid')"
        )
    sentence = [5, 9, 23]  # the same sentence, padded to 4 and to 10 ids
    short = np.asarray(model(np.array([sentence + [0]]), training=False)).ravel()
    long = np.asarray(model(np.array([sentence + [0] * 7]), training=False)).ravel()
    if not np.allclose(short, long, atol=1e-5):
        raise CheckFailed(
            f"{what}: the same sentence padded with 1 or with 7 zeros gets {short[0]:.4f} and "
            f"{long[0]:.4f} — padding must not count: Embedding(..., mask_zero=True) and a pooling "
            "layer that honours the mask"
        )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=EPOCHS, batch_size=64, verbose=0)
    accuracy = float(np.mean((np.asarray(model.predict(X_test, verbose=0)).ravel() > 0.5) == y_test))
    if predicted_shuffle_change is not None:
        shuffled = shuffle_words(X_test, np.random.default_rng(0))
        in_any_order = float(
            np.mean((np.asarray(model.predict(shuffled, verbose=0)).ravel() > 0.5) == y_test)
        )
        change = 100 * (in_any_order - accuracy)

    E = np.asarray(layer.get_weights()[0], dtype=float)  # (V, d)
    pos = [word_to_id[w] for w in POSITIVE if w in word_to_id]
    neg = [word_to_id[w] for w in NEGATIVE if w in word_to_id]
    score = separation(E, pos, neg)
    rng = np.random.default_rng(0)
    frequent = np.arange(2, min(len(vocab), 2002))  # the 2,000 most frequent words
    chance = [
        separation(
            E,
            list(rng.choice(frequent, len(pos), replace=False)),
            list(rng.choice(frequent, len(neg), replace=False)),
        )
        for _ in range(RANDOM_SETS)
    ]
    top = float(np.max(chance))
    summary = (
        f"held-out accuracy {accuracy:.1%} after {EPOCHS} epochs; {len(pos)} positive and "
        f"{len(neg)} negative words: within-set minus across-set cosine {score:.2f}, "
        f"vs at most {top:.2f} for {RANDOM_SETS} pairs "
        "of random word sets"
    )
    if accuracy < MIN_ACCURACY:
        raise CheckFailed(
            f"{summary} — accuracy should reach {MIN_ACCURACY:.0%}: Embedding(mask_zero=True) → "
            "GlobalAveragePooling1D → Dense(1, activation='sigmoid')"
        )
    if score <= max(top, 0.5):
        raise CheckFailed(f"{summary} — the sentiment words should cluster by sentiment far beyond chance")
    if predicted_shuffle_change is not None:
        _check_shuffle_prediction(predicted_shuffle_change, change)
        summary += f"; words shuffled in every held-out sentence: {change:+.2f} points, as you predicted"
    return summary
