"""Checkers for step 8's first notebook (01_why_attention): ``step8.attention_pool``,
``step8.recall_attention``, ``step8.teacher_forcing`` and ``step8.alignment``.

``attention_pool`` is compared with a numpy reference on random cases (masks included, scores
large enough to overflow a naive ``exp``) and then run inside a Keras model, where it meets
symbolic tensors: a numpy-only answer works on arrays and breaks there. ``recall_attention``
trains nothing: it measures the learner's trained models on marked-recall sequences of its own
(7.2's task), and the attention weights on the marked step, the mechanism, beside the accuracy.
``teacher_forcing`` is checked on hand-made padded targets; ``alignment`` compares the learner's
prediction with the reversal's fact and with the trained model's measured alignment.
Keras is imported inside the checkers, never at import time.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable

TOLERANCE = 1e-5

# 7.2's marked-recall task, as the notebook sets it
TASK_STEPS = 40
TASK_SYMBOLS = 4
HELD_OUT = 1000
HELD_OUT_SEED = 8_008
ATTENTION_MIN_ACCURACY = 0.95
PLAIN_MAX_ACCURACY = 0.40  # chance is 0.25
MIN_WEIGHT_ON_MARKER = 0.5

# the reversal task: token 0 pads, digits 0-9 are tokens 1-10, token 11 starts the decoder
PAD, START, MAX_LEN = 0, 11, 10
ALIGNMENT_MIN = 0.90


def _keras() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras

    return keras


def make_recall_data(
    n: int, steps: int, n_symbols: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """7.2's task definition: x (n, steps, n_symbols + 1) one-hot plus a marker column, y (n,)."""
    symbols = rng.integers(0, n_symbols, size=(n, steps))  # (n, steps)
    marked = rng.integers(0, steps, size=n)  # (n,)
    x = np.zeros((n, steps, n_symbols + 1), dtype=np.float32)
    x[..., :n_symbols] = np.eye(n_symbols, dtype=np.float32)[symbols]
    x[np.arange(n), marked, n_symbols] = 1.0
    return x, symbols[np.arange(n), marked]


def make_reverse_data(n: int, rng: np.random.Generator, lengths: Any = None) -> tuple[np.ndarray, ...]:
    """Digit strings padded to MAX_LEN and their reversals: (source, target, lengths)."""
    if lengths is None:
        lengths = rng.integers(1, MAX_LEN + 1, size=n)
    lengths = np.asarray(lengths)
    source = np.zeros((n, MAX_LEN), dtype=np.int32)  # (n, MAX_LEN) token ids, 0 = padding
    target = np.zeros_like(source)
    for i, length in enumerate(lengths):
        digits = rng.integers(1, 11, size=length)  # tokens 1-10 are the digits 0-9
        source[i, :length] = digits
        target[i, :length] = digits[::-1]
    return source, target, lengths


# attention_pool --------------------------------------------------------------------------------


def _softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return np.asarray(e / e.sum(axis=axis, keepdims=True))


