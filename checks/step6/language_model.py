"""Checkers for Step 6.2, an LSTM language model in Keras (characters of the movie reviews).

Conventions shared with the notebook: the text is ``dl7.datasets.text("movie-reviews")``; its
vocabulary is ``sorted(set(text))`` (102 characters) and a character's id is its index there;
the first 90 % of the characters are for training and the last 10 % are held out
(:func:`heldout_start`). The baselines are add-k count n-grams (:func:`checks.ngrams.ladder`).

Facts the checkers compare with: windows and perplexities worked out by hand, a reference
cross-entropy computed here with a stable log-softmax, and, for the trained model, a held-out
perplexity the checker measures itself on the last 10 % of the text, as the model was compiled
(logits under ``from_logits=True``), against the count n-gram ladder of :mod:`checks.ngrams` on
the same split. Keras is imported only by the model checker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import all_layers, expect_callable

from ..ngrams import ladder

TEXT_NAME = "movie-reviews"
HELDOUT_FRACTION = 0.1
MAX_RATIO = 0.9  # the model's held-out perplexity must be at most 0.9 x the count bigram's
DEFAULT_SEQ_LEN = 100  # windows the checker cuts when the model accepts any length


def heldout_start(n: int) -> int:
    """Index of the first held-out character of a text of ``n`` characters."""
    return int(n * (1.0 - HELDOUT_FRACTION))


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    z = logits - logits.max(axis=axis, keepdims=True)
    out: np.ndarray = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return out


def reference_perplexity(logits: np.ndarray, targets: np.ndarray) -> float:
    logp = log_softmax(np.asarray(logits, dtype=np.float64))
    picked = np.take_along_axis(logp, np.asarray(targets)[..., None], axis=-1)
    return float(np.exp(-picked.mean()))


def _number(value: Any, what: str) -> float:
    if value is None:
        raise CheckFailed(f"{what} returned None; did you forget a `return`?")
    try:
        return float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} returned {type(value).__name__}; expected one number") from None


def _close(a: float, b: float, rtol: float = 5e-4) -> bool:  # float32 answers carry ~7 digits
    return bool(np.isfinite(a) and abs(a - b) <= rtol * max(abs(b), 1e-12))


# step6.make_windows ---------------------------------------------------------------------------


def _windows(ids: np.ndarray, seq_len: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    starts = range(0, len(ids) - seq_len, stride)  # a window needs seq_len + 1 ids
    x = np.array([ids[s : s + seq_len] for s in starts], dtype=np.int64).reshape(-1, seq_len)
    y = np.array([ids[s + 1 : s + seq_len + 1] for s in starts], dtype=np.int64).reshape(-1, seq_len)
    return x, y


WINDOW_CASES: list[tuple[np.ndarray, int, int | None, str]] = [
    (np.arange(10), 3, None, "10 ids, seq_len 3: windows start at 0, 3 and 6"),
    (np.arange(9), 3, None, "9 ids, seq_len 3: a window starting at 6 would need id 9 for its last target"),
    (np.arange(7), 3, 1, "7 ids, seq_len 3, stride 1: overlapping windows start at 0, 1, 2 and 3"),
    (np.array([5, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7]), 4, 2, "14 ids, seq_len 4, stride 2"),
    (np.arange(3), 3, None, "3 ids, seq_len 3: too short for even one window"),
]


@checker("step6.make_windows")
def check_make_windows(make_windows: Any) -> str:
    expect_callable(make_windows, "make_windows")
    rng = np.random.default_rng(6)
    cases = list(WINDOW_CASES)
    cases.append((rng.integers(0, 102, size=500, dtype=np.int32), 64, None, "500 random ids, seq_len 64"))
    cases.append(
        (rng.integers(0, 102, size=301, dtype=np.int32), 25, 10, "301 random ids, seq_len 25, stride 10")
    )
    for ids, seq_len, stride, note in cases:
        what = (
            f"make_windows(ids, {seq_len})"
            if stride is None
            else f"make_windows(ids, {seq_len}, stride={stride})"
        )
        what += f" on {note}"
        original = ids.copy()
        out = make_windows(ids, seq_len) if stride is None else make_windows(ids, seq_len, stride=stride)
        if not np.array_equal(ids, original):
            raise CheckFailed(f"{what} changed the ids it was given; slice them, don't write into them")
        if not isinstance(out, tuple | list) or len(out) != 2:
            raise CheckFailed(f"{what} returned {type(out).__name__}; expected a pair (inputs, targets)")
        x, y = (np.asarray(a) for a in out)
        want_x, want_y = _windows(ids, seq_len, stride or seq_len)
        for name, arr in (("inputs", x), ("targets", y)):
            if arr.size == 0 and arr.shape != (0, seq_len):
                raise CheckFailed(
                    f"{what}: there is no whole window here, and the {name} came back with shape "
                    f"{arr.shape}; return an empty integer array of shape (0, {seq_len}) so the "
                    "shapes still line up (np.array([]) is a float array of shape (0,))"
                )
            if arr.dtype.kind not in "iu":
                raise CheckFailed(
                    f"{what}: the {name} have dtype {arr.dtype}; an Embedding layer needs integer ids "
                    "(np.zeros makes floats: give it dtype=np.int32, or build the windows from ids)"
                )
        if (
            want_x.size
            and x.shape == want_x.shape
            and np.array_equal(x, want_x)
            and np.array_equal(y, want_x)
        ):
            raise CheckFailed(
                f"{what}: the targets equal the inputs; each target is the *next* character, "
                "so the targets are the inputs shifted by one: ids[s + 1 : s + seq_len + 1]"
            )
        if x.shape != want_x.shape or y.shape != want_y.shape:
            why = ""
            if x.ndim == 2 and x.shape[1:] == want_x.shape[1:]:
                if x.shape[0] == want_x.shape[0] - 1:
                    why = (
                        " — you dropped the last window: a window starting at s fits when s + seq_len "
                        "is still a valid index (it holds the last target)"
                    )
                elif x.shape[0] == want_x.shape[0] + 1:
                    why = (
                        " — one window too many: the last one has no next character for its last "
                        "input (a window needs seq_len + 1 ids)"
                    )
                elif stride is not None and x.shape[0] != want_x.shape[0]:
                    why = f" — are you using stride={stride}? Windows start every `stride` ids"
            raise CheckFailed(
                f"{what} returned inputs of shape {x.shape} and targets of shape {y.shape}; "
                f"expected {want_x.shape} for both{why}"
            )
        for name, got, want in (("inputs", x, want_x), ("targets", y, want_y)):
            if not np.array_equal(got, want):
                row = int(np.flatnonzero((got != want).any(axis=1))[0])
                raise CheckFailed(
                    f"{what}: {name} window {row} is {got[row].tolist()}; expected {want[row].tolist()}"
                )
    return "windows, shifted targets, strides and the last-window boundary right on 7 cases"


# step6.perplexity ------------------------------------------------------------------------------


@checker("step6.perplexity")
def check_perplexity(perplexity: Any) -> str:
    expect_callable(perplexity, "perplexity")
    # 1. Worked by hand: equal logits mean a uniform guess over 4 characters, perplexity 4.
    logits = np.zeros((2, 3, 4))
    targets = np.array([[0, 1, 2], [3, 2, 1]])
    got = _number(perplexity(logits, targets), "perplexity(zeros of shape (2, 3, 4), targets)")
    if _close(got, np.log(4.0)):
        raise CheckFailed(
            f"with all logits equal over 4 characters you returned {got:.4f} = ln 4, the mean "
            "cross-entropy; perplexity is exp of it (4 here: a uniform guess among 4)"
        )
    if not _close(got, 4.0):
        raise CheckFailed(
            f"with all logits equal (a uniform guess among 4 characters) you returned {got:.6g}; expected 4"
            + _perplexity_cause(got, logits, targets)
        )
    # 2. Random logits, against a stable log-softmax.
    rng = np.random.default_rng(62)
    cases = [
        (rng.normal(size=(3, 5, 7)) * 2.0, "random logits of shape (3, 5, 7)"),
        (rng.normal(size=(4, 6, 5)) * 3.0, "random logits of shape (4, 6, 5)"),
        (rng.normal(size=(2, 4, 6)) * 2.0 + 1000.0, "large logits (about 1000) of shape (2, 4, 6)"),
    ]
    for logits, desc in cases:
        targets = rng.integers(0, logits.shape[-1], size=logits.shape[:-1])
        logits_copy = logits.copy()
        what = f"perplexity on {desc}"
        with np.errstate(all="ignore"):
            got = _number(perplexity(logits, targets), what)
        if not np.array_equal(logits, logits_copy):
            raise CheckFailed(f"{what} changed the logits it was given; compute on a copy")
        want = reference_perplexity(logits, targets)
        if _close(got, want):
            continue
        raise CheckFailed(
            f"{what} returned {got:.6g}; expected {want:.6g}" + _perplexity_cause(got, logits, targets)
        )
    return "exp of the mean cross-entropy, right on uniform, random and very large logits"


def _perplexity_cause(got: float, logits: np.ndarray, targets: np.ndarray) -> str:
    if not np.isfinite(got):
        if np.abs(logits).max() > 100:
            return (
                " — exp of a large logit overflowed: subtract each row's maximum before exp "
                "(log-softmax), it changes nothing mathematically"
            )
        return ""
    logp = log_softmax(logits)
    ce = -np.take_along_axis(logp, targets[..., None], axis=-1)
    if _close(got, float(ce.mean())):
        return " — that is the mean cross-entropy; perplexity is exp of it"
    if logits.ndim == 3 and _close(got, float(np.exp(ce.mean(axis=(1, 2))).mean())):
        return (
            " — that is the mean of the per-sequence perplexities; perplexity is exp of the mean "
            "log-loss over every position of every sequence, not the mean of perplexities (exp is convex: "
            "averaging after it gives a larger number)"
        )
    if _close(got, float(np.exp(ce).mean())):
        return (
            " — that is the mean of exp(-ln p) over positions; take exp of the mean log-loss, "
            "not the mean of the exps"
        )
    if _close(got, float(np.exp(ce.sum()))) or _close(got, float(ce.sum())):
        return f" — you summed the {ce.size} per-character losses; take their mean"
    if _close(got, float(2.0 ** ce.mean())) or _close(got, float(np.exp(ce.mean() / np.log(2)))):
        return " — the log and the exp must use the same base: natural log with exp (or log2 with 2**)"
    for axis in range(logits.ndim - 1):
        wrong = -np.take_along_axis(log_softmax(logits, axis=axis), targets[..., None], axis=-1)
        if _close(got, float(np.exp(wrong.mean()))):
            return (
                f" — your softmax normalises over axis {axis}; "
                "it must run over the last axis (the characters)"
            )
    return ""


# step6.lm_predictions ------------------------------------------------------------------------


@checker("step6.lm_predictions")
def check_lm_predictions(predictions: Any) -> str:
    if callable(predictions):  # the notebook passes a function, so its stub means "not done yet"
        predictions = predictions()
    key = "unseen_context_perplexity"
    if not isinstance(predictions, dict) or key not in predictions:
        raise CheckFailed(f"predictions() should return a dict with the key {key!r}; got {predictions!r}")
    value = predictions[key]
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise CheckFailed(f"predictions()[{key!r}] is {value!r}; expected one number")
    v = 102
    if np.isclose(float(value), 1 / v, rtol=1e-2):
        raise CheckFailed(
            f"predictions()[{key!r}] is {value}: that is the probability each character gets, 1 / V; "
            "the perplexity is 1 / (geometric mean of the probabilities)"
        )
    if not np.isfinite(float(value)) or float(value) == 0:
        raise CheckFailed(
            f"predictions()[{key!r}] is {value}: with add-k no probability is 0 — an unseen context "
            "has count 0 and every count(ctx c) is 0, so p = (0 + k) / (0 + k V)"
        )
    if not np.isclose(float(value), v, rtol=1e-3):
        raise CheckFailed(
            f"predictions()[{key!r}] is {value}; where count(ctx) = 0, p(c | ctx) = (0 + k) / (0 + k V) "
            "for every c — what is the perplexity of a uniform guess over V = 102 characters?"
        )
    return "an unseen context gets add-k's uniform guess: perplexity V = 102, whatever k is"


# step6.lstm_lm ---------------------------------------------------------------------------------


def loss_takes_logits(model: Any) -> bool | None:
    """How the model was compiled: True under ``from_logits=True``, False for a loss that expects
    probabilities (Keras's default), None when it was not compiled or the loss is unknown."""
    loss = getattr(model, "loss", None)
    if loss is None:
        return None
    if isinstance(loss, str) or (callable(loss) and not hasattr(loss, "get_config")):
        return False if "crossentropy" in str(getattr(loss, "__name__", loss)) else None
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    return bool(config["from_logits"]) if "from_logits" in config else None


def heldout_perplexity(
    predict: Callable[[np.ndarray], np.ndarray],
    ids: np.ndarray,
    seq_len: int,
    logits: bool | None = None,
) -> tuple[float, float, bool]:
    """(perplexity of the next character, perplexity of the *current* one, outputs look like
    probabilities) over non-overlapping windows of ``seq_len`` of ``ids``. ``logits`` says how the
    outputs are read: as logits (True), as probabilities (False), or as they look (None)."""
    n = (len(ids) - 1) // seq_len
    x = ids[: n * seq_len].reshape(n, seq_len)  # (n, seq_len) inputs
    y = ids[1 : n * seq_len + 1].reshape(n, seq_len)  # (n, seq_len) next characters
    out = np.asarray(predict(x), dtype=np.float64)  # (n, seq_len, V)
    probs = bool(out.min() >= 0.0 and np.allclose(out.sum(axis=-1), 1.0, atol=1e-3))
    as_probs = probs if logits is None else not logits
    logp = np.log(np.clip(out, 1e-12, None)) if as_probs else log_softmax(out)
    next_ppl = float(np.exp(-np.take_along_axis(logp, y[..., None], axis=-1).mean()))
    same_ppl = float(np.exp(-np.take_along_axis(logp, x[..., None], axis=-1).mean()))
    return next_ppl, same_ppl, probs


def text_ids(text: str, vocab: Any) -> np.ndarray:
    """The text as the learner's character ids (id = position in ``vocab``), or a failure that
    says what is wrong with ``vocab``. Shared with the epilogue's GPT checker."""
    try:
        chars = list(vocab)
    except TypeError:
        raise CheckFailed(f"vocab should be the list of characters; got {type(vocab).__name__}") from None
    if len(set(chars)) != len(chars) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
        raise CheckFailed("vocab should be a list of distinct single characters, id = position")
    index = {c: i for i, c in enumerate(chars)}
    missing = sorted(set(text) - set(index))
    if missing:
        raise CheckFailed(
            f"vocab lacks {len(missing)} character(s) of the text, e.g. {missing[0]!r}; use sorted(set(text))"
        )
    return np.array([index[c] for c in text], dtype=np.int32)


@checker("step6.lstm_lm")
def check_lstm_lm(model: Any, vocab: Any, build_model: Any = None) -> str:
    if model is None:
        if build_model is not None:  # not trained: find out whether build_model works at all
            built = build_model(len(vocab))  # its NotImplementedError or crash is reported as such
            if built is None:
                raise CheckFailed("build_model returned None; did you forget `return model`?")
            raise CheckFailed("model is None: run the training cell above first")
        raise NotImplementedError
    from dl7 import datasets

    text = datasets.text(TEXT_NAME)
    import keras

    if not isinstance(model, keras.Model):
        raise CheckFailed(f"expected a Keras model; got {type(model).__name__}")
    layers = all_layers(model)
    if not any(isinstance(la, keras.layers.Embedding) for la in layers):
        raise CheckFailed("the model has no Embedding layer; start with layers.Embedding(vocab_size, dim)")
    if not any(isinstance(la, keras.layers.LSTM) for la in layers):
        raise CheckFailed("the model has no LSTM layer; the exercise asks for an LSTM language model")
    ids = text_ids(text, vocab)
    chars = list(vocab)
    start = heldout_start(len(ids))
    rungs = ladder(ids[:start], ids[start:], len(chars))  # {1: unigram, ..., 5: 5-gram}
    baseline = rungs[2]
    seq_len = (
        model.input_shape[1] if len(model.input_shape) == 2 and model.input_shape[1] else DEFAULT_SEQ_LEN
    )
    out_dim = model.output_shape[-1] if isinstance(model.output_shape, tuple) else None
    if len(model.output_shape) != 3 or out_dim != len(chars):
        raise CheckFailed(
            f"the model's output has shape {model.output_shape}; expected (batch, time, {len(chars)}): "
            "one score per character of the vocabulary at every time step (return_sequences=True)"
        )

    def predict(x: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(x, batch_size=256, verbose=0))

    compiled = loss_takes_logits(model)
    ppl, same, probs = heldout_perplexity(predict, ids[start:], int(seq_len), compiled)
    where = f"on the last {len(ids) - start:,} characters of the text (held out)"
    limit = MAX_RATIO * baseline
    shown = ", ".join(f"{n}-gram {v:.2f}" for n, v in rungs.items())
    if compiled is False and not probs:
        raise CheckFailed(
            "the model outputs logits (they do not sum to 1), but its loss was compiled to expect "
            "probabilities: use SparseCategoricalCrossentropy(from_logits=True)"
        )
    if not np.isfinite(ppl) or ppl > limit:
        msg = (
            f"held-out perplexity {ppl:.2f} {where}, read as the model was compiled; the count "
            f"bigram's is {baseline:.2f}, so it must be at most {limit:.2f} ({MAX_RATIO:g} × the bigram)"
        )
        if same < 2.0:
            msg += (
                f" — your model predicts the character it is given (perplexity {same:.2f} on the "
                "current character): were the targets shifted by one?"
            )
        elif probs:
            msg += (
                " — your model ends in a softmax, and the loss (from_logits=True) applies a second "
                "one: it trained on softmax(softmax(z)), which is nearly flat; give the last Dense "
                "no activation"
            )
        elif ppl >= rungs[1] * 0.9:
            msg += " — no better than counting characters: is the model trained (run the training cell)?"
        else:
            msg += " — train on more text or longer, or try more LSTM units"
        raise CheckFailed(msg)
    return (
        f"held-out perplexity {ppl:.2f} {where}, measured by the checker, at most {MAX_RATIO:g} × "
        f"the count bigram's; the ladder: {shown}"
    )
