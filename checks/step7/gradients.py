"""Checkers for the gradients of step 7's second notebook (02_why_gates_matter):
``step7.input_gradients`` and ``step7.gradient_predictions``.

``input_gradients``: the learner's ``input_gradient_norms(model, x, y)`` returns, for every step t,
the mean over the sequences of ‖∂L_n/∂x_(n,t)‖, where L_n is sequence n's cross-entropy (logits in,
so ``from_logits=True``) and the norm runs over the input features of step t. The fact is the
checker's own ``tf.GradientTape`` on models it builds (a SimpleRNN, an LSTM, a GRU, untrained, with
their own seeds, sizes chosen so that N, T and the feature count all differ). When an answer is off,
the checker recomputes the slips beginners make (a batch-mean loss, the norm over the batch as well,
squared norms, a softmax assumed on logits, time reversed, gradients of the weights) and names the
one that reproduces the learner's numbers; the verdict always comes from the reference.

``gradient_predictions``: two things the learner writes down before measuring, judged against what
the checker measures itself on untrained models of the notebook's size: the mean forget-gate
activation of an untrained Keras LSTM (its forget bias starts at 1, so about σ(1) ≈ 0.73), and
which untrained network passes the larger gradient back to step 0 (the SimpleRNN: the LSTM's cell
keeps ~0.73 of itself per step, and 0.73³⁹ is tiny).

This module is imported at the end of ``gates`` (which owns the task's definition) so that one
import registers every checker of the notebook.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import expect_callable

from .gates import KINDS, LAYER_NAMES, TASK_STEPS, TASK_SYMBOLS, _keras, make_recall_data

RTOL = 1e-3  # float32 gradients through up to 15 steps agree with the reference to ~1e-6
# (N, T, units, seed) per kind: N, T and the feature count (5) differ, so a norm over the wrong axis
# cannot come out with the right shape.
GRADIENT_CASES: list[tuple[str, int, int, int, int]] = [
    ("simple_rnn", 9, 13, 6, 71),
    ("lstm", 7, 11, 5, 72),
    ("gru", 3, 15, 4, 73),
]
FORGET_TOLERANCE = 0.05  # a prediction this close to the measured mean is right


def _tf() -> Any:
    _keras()  # sets the quiet environment first
    import tensorflow as tf

    return tf


def small_model(kind: str, steps: int, units: int, seed: int) -> Any:
    """An untrained one-layer recurrent model of the notebook's shape (logits out)."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    layer = {"simple_rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind]
    return keras.Sequential(
        [keras.Input((steps, TASK_SYMBOLS + 1)), layer(units), keras.layers.Dense(TASK_SYMBOLS)]
    )


def input_gradients(model: Any, x: np.ndarray, y: np.ndarray, from_logits: bool = True) -> np.ndarray:
    """∂(Σ_n L_n)/∂x, shape (N, T, F): each sequence's gradient of its own loss (the sequences of a
    batch do not interact, so summing the losses keeps them apart)."""
    tf, keras = _tf(), _keras()
    xt = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        logits = model(xt)
        losses = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=from_logits)  # (N,)
        total = tf.reduce_sum(losses)
    return np.asarray(tape.gradient(total, xt), dtype=float)