def reference_pool(
    scores: np.ndarray, values: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The fact: softmax over the keys (last axis) with masked keys at -inf, then weights @ values."""
    if mask is not None:
        scores = np.where(mask[:, None, :], scores, -np.inf)
    weights = _softmax(scores)  # (N, Tq, T)
    return weights @ values, weights


def _pool_case(seed: int, n: int, tq: int, t: int, d: int, scale: float = 2.0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    scores = rng.normal(0.0, scale, (n, tq, t))
    values = rng.normal(0.0, 1.0, (n, t, d))
    lengths = rng.integers(1, t + 1, size=n)
    lengths[0] = t - 2  # at least one sequence with padding
    mask = np.arange(t)[None, :] < lengths[:, None]  # (N, T): True on real positions, then padding
    return scores, values, mask


def _call_pool(fn: Any, what: str, *args: Any) -> tuple[np.ndarray, np.ndarray]:
    out = fn(*args)
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise CheckFailed(f"{what} returned {type(out).__name__}; expected a pair (context, weights)")
    return as_array(out[0], f"{what}'s context"), as_array(out[1], f"{what}'s weights")


def _diagnose_weights(got: np.ndarray, scores: np.ndarray, mask: np.ndarray | None, what: str) -> None:
    if got.shape != scores.shape:
        raise CheckFailed(
            f"{what}: the weights have shape {got.shape}; expected {scores.shape}, like the scores"
        )
    if not np.all(np.isfinite(got)):
        raise CheckFailed(
            f"{what}: the weights contain nan or inf — with scores as large as {np.abs(scores).max():.0f}, "
            "exp overflows unless you subtract each row's maximum first (ops.softmax does it for you)"
        )
    _, want = reference_pool(scores, np.zeros(scores.shape[:1] + scores.shape[2:] + (1,)), mask)
    if np.allclose(got, want, atol=TOLERANCE):
        return
    for axis, name in ((1, "axis 1, the queries"), (0, "axis 0, the batch")):
        if np.allclose(got.sum(axis=axis), 1.0, atol=1e-4) and not np.allclose(got.sum(-1), 1.0, atol=1e-4):
            raise CheckFailed(
                f"{what}: your weights sum to 1 over {name}, not over the keys: the softmax must run over "
                "the last axis (the T steps a query can look at), so that each query's weights sum to 1"
            )
    if mask is not None:
        rows = mask[:, None, :] & np.ones(scores.shape, dtype=bool)
        masked_weight = float(np.abs(got[~rows]).max())
        plain = _softmax(scores)
        if np.allclose(got, plain * rows, atol=TOLERANCE):
            raise CheckFailed(
                f"{what}: the mask was applied after the softmax (the weights were multiplied by it): the "
                f"weights of a padded row now sum to {got.sum(-1).min():.3f}, not 1 — mask the scores "
                "before the softmax (a very negative score where mask is False)"
            )
        if np.allclose(got, plain, atol=TOLERANCE):
            raise CheckFailed(
                f"{what}: the mask is ignored: padded positions get weights up to {masked_weight:.3f}; "
                "they must get 0"
            )
        if np.allclose(got, _softmax(np.where(rows, scores, 0.0)), atol=TOLERANCE):
            raise CheckFailed(
                f"{what}: masked positions still get weight (up to {masked_weight:.3f}): a masked score of 0 "
                "is not 'no attention', e^0 = 1 — give them a very negative score (e.g. -1e9) instead"
            )
        if masked_weight > 1e-6:
            raise CheckFailed(
                f"{what}: positions where mask is False get weights up to {masked_weight:.3g}; "
                "they must get 0"
            )
    i = np.unravel_index(int(np.argmax(np.abs(got - want))), got.shape)
    raise CheckFailed(
        f"{what}: weights{tuple(int(k) for k in i)} is {got[i]:.6g}; expected {want[i]:.6g} "
        "(the softmax of the scores over the last axis)"
    )


def _inside_a_model(fn: Any) -> None:
    """Run fn in a Keras model's graph, where its inputs are symbolic tensors, not arrays."""
    keras = _keras()
    ops = keras.ops

    def call(self: Any, scores: Any, values: Any, mask: Any) -> Any:
        return fn(scores, values, ops.cast(mask, "bool"))[0]

    pool_layer = type("Pool", (keras.layers.Layer,), {"call": call})  # Keras is imported late

    scores, values, mask = _pool_case(5, 4, 2, 6, 3)
    s_in = keras.Input((2, 6))
    v_in = keras.Input((6, 3))
    m_in = keras.Input((6,))
    try:
        model = keras.Model([s_in, v_in, m_in], pool_layer()(s_in, v_in, m_in))
        got = np.asarray(model.predict([scores, values, mask.astype("float32")], verbose=0))
    except Exception as exc:  # the learner's code meets tensors: any failure is theirs to read
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise CheckFailed(
            "attention_pool works on numpy arrays but fails inside a Keras model, where its inputs are "
            f"tensors ({type(exc).__name__}: {first}) — write it with keras.ops (ops.softmax, ops.where, "
            "ops.matmul, ops.expand_dims), which take arrays and tensors alike, instead of np.*"
        ) from None
    want, _ = reference_pool(scores, values, mask)
    if not np.allclose(got, want, atol=1e-4):
        raise CheckFailed("attention_pool gives other numbers inside a Keras model than on numpy arrays")


@checker("step8.attention_pool")
def check_attention_pool(attention_pool: Any) -> str:
    expect_callable(attention_pool, "attention_pool")
    cases = [(0, 3, 2, 5, 4, 2.0), (1, 2, 3, 7, 1, 2.0), (2, 4, 1, 9, 6, 2.0), (3, 2, 2, 4, 3, 400.0)]
    for seed, n, tq, t, d, scale in cases:
        scores, values, mask = _pool_case(seed, n, tq, t, d, scale)
        for dtype in (np.float64, np.float32):
            for m in (None, mask):
                args: tuple[Any, ...] = (scores.astype(dtype), values.astype(dtype), m)
                what = (
                    f"attention_pool(scores {scores.shape}, values {values.shape}, "
                    f"{'mask ' + str(mask.shape) if m is not None else 'mask=None'})"
                )
                copies: list[Any] = [a.copy() if a is not None else None for a in args]
                context, weights = _call_pool(attention_pool, what, *copies)
                if any(c is not None and not np.array_equal(c, a) for c, a in zip(copies, args, strict=True)):
                    raise CheckFailed(f"{what} changed its input arrays; compute new arrays instead")
                want, _ = reference_pool(scores, values, m)
                if context.shape == scores.shape and weights.shape == want.shape:
                    raise CheckFailed(
                        f"{what} returned the pair the wrong way round: its first item has the weights' "
                        f"shape {scores.shape}, its second the context's {want.shape} — return "
                        "(context, weights), in that order"
                    )
                _diagnose_weights(weights, scores, m, what)
                if context.shape != want.shape:
                    raise CheckFailed(
                        f"{what}: the context has shape {context.shape}; expected (N, Tq, D) = {want.shape}, "
                        "one weighted average of the values per query"
                    )
                if not np.allclose(context, want, atol=1e-4 if dtype == np.float32 else TOLERANCE):
                    raise CheckFailed(
                        f"{what}: the weights are right but the context is off by up to "
                        f"{np.abs(context - want).max():.3g} — the context is weights @ values, a weighted "
                        "sum over the T steps"
                    )
    _inside_a_model(attention_pool)
    return (
        f"matches softmax-then-average on {len(cases)} random cases (with and without padding, float32 "
        "and float64, scores up to ±1000), and runs inside a Keras model"
    )


# recall_attention ------------------------------------------------------------------------------


def _weights_2d(weights: Any, n: int, what: str) -> np.ndarray:
    w = as_array(weights, what)
    if w.shape == (n, 1, TASK_STEPS):
        w = w[:, 0]
    if w.shape != (n, TASK_STEPS):
        raise CheckFailed(
            f"{what} has shape {w.shape}; expected ({n}, {TASK_STEPS}) or ({n}, 1, {TASK_STEPS})"
        )
    return w


def _judge_marker(
    weight_on_marker: Any, weights: np.ndarray, x: np.ndarray, marked: np.ndarray, on: str
) -> None:
    n = len(x)
    what = f"weight_on_marker(weights, x){on}"
    got = weight_on_marker(weights.copy(), x.copy())
    if got is None:
        raise CheckFailed(f"{what} returned None; did you forget a `return`?")
    if isinstance(got, bool) or not isinstance(got, int | float | np.number):
        arr = np.asarray(got)
        if arr.shape == (n,):
            raise CheckFailed(
                f"{what} returned one number per sequence, shape {arr.shape}; return their mean, one float"
            )
        raise CheckFailed(f"{what} returned {type(got).__name__}; expected one float")
    got = float(got)
    on_marker = float(weights[np.arange(n), marked].mean())
    causes = [
        (on_marker * n, "that is the sum over the sequences; return the mean"),
        (
            float(np.mean(np.argmax(weights, axis=1) == marked)),
            "that is the share of sequences whose largest weight is on the marked step; the exercise "
            "asks for the weight itself there, averaged",
        ),
        (
            float(weights.max(axis=1).mean()),
            "that is the mean of each sequence's largest weight, wherever it is; take the weight on the "
            "marked step, np.argmax(x[:, :, -1], axis=1)",
        ),
        (
            float(weights[np.arange(n), np.argmax(x[..., 0], axis=1)].mean()),
            "you looked up the step of symbol 0 (column 0); the marker is the last column, x[:, :, -1]",
        ),
        (
            float(weights[:, -1].mean()),
            "that is the weight on the last step; use each sequence's marked step",
        ),
    ]
    if abs(got - on_marker) > 1e-5:
        cause = next((c for value, c in causes if abs(got - value) <= 1e-5), "")
        raise CheckFailed(
            f"{what} returned {got:.6g} on the checker's sequences, where the mean weight on the marked "
            f"step is {on_marker:.6g}" + (f" — {cause}" if cause else "")
        )


@checker("step8.recall_attention")
def check_recall_attention(model: Any, weights_model: Any, rnn_model: Any, weight_on_marker: Any) -> str:
    if model is None:
        raise NotImplementedError  # the training cell could not run: the exercises above are not done
    expect_callable(weight_on_marker, "weight_on_marker")
    keras = _keras()
    for name, m in (("recall_model", model), ("recall_weights", weights_model), ("rnn_model", rnn_model)):
        if not isinstance(m, keras.Model):
            raise CheckFailed(f"{name} is a {type(m).__name__}; expected a trained Keras model")
    x, y = make_recall_data(HELD_OUT, TASK_STEPS, TASK_SYMBOLS, np.random.default_rng(HELD_OUT_SEED))
    marked = np.argmax(x[..., TASK_SYMBOLS], axis=1)  # (n,)
    acc = float(np.mean(np.argmax(model.predict(x, verbose=0), axis=-1) == y))
    rnn_acc = float(np.mean(np.argmax(rnn_model.predict(x, verbose=0), axis=-1) == y))
    weights = _weights_2d(weights_model.predict(x, verbose=0), HELD_OUT, "recall_weights.predict(x)")
    on_marker = float(weights[np.arange(HELD_OUT), marked].mean())
    figures = (
        f"on {HELD_OUT:,} fresh sequences of {TASK_STEPS} steps: attention {acc:.3f}, SimpleRNN "
        f"{rnn_acc:.3f} (chance {1 / TASK_SYMBOLS:.2f}); mean attention weight on the marked step "
        f"{on_marker:.3f}"
    )

    _judge_marker(weight_on_marker, weights, x, marked, "")
    # The trained model's largest weight is nearly always on the marker, so a function that reads
    # the largest weight would agree there: random weights, whose peak is mostly elsewhere, tell.
    noise = np.random.default_rng(HELD_OUT_SEED + 1).dirichlet(np.ones(TASK_STEPS), size=HELD_OUT)
    _judge_marker(weight_on_marker, noise, x, marked, " (random weights, their largest mostly elsewhere)")
    if acc < ATTENTION_MIN_ACCURACY:
        raise CheckFailed(
            f"{figures}. The attention model should reach {ATTENTION_MIN_ACCURACY:.0%}: run the notebook "
            "again from the top (the training cell relies on the seed) and check that attention_pool passes"
        )
    if on_marker < MIN_WEIGHT_ON_MARKER:
        raise CheckFailed(
            f"{figures}. The model is right, but its attention is not on the marked step: it should put more "
            f"than {MIN_WEIGHT_ON_MARKER} of its weight there"
        )
    if rnn_acc > PLAIN_MAX_ACCURACY:
        raise CheckFailed(
            f"{figures}. The SimpleRNN should stay near chance with the same budget, as in 7.2 — did it "
            "train for more epochs than the attention model?"
        )
    return figures


# teacher_forcing -------------------------------------------------------------------------------


@checker("step8.teacher_forcing")
def check_teacher_forcing(teacher_forcing: Any) -> str:
    expect_callable(teacher_forcing, "teacher_forcing")
    hand = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 2], [5, 0, 0, 0, 0]])
    _, big, _ = make_reverse_data(50, np.random.default_rng(4))
    cases = [(hand, START), (big, START), (hand[:, :1], 9), (big.astype(np.int64), 13)]
    for targets, start in cases:
        copy = targets.copy()
        what = f"teacher_forcing(targets of shape {targets.shape}, start={start})"
        got = teacher_forcing(copy, start)
        if not np.array_equal(copy, targets):
            raise CheckFailed(f"{what} changed targets in place; build a new array for the decoder's inputs")
        arr = as_array(got, what)
        want = np.concatenate([np.full((len(targets), 1), start), targets[:, :-1]], axis=1)
        if arr.shape != want.shape:
            if arr.shape == (len(targets), targets.shape[1] + 1):
                raise CheckFailed(
                    f"{what} has shape {arr.shape}, one step too long: the start token goes in front and "
                    "the last target drops off, so the decoder's inputs keep the targets' shape "
                    f"{targets.shape}"
                )
            raise CheckFailed(f"{what} has shape {arr.shape}; expected the targets' shape {targets.shape}")
        if np.array_equal(arr, want):
            continue
        if np.array_equal(arr, targets):
            raise CheckFailed(
                f"{what} returned the targets themselves: at step t the decoder would be shown the very "
                "token it must predict, and learn to copy it — shift them right by one, start token first"
            )
        if arr.shape[1] > 1 and np.array_equal(arr[:, :-1], targets[:, 1:]):
            raise CheckFailed(
                f"{what} shifts the targets left: the input at step t is the target of step t + 1, so the "
                "decoder is shown the answer ahead — shift them right: inputs[:, 0] = start, "
                "inputs[:, 1:] = targets[:, :-1]"
            )
        if np.array_equal(arr[:, 1:], want[:, 1:]):
            raise CheckFailed(
                f"{what}: the first column is {arr[:, 0].tolist()[:5]}, not the start token {start}: the "
                "decoder's first input is the start token, whatever the targets"
            )
        i, t = (int(k) for k in np.argwhere(arr != want)[0])
        raise CheckFailed(
            f"{what}: inputs[{i}, {t}] is {arr[i, t]:g}; expected {want[i, t]} (targets[{i}, {t - 1}])"
            if t > 0
            else f"{what}: inputs[{i}, 0] is {arr[i, 0]:g}; expected the start token {start}"
        )
    return f"the start token, then the targets shifted right by one, on {len(cases)} cases (pads kept)"


