"""Step 6.3 checkers (word embeddings): each passes right answers, written two ways, and fails
the mistakes beginners make with a message that names the cause."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import COURSE_ROOT

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


# embedding_lookup ----------------------------------------------------------------------------


def lookup_one_hot(E: np.ndarray, ids: Any) -> np.ndarray:
    """Written differently: the definition, one-hot rows times E."""
    return np.eye(E.shape[0])[np.asarray(ids)] @ E


def lookup_loop(E: np.ndarray, ids: Any) -> np.ndarray:
    ids = np.asarray(ids)
    out = np.zeros(ids.shape + (E.shape[1],))
    for pos in np.ndindex(ids.shape):
        out[pos] = E[ids[pos]]
    return out


def test_lookup_right() -> None:
    r = evaluate("step6.embedding_lookup", lambda E, ids: E[ids])
    assert r.status == "passed", r.message
    assert "keras.layers.Embedding" in r.message


@pytest.mark.parametrize("fn", [lookup_one_hot, lookup_loop, lambda E, ids: np.take(E, ids, axis=0)])
def test_lookup_right_written_differently(fn: Any) -> None:
    assert evaluate("step6.embedding_lookup", fn).status == "passed"


def test_lookup_shifted_for_padding() -> None:
    r = evaluate("step6.embedding_lookup", lambda E, ids: E[np.asarray(ids) - 1])
    expect_failed(r, "id - 1", "padding row 0")


def test_lookup_flattens_batch() -> None:
    r = evaluate("step6.embedding_lookup", lambda E, ids: E[np.ravel(ids)])
    expect_failed(r, "shape (12, 4)", "(N, T, d)")


def test_lookup_transposed_matrix() -> None:
    r = evaluate("step6.embedding_lookup", lambda E, ids: E.T[ids].T)
    expect_failed(r, "IndexError", "*rows* of E")


def test_lookup_stub() -> None:
    assert evaluate("step6.embedding_lookup", stub).status == "not_attempted"


# cosine_similarity ---------------------------------------------------------------------------


def cosine_right(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    na = np.linalg.norm(A, axis=1, keepdims=True)
    nb = np.linalg.norm(B, axis=1, keepdims=True)
    return (A / np.maximum(na, 1e-12)) @ (B / np.maximum(nb, 1e-12)).T


def cosine_loop(A: np.ndarray, B: np.ndarray) -> list[list[float]]:
    """Written differently: a double loop with a guard, returning nested lists."""
    out = []
    for a in A:
        row = []
        for b in B:
            denom = np.sqrt(a @ a) * np.sqrt(b @ b)
            row.append(float(a @ b / denom) if denom > 0 else 0.0)
        out.append(row)
    return out


def test_cosine_right() -> None:
    r = evaluate("step6.cosine_similarity", cosine_right)
    assert r.status == "passed", r.message


def test_cosine_loop_passes() -> None:
    assert evaluate("step6.cosine_similarity", cosine_loop).status == "passed"


def test_cosine_dot_product() -> None:
    r = evaluate("step6.cosine_similarity", lambda A, B: A @ B.T)
    expect_failed(r, "plain dot products", "|a| |b|")


def test_cosine_wrong_axis() -> None:
    r = evaluate(
        "step6.cosine_similarity",
        lambda A, B: (A / np.linalg.norm(A, axis=0)) @ (B / np.linalg.norm(B, axis=0)).T,
    )
    expect_failed(r, "normalised each column", "axis=1")


def test_cosine_nan_for_zero_vector() -> None:
    def nan_zero(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        return (A / np.linalg.norm(A, axis=1, keepdims=True)) @ (
            B / np.linalg.norm(B, axis=1, keepdims=True)
        ).T

    expect_failed(evaluate("step6.cosine_similarity", nan_zero), "nan", "zero vector", "similarity 0")


def test_cosine_stub() -> None:
    assert evaluate("step6.cosine_similarity", stub).status == "not_attempted"


# nearest_neighbours --------------------------------------------------------------------------


def neighbours_right(word: str, E: np.ndarray, vocab: list[str], k: int = 5) -> list[str]:
    i = vocab.index(word)
    sims = cosine_right(E[i : i + 1], E)[0]
    sims[0] = sims[i] = -np.inf
    return [vocab[j] for j in np.argsort(-sims)[:k]]


def neighbours_loop(word: str, E: np.ndarray, vocab: list[str], k: int = 5) -> list[str]:
    """Written differently: score every other word, sort (similarity, word) pairs."""
    w = E[vocab.index(word)]
    scored = []
    for j, other in enumerate(vocab):
        if j == 0 or other == word:
            continue
        scored.append((float(w @ E[j] / (np.linalg.norm(w) * np.linalg.norm(E[j]))), other))
    return [other for _, other in sorted(scored, key=lambda pair: -pair[0])[:k]]


def test_neighbours_right() -> None:
    r = evaluate("step6.nearest_neighbours", neighbours_right)
    assert r.status == "passed", r.message


def test_neighbours_loop_passes() -> None:
    assert evaluate("step6.nearest_neighbours", neighbours_loop).status == "passed"


def test_neighbours_include_the_word() -> None:
    def with_self(word: str, E: np.ndarray, vocab: list[str], k: int = 5) -> list[str]:
        sims = cosine_right(E[vocab.index(word)][None], E)[0]
        sims[0] = -np.inf
        return [vocab[j] for j in np.argsort(-sims)[:k]]

    expect_failed(evaluate("step6.nearest_neighbours", with_self), "'good'", "its own nearest neighbour")


def test_neighbours_off_by_one_after_skipping_padding() -> None:
    def shifted(word: str, E: np.ndarray, vocab: list[str], k: int = 5) -> list[str]:
        i = vocab.index(word)
        sims = cosine_right(E[i : i + 1], E[1:])[0]
        sims[i - 1] = -np.inf
        return [vocab[j] for j in np.argsort(-sims)[:k]]

    expect_failed(evaluate("step6.nearest_neighbours", shifted), "one place off", "add 1 back")


def test_neighbours_dot_product() -> None:
    def by_dot(word: str, E: np.ndarray, vocab: list[str], k: int = 5) -> list[str]:
        i = vocab.index(word)
        sims = E @ E[i]
        sims[0] = sims[i] = -np.inf
        return [vocab[j] for j in np.argsort(-sims)[:k]]

    expect_failed(evaluate("step6.nearest_neighbours", by_dot), "'superb'", "dot product", "long vectors")


def test_neighbours_keeps_padding() -> None:
    def with_pad(word: str, E: np.ndarray, vocab: list[str], k: int = 5) -> list[str]:
        i = vocab.index(word)
        sims = cosine_right(E[i : i + 1], E)[0]
        sims[i] = -np.inf
        return [vocab[j] for j in np.argsort(-sims)[:k]]

    expect_failed(evaluate("step6.nearest_neighbours", with_pad), "<pad>", "padding id")


def test_neighbours_least_similar() -> None:
    def ascending(word: str, E: np.ndarray, vocab: list[str], k: int = 5) -> list[str]:
        i = vocab.index(word)
        sims = cosine_right(E[i : i + 1], E)[0]
        sims[0] = sims[i] = np.inf
        return [vocab[j] for j in np.argsort(sims)[:k]]

    expect_failed(evaluate("step6.nearest_neighbours", ascending), "*least* similar")


def test_neighbours_stub() -> None:
    assert evaluate("step6.nearest_neighbours", stub).status == "not_attempted"


# sentiment_embedding (trains a Keras model: seconds each) ------------------------------------


def make_builder(
    input_dim_offset: int = 0, mask: bool = True, sigmoid: bool = True, pool: str = "avg"
) -> Any:
    def build_model(vocab_size: int, embed_dim: int) -> Any:
        import keras
        from keras import layers

        return keras.Sequential(
            [
                keras.Input(shape=(None,), dtype="int32"),
                layers.Embedding(vocab_size + input_dim_offset, embed_dim, mask_zero=mask),
                layers.GlobalAveragePooling1D() if pool == "avg" else layers.GlobalMaxPooling1D(),
                layers.Dense(1, activation="sigmoid" if sigmoid else None),
            ]
        )

    return build_model


@pytest.mark.slow
def test_sentiment_right() -> None:
    r = evaluate("step6.sentiment_embedding", make_builder())
    assert r.status == "passed", r.message
    assert "held-out accuracy" in r.message and "random word sets" in r.message


@pytest.mark.slow
def test_sentiment_input_dim_one_short() -> None:
    r = evaluate("step6.sentiment_embedding", make_builder(input_dim_offset=-1))
    expect_failed(r, "input_dim=", "0 (padding)")


@pytest.mark.slow
def test_sentiment_padding_not_masked() -> None:
    expect_failed(evaluate("step6.sentiment_embedding", make_builder(mask=False)), "mask_zero=True")


@pytest.mark.slow
def test_sentiment_no_sigmoid() -> None:
    expect_failed(evaluate("step6.sentiment_embedding", make_builder(sigmoid=False)), "sigmoid")


def test_sentiment_not_a_model() -> None:
    expect_failed(
        evaluate("step6.sentiment_embedding", lambda v, d: np.zeros((v, d))), "expected a keras model"
    )


def test_sentiment_stub() -> None:
    assert evaluate("step6.sentiment_embedding", stub).status == "not_attempted"


# The notebook's neighbours cell -------------------------------------------------------------


def test_notebook_finds_the_embedding_of_a_functional_model() -> None:
    # build_model written with the functional API passes the check, but its model.layers[0] is
    # the InputLayer (no weights): the neighbours cell used to stop with an IndexError.

    import keras
    import nbformat
    from keras import layers

    notebook = COURSE_ROOT / "notebooks" / "step6" / "03_word_embeddings.ipynb"
    cell = next(c for c in nbformat.read(notebook, as_version=4).cells if c.get("id") == "2504fd60")
    inputs = keras.Input(shape=(None,), dtype="int32")
    pooled = layers.GlobalAveragePooling1D()(layers.Embedding(30, 16, mask_zero=True)(inputs))
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(pooled))
    assert isinstance(model.layers[0], layers.InputLayer)
    vocab = ["<pad>", "<unk>", "good", "funny", "bad", "boring", "film", "actors"]
    vocab += [f"w{i}" for i in range(22)]
    seen: dict[str, Any] = {}

    def nearest_neighbours(word: str, E: np.ndarray, vocab: list[str], k: int = 5) -> list[str]:
        seen["E"] = E
        return vocab[2 : 2 + k]

    namespace = {"model": model, "layers": layers, "vocab": vocab, "nearest_neighbours": nearest_neighbours}
    exec(cell.source, namespace)
    assert seen["E"].shape == (30, 16)


# the prediction: shuffled words ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("said", [0.0, 0, np.float32(0.2)])
def test_sentiment_shuffle_prediction_right(said: Any) -> None:
    r = evaluate("step6.sentiment_embedding", make_builder(), lambda: said)
    assert r.status == "passed", r.message
    assert "as you predicted" in r.message


@pytest.mark.slow
def test_sentiment_shuffle_prediction_expects_a_fall() -> None:
    r = evaluate("step6.sentiment_embedding", make_builder(), lambda: -5.0)
    expect_failed(r, "you predicted a change of -5.0 points", "a mean is the same in any order")


@pytest.mark.slow
def test_sentiment_shuffle_prediction_not_a_number() -> None:
    r = evaluate("step6.sentiment_embedding", make_builder(), lambda: "none")
    expect_failed(r, "expected one number")


def test_sentiment_shuffle_prediction_stub() -> None:
    assert evaluate("step6.sentiment_embedding", make_builder(), stub).status == "not_attempted"


def test_shuffle_words_keeps_each_rows_words_and_padding() -> None:
    from tests.course import course

    X = np.array([[4, 5, 6, 0, 0], [7, 0, 0, 0, 0]])
    got = course("step6.embeddings").shuffle_words(X, np.random.default_rng(0))
    assert sorted(got[0, :3]) == [4, 5, 6] and got[0, 3:].tolist() == [0, 0]
    assert got[1].tolist() == [7, 0, 0, 0, 0] and X[0].tolist() == [4, 5, 6, 0, 0]