def gradient_norms(model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The fact: mean over sequences of ‖∂L_n/∂x_(n,t)‖ over the features, shape (T,)."""
    return np.asarray(np.linalg.norm(input_gradients(model, x, y), axis=2).mean(axis=0))


def _weight_gradient_norms(model: Any, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """‖∂L/∂w‖ of every trainable variable, for a batch-mean loss and for a summed one."""
    tf, keras = _tf(), _keras()
    out = []
    for reduce in (tf.reduce_mean, tf.reduce_sum):
        with tf.GradientTape() as tape:
            logits = model(tf.convert_to_tensor(np.asarray(x, dtype=np.float32)))
            loss = reduce(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        out.append(np.array([float(np.linalg.norm(np.asarray(g))) for g in grads]))
    return out


def _is_weight_gradients(got: Any, model: Any, x: np.ndarray, y: np.ndarray) -> bool:
    """One gradient, or one norm, per trainable variable: the weights were differentiated, not x."""
    variables = model.trainable_variables
    if isinstance(got, list | tuple) and len(got) == len(variables):
        shapes = [tuple(np.shape(np.asarray(item))) for item in got]
        if shapes == [tuple(v.shape) for v in variables]:
            return True
    try:
        values = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return False
    if values.shape != (len(variables),):
        return False
    return any(np.allclose(values, norms, rtol=RTOL) for norms in _weight_gradient_norms(model, x, y))


def _slips(g: np.ndarray, g_probs: np.ndarray, n: int) -> list[tuple[str, np.ndarray]]:
    norms = np.linalg.norm(g, axis=2)  # (N, T)
    return [
        (
            f"your numbers are exactly 1/{n} of the right ones: the loss was averaged over the batch "
            "(Keras's default); sum the per-sequence losses so that each sequence's gradient is its "
            "own, then average the norms",
            norms.mean(axis=0) / n,
        ),
        (
            f"your numbers are exactly {n}× the right ones: you summed the per-sequence norms; "
            "average them over the sequences (axis 0)",
            norms.sum(axis=0),
        ),
        (
            "that is one norm over the batch and the features together (the norm over axes 0 and 2); "
            "take each sequence's norm over its features (axis=-1), then the mean over the sequences",
            np.sqrt((g**2).sum(axis=(0, 2))),
        ),
        (
            "those are squared norms: take the square root of the sum of squares (np.linalg.norm)",
            (norms**2).mean(axis=0),
        ),
        (
            "that is the norm averaged over features and sequences of |∂L/∂x| entry by entry; take "
            "the norm of each step's whole feature vector (np.linalg.norm over axis=-1)",
            np.abs(g).mean(axis=(0, 2)),
        ),
        (
            "the loss treated the logits as probabilities (from_logits=False); the model ends in "
            "a Dense layer with no softmax, so pass from_logits=True",
            np.linalg.norm(g_probs, axis=2).mean(axis=0),
        ),
        (
            "your list runs backwards in time: entry t must belong to input step t (t = 0 is the "
            "first step, the farthest from the answer)",
            norms.mean(axis=0)[::-1],
        ),
    ]


def _judge_one(fn: Any, kind: str, n: int, steps: int, units: int, seed: int) -> float:
    model = small_model(kind, steps, units, seed)
    x, y = make_recall_data(n, steps, TASK_SYMBOLS, np.random.default_rng(seed))
    g = input_gradients(model, x, y)  # (N, T, F)
    want = np.linalg.norm(g, axis=2).mean(axis=0)  # (T,)
    features = TASK_SYMBOLS + 1
    what = (
        f"input_gradient_norms(an untrained {LAYER_NAMES[kind]}, x of shape {x.shape}, y of shape {y.shape})"
    )
    x_copy, y_copy = x.copy(), y.copy()
    got_raw = fn(model, x_copy, y_copy)
    if got_raw is None:
        raise CheckFailed(f"{what} returned None; did you forget a `return`?")
    if _is_weight_gradients(got_raw, model, x, y):
        raise CheckFailed(
            f"{what} returned {len(model.trainable_variables)} values, one per trainable variable of the "
            "model: that is the gradient with respect to the weights (model.trainable_variables); "
            "this exercise asks how the loss depends on the input at each step — tape.watch(x) and "
            "take tape.gradient(loss, x), shape (N, T, features)"
        )
    try:
        got = np.asarray(got_raw, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} returned {type(got_raw).__name__}; expected one number per step") from None
    if not np.array_equal(x_copy, x) or not np.array_equal(y_copy, y):
        raise CheckFailed(f"{what} changed x or y; compute new arrays instead of updating them in place")
    if got.shape != want.shape:
        causes = {
            (features,): f"one number per input feature ({features}): the norm went over the time axis; "
            "take it over the features (axis=-1) so that one number per step remains",
            (n,): f"one number per sequence ({n}): the norm went over time and features together; take "
            "it over the features only, then average over the sequences",
            (n, steps): "one number per sequence and step: average over the sequences (axis 0) as well",
            (n, steps, features): "the gradient itself, shape (N, T, features): take each step's norm over "
            "the features (axis=-1), then the mean over the sequences",
            (steps, features): "one number per step and feature: take the norm over the features of each "
            "sequence first, then the mean over the sequences",
        }
        cause = causes.get(got.shape, f"expected one number per step, shape ({steps},)")
        raise CheckFailed(f"{what} returned shape {got.shape}: {cause}")
    if not np.all(np.isfinite(got)):
        raise CheckFailed(f"{what} returned non-finite values (nan or inf)")
    if np.allclose(got, want, rtol=RTOL, atol=1e-7 * float(want.max())):
        return float(np.abs(got - want).max() / want.max())
    t = int(np.argmax(np.abs(got - want) / (np.abs(want) + 1e-12)))
    message = f"{what}: at step t = {t} you have {got[t]:.4g}, the checker's GradientTape gives {want[t]:.4g}"
    g_probs = input_gradients(model, x, y, from_logits=False)
    for cause, variant in _slips(g, g_probs, n):
        close = np.allclose(got, variant, rtol=RTOL, atol=1e-7 * float(variant.max()))
        if variant.shape == got.shape and close:
            raise CheckFailed(f"{message} — {cause}")
    raise CheckFailed(
        message + " — L_n is sequence n's cross-entropy from the logits; the gradient is taken with respect "
        "to the input x (tape.watch(x)), and each step's norm runs over its features"
    )


@checker("step7.input_gradients")
def check_input_gradients(input_gradient_norms: Any) -> str:
    expect_callable(input_gradient_norms, "input_gradient_norms")
    worst = 0.0
    for kind, n, steps, units, seed in GRADIENT_CASES:
        worst = max(worst, _judge_one(input_gradient_norms, kind, n, steps, units, seed))
    sizes = ", ".join(f"{LAYER_NAMES[k]} ({n} sequences of {t} steps)" for k, n, t, _, _ in GRADIENT_CASES)
    return (
        f"‖∂L/∂x_t‖ per step matches the checker's GradientTape on {sizes}: largest relative gap {worst:.1e}"
    )


# predictions ---------------------------------------------------------------------------------


def forget_gate_mean(model: Any, x: np.ndarray) -> float:
    """The mean forget-gate activation of the model's LSTM over every unit, step and sequence of x."""
    keras = _keras()
    layer = next(la for la in model.layers if isinstance(la, keras.layers.RNN))
    kernel, recurrent, bias = (np.asarray(w, dtype=float) for w in layer.get_weights())
    units = recurrent.shape[0]
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    f_sum = 0.0
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias  # (N, 4H), blocks i, f, c, o
        gate = 1 / (1 + np.exp(-z))
        f = gate[:, units : 2 * units]
        c = f * c + gate[:, :units] * np.tanh(z[:, 2 * units : 3 * units])
        h = gate[:, 3 * units :] * np.tanh(c)
        f_sum += float(f.mean())
    return float(f_sum / x.shape[1])


def _facts() -> tuple[float, dict[str, float]]:
    """Measured on untrained models of the notebook's size: the forget-gate mean, the step-0 norms."""
    x, y = make_recall_data(200, TASK_STEPS, TASK_SYMBOLS, np.random.default_rng(7_070))
    step0 = {}
    forget = 0.0
    for kind in ("simple_rnn", "lstm"):
        model = small_model(kind, TASK_STEPS, 32, seed=0)
        step0[kind] = float(gradient_norms(model, x, y)[0])
        if kind == "lstm":
            forget = forget_gate_mean(model, x)
    return forget, step0


@checker("step7.gradient_predictions")
def check_gradient_predictions(predictions: Any) -> str:
    if callable(predictions):  # the notebook passes a function, so a stub is "not done yet"
        predictions = predictions()
    keys = ["forget_gate", "larger_at_step_0"]
    if not isinstance(predictions, dict) or set(predictions) != set(keys):
        raise CheckFailed(f"predictions() should return a dict with the keys {keys}; got {predictions!r}")
    forget, step0 = _facts()
    value = predictions["forget_gate"]
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise CheckFailed(f"predictions()['forget_gate'] is {value!r}; expected one number between 0 and 1")
    value = float(value)
    if abs(value - forget) > FORGET_TOLERANCE:
        if math.isclose(value, 0.5, abs_tol=0.02):
            cause = (
                "0.5 is σ(0), a gate whose bias starts at 0; Keras starts the forget gate's bias at 1 "
                "(unit_forget_bias=True, notebook 7.1), and the inputs and the small state move it little"
            )
        elif value > 0.95:
            cause = (
                "a sigmoid gate is never fully open, and nothing has trained it open yet: "
                "its bias starts at 1"
            )
        else:
            cause = (
                "the forget gate is σ(x_t W_f + h_(t-1) U_f + b_f) with b_f = 1 and small weights "
                "at the start"
            )
        raise CheckFailed(
            f"you predicted a mean forget gate of {value:.3g}; the untrained LSTM's is {forget:.3f} "
            f"(measured over 200 sequences of {TASK_STEPS} steps) — {cause}"
        )
    larger = predictions["larger_at_step_0"]
    want = max(step0, key=lambda k: step0[k])
    if larger not in ("simple_rnn", "lstm"):
        raise CheckFailed(f"predictions()['larger_at_step_0'] is {larger!r}; expected 'simple_rnn' or 'lstm'")
    if larger != want:
        raise CheckFailed(
            f"you predicted the {LAYER_NAMES[larger]}; untrained, the {LAYER_NAMES[want]} passes the larger "
            f"gradient back to step 0 (mean ‖∂L/∂x_0‖: SimpleRNN {step0['simple_rnn']:.2e}, LSTM "
            f"{step0['lstm']:.2e}) — before training the LSTM's cell keeps about σ(1) ≈ 0.73 of itself "
            f"per step, and 0.73 multiplied {TASK_STEPS - 1} times is about "
            f"{0.73 ** (TASK_STEPS - 1):.0e}; the forget gate has to learn when to stay open"
        )
    return (
        f"forget gate {value:.2f} predicted, {forget:.3f} measured; the {LAYER_NAMES[want]} passes more "
        f"gradient to step 0 untrained ({step0['simple_rnn']:.2e} against {step0['lstm']:.2e})"
    )


__all__ = ["KINDS", "check_gradient_predictions", "check_input_gradients"]