# alignment -------------------------------------------------------------------------------------


_ALIGNMENT_CAUSES: list[tuple[Any, str]] = [
    (lambda i, n: i, "that is the diagonal, the alignment of copying; reversing reads the source backwards"),
    (lambda i, n: n - i, "one past the end: positions count from 0, so the last one is length - 1"),
    (
        lambda i, n: n - 1,
        "the same position for every output step: step i reads one position further back than step 0",
    ),
    (
        lambda i, n: MAX_LEN - 1 - i,
        "counted back from the padded end, MAX_LEN - 1 - i; the string ends at length - 1, the pads "
        "come after it",
    ),
]


def _follows(source_position: Any, rule: Any) -> bool:
    """Whether source_position gives rule's answer for every (i, length) the checker asks about."""
    try:
        return all(source_position(i, n) == rule(i, n) for n in range(1, 13) for i in range(n))
    except Exception:  # the learner's function may fail on some input; then it follows no rule
        return False


@checker("step8.alignment")
def check_alignment(source_position: Any, weights_model: Any) -> str:
    expect_callable(source_position, "source_position")
    for length in range(1, 13):
        for i in range(length):
            got = source_position(i, length)
            what = f"source_position({i}, {length})"
            if isinstance(got, bool) or not isinstance(got, int | np.integer):
                if isinstance(got, float | np.floating) and float(got).is_integer():
                    got = int(got)
                else:
                    raise CheckFailed(f"{what} returned {got!r}; expected a position, an int")
            want = length - 1 - i
            if got == want:
                continue
            cause = next((c for rule, c in _ALIGNMENT_CAUSES if _follows(source_position, rule)), "")
            raise CheckFailed(
                f"{what} returned {got}; output step {i} of a reversed string of length {length} is the "
                f"source's digit at position {want}" + (f" — {cause}" if cause else "")
            )
    if weights_model is None:
        raise NotImplementedError  # the training cell could not run
    keras = _keras()
    if not isinstance(weights_model, keras.Model):
        raise CheckFailed(f"attention_weights is a {type(weights_model).__name__}; expected a Keras model")
    source, target, lengths = make_reverse_data(400, np.random.default_rng(8_009))
    decoder_in = np.concatenate([np.full((400, 1), START), target[:, :-1]], axis=1).astype(np.int32)
    w = as_array(weights_model.predict([source, decoder_in], verbose=0), "attention_weights.predict")
    if w.shape != (400, MAX_LEN, MAX_LEN):
        raise CheckFailed(f"attention_weights gives shape {w.shape}; expected (400, {MAX_LEN}, {MAX_LEN})")
    looked = np.argmax(w, axis=-1)  # (n, output steps): the source position with the largest weight
    right = [
        looked[k, i] == source_position(i, int(lengths[k])) for k in range(400) for i in range(lengths[k])
    ]
    share = float(np.mean(right))
    if share < ALIGNMENT_MIN:
        raise CheckFailed(
            f"your prediction is right, but the trained model's largest weight is on the predicted position "
            f"for only {share:.1%} of the output steps; train it as given (the seed, the epochs) and rerun"
        )
    return (
        f"output step i of a string of length L reads position L - 1 - i; the trained model's largest "
        f"attention weight is there for {share:.1%} of {len(right):,} output steps"
    )
