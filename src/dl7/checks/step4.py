"""Checkers for step 4, "Getting Practical": TensorFlow's autodiff and three ways to train.

Facts come from Matt Mazur's worked example (see /shared/readings-facts.md) and from the
checker's own measurements: analytic derivatives, central differences of the learner's own
forward pass, and accuracy on a held-out split of scikit-learn's digits that this module builds
itself. TensorFlow, Keras and scikit-learn are imported inside the checkers, never at import
time, so that loading this module stays cheap.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, numerical_gradient

# Mazur, "A Step by Step Backpropagation Example": the 2-2-2 network and its first update.
MAZUR_W = (0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55)  # w1..w8
MAZUR_B = (0.35, 0.60)  # b1 (hidden), b2 (output)
MAZUR_X = (0.05, 0.10)  # i1, i2
MAZUR_T = (0.01, 0.99)  # targets of o1, o2
MAZUR_E = 0.298371109  # E_total before the first update
# w+ after one step with eta = 0.5 (w2+..w4+ unrounded, as recomputed in readings-facts.md)
MAZUR_W_PLUS = (0.149780716, 0.199561432, 0.249751144, 0.299502287, 0.35891648, 0.408666186, 0.51130127, 0.561370121)
MAZUR_GRAD = tuple((w - wp) / 0.5 for w, wp in zip(MAZUR_W, MAZUR_W_PLUS, strict=True))  # dE/dw1..dE/dw8
MAZUR_E_AFTER = 0.2910277737  # E_total at w+ (exact; the post prints 0.291027924)
# Another network of the same shape, so that b, x and t must really be used (recomputed).
OTHER = {
    "w": (0.3, -0.2, 0.5, 0.1, -0.4, 0.6, 0.2, -0.3),
    "b": (0.1, -0.2),
    "x": (1.0, -0.5),
    "t": (0.9, 0.2),
    "E": 0.114360636,
}

WIRING = "w1: i1→h1, w2: i2→h1, w3: i1→h2, w4: i2→h2, w5: h1→o1, w6: h2→o1, w7: h1→o2, w8: h2→o2"

# Digits: the split every step-4 exercise trains and is evaluated on.
DIGITS_TEST_SIZE = 0.2
DIGITS_SEED = 0
LOOP_EPOCHS = 20
LOOP_MIN_ACCURACY = 0.95
FIT_MIN_ACCURACY = 0.96
FIT_MAX_PARAMS = 20_000
FIT_MAX_HIDDEN = 2
COMPARE_EPOCHS = 10
COMPARE_BATCH = 32
COMPARE_MIN_ACCURACY = 0.85


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # (1797, 64) pixels scaled to [0, 1]
    y = digits.target.astype(np.int64)  # (1797,) labels 0..9
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=DIGITS_TEST_SIZE, random_state=DIGITS_SEED, stratify=y
    )
    return x_train, x_test, y_train, y_test


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fresh copies of (x_train, x_test, y_train, y_test): 1437 training and 360 test digits."""
    return tuple(a.copy() for a in _digits())  # type: ignore[return-value]


# --- 01_autodiff ------------------------------------------------------------------------


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


# (description, f built from TensorFlow ops, x, analytic df/dx)
_DERIVATIVE_CASES: tuple[tuple[str, Callable[[Any, Any], Any], float, float], ...] = (
    ("f(x) = x**3", lambda tf, x: x**3, 2.0, 12.0),
    ("f(x) = sin(x)", lambda tf, x: tf.sin(x), 0.5, math.cos(0.5)),
    ("f(x) = sigmoid(x)", lambda tf, x: tf.sigmoid(x), -1.0, _sigmoid(-1.0) * (1 - _sigmoid(-1.0))),
    ("f(x) = x * exp(-x**2)", lambda tf, x: x * tf.exp(-(x**2)), 0.7, math.exp(-0.49) * (1 - 2 * 0.49)),
    ("f(x) = log(1 + x**2)", lambda tf, x: tf.math.log(1 + x**2), 3.0, 0.6),
)

_NONE_GRADIENT = (
    "tape.gradient gives None when the tape did not watch x: make x a tf.Variable, or call "
    "tape.watch(x) on a constant, before calling f inside the `with` block"
)


@checker("step4.tape_derivative")
def check_tape_derivative(derivative: Any) -> str:
    import tensorflow as tf

    expect_callable(derivative, "derivative")
    for text, fn, x0, want in _DERIVATIVE_CASES:
        calls = 0

        def f(x: Any, fn: Callable[[Any, Any], Any] = fn) -> Any:
            nonlocal calls
            calls += 1
            return fn(tf, x)

        got = derivative(f, x0)
        what = f"derivative(f, {x0}) for {text}"
        if got is None:
            raise CheckFailed(f"{what} returned None; {_NONE_GRADIENT} (or add the missing `return`)")
        arr = as_array(got, what)
        if arr.size != 1:
            raise CheckFailed(f"{what} has shape {arr.shape}; expected a single number")
        if calls > 1:
            raise CheckFailed(
                f"{what} called f {calls} times; call f once inside a tf.GradientTape and ask the tape "
                "for the gradient (several calls look like finite differences, which is what the checker "
                "uses to check you)"
            )
        value = float(arr.reshape(()))
        if not math.isclose(value, want, rel_tol=1e-4, abs_tol=1e-6):
            raise CheckFailed(f"{what} returned {value:.6g}; expected {want:.6g}")
    return f"matches the analytic derivative of {len(_DERIVATIVE_CASES)} functions"


def _mazur_call(fn: Any, w: Any, **kw: Any) -> tuple[float, np.ndarray, bool]:
    """(E, grad, computed_in_float32) from the learner's mazur_gradients."""
    args = ", ".join(f"{k}=..." for k in kw)
    what = f"mazur_gradients(w{', ' + args if args else ''})"
    out = fn(w, **kw)
    if out is None:
        raise CheckFailed(f"{what} returned None; expected (E_total, gradient). Did you forget `return`?")
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise CheckFailed(f"{what} should return a pair (E_total, gradient); got {type(out).__name__}")
    error, grad = out
    if grad is None:
        raise CheckFailed(f"{what} returned None as the gradient; {_NONE_GRADIENT}")
    e = as_array(error, f"E_total from {what}")
    if e.size != 1:
        raise CheckFailed(f"E_total from {what} has shape {e.shape}; expected a single number")
    raw = np.asarray(grad.numpy() if hasattr(grad, "numpy") else grad)
    g = as_array(raw, f"the gradient from {what}")
    if g.shape != (8,):
        raise CheckFailed(
            f"the gradient from {what} has shape {g.shape}; expected (8,): dE/dw1 .. dE/dw8 in order"
        )
    low_precision = raw.dtype == np.float32 or "float32" in str(getattr(error, "dtype", ""))
    return float(e.reshape(())), g, bool(low_precision)


def _expect_error(got: float, want: float, where: str, fix: str) -> None:
    if math.isclose(got, want, abs_tol=1e-6):
        return
    if math.isclose(got, 2 * want, rel_tol=1e-4):
        fix = "it is twice the right value: E_total = Σ ½ (target − out)², don't forget the ½"
    elif math.isclose(got, want / 2, rel_tol=1e-4):
        fix = "it is half the right value: add up the two outputs' errors (a sum, not a mean)"
    raise CheckFailed(f"{where} E_total is {got:.9f}; expected {want:.9f} — {fix}")


@checker("step4.mazur_autodiff")
def check_mazur_autodiff(mazur_gradients: Any) -> str:
    expect_callable(mazur_gradients, "mazur_gradients")
    error, at_mazur, _ = _mazur_call(mazur_gradients, list(MAZUR_W))
    _expect_error(
        error,
        MAZUR_E,
        "at Mazur's weights",
        "check the forward pass: h = σ(W1·x + b1), o = σ(W2·h + b2), and which weight joins which neurons "
        f"({WIRING})",
    )
    for i in (4, 0, *range(8)):  # the two gradients Mazur works out by hand first
        if not math.isclose(at_mazur[i], MAZUR_GRAD[i], abs_tol=5e-8):
            layer = "a hidden-layer weight" if i < 4 else "an output-layer weight"
            raise CheckFailed(
                f"at Mazur's weights dE/dw{i + 1} is {at_mazur[i]:.9f}; expected {MAZUR_GRAD[i]:.9f} "
                f"(w{i + 1} is {layer}; the wiring is {WIRING})"
            )
    after, _, _ = _mazur_call(mazur_gradients, list(MAZUR_W_PLUS))
    _expect_error(
        after,
        MAZUR_E_AFTER,
        "at Mazur's weights after one update (w+)",
        "the error must be computed from the weights you are given, not from fixed numbers",
    )
    other, _, _ = _mazur_call(
        mazur_gradients, list(OTHER["w"]), b=list(OTHER["b"]), x=list(OTHER["x"]), t=list(OTHER["t"])
    )
    _expect_error(
        other,
        float(OTHER["E"]),  # type: ignore[arg-type]
        f"for another network (w={list(OTHER['w'])}, b={list(OTHER['b'])}, x={list(OTHER['x'])}, "
        f"t={list(OTHER['t'])})",
        "use the b, x and t arguments instead of Mazur's numbers",
    )
    rng = np.random.default_rng(2015)
    for _ in range(3):
        w = rng.uniform(-1, 1, 8)
        kw = {"b": rng.uniform(-0.5, 0.5, 2), "x": rng.uniform(0, 1, 2), "t": rng.uniform(0, 1, 2)}
        _, grad, low = _mazur_call(mazur_gradients, w.copy(), **kw)
        numeric = numerical_gradient(lambda v: _mazur_call(mazur_gradients, v.copy(), **kw)[0], w, eps=1e-6)
        bad = np.flatnonzero(~np.isclose(grad, numeric, atol=1e-7, rtol=1e-5))
        if bad.size:
            i = int(bad[0])
            hint = (
                "your numbers are float32: build the tensors with dtype=tf.float64"
                if low
                else "the gradient must come from tape.gradient of the E_total you return "
                "(compute in tf.float64; no hard-coded numbers)"
            )
            raise CheckFailed(
                f"at random weights w={np.round(w, 3).tolist()} dE/dw{i + 1} is {grad[i]:.9f}, but central "
                f"differences of your own E_total give {numeric[i]:.9f} — {hint}"
            )
    return (
        f"E_total = {error:.9f}, dE/dw5 = {at_mazur[4]:.9f}, dE/dw1 = {at_mazur[0]:.9f}: Mazur's numbers, "
        "and the tape agrees with central differences on random networks"
    )


# --- 02_training_loops ------------------------------------------------------------------


def _accuracy(model: Any, x: np.ndarray, y: np.ndarray, what: str) -> float:
    """Fraction of ``y`` the model gets right; Keras models give scores, others labels."""
    import keras

    if isinstance(model, keras.Model):
        scores = as_array(model(x, training=False), f"{what}(x_test)")
        if scores.shape != (len(x), 10):
            raise CheckFailed(
                f"{what}(x_test) has shape {scores.shape}; expected ({len(x)}, 10): one score per digit class"
            )
        labels = scores.argmax(axis=1)
    elif hasattr(model, "predict"):
        labels = as_array(model.predict(x), f"{what}.predict(x_test)")
        if labels.ndim == 2:
            labels = labels.argmax(axis=1)
        if labels.shape != y.shape:
            raise CheckFailed(f"{what}.predict(x_test) has shape {labels.shape}; expected {y.shape}")
    else:
        raise CheckFailed(f"{what} is a {type(model).__name__}; expected a trained model")
    return float(np.mean(labels == y))


@checker("step4.manual_loop")
def check_manual_loop(train_by_hand: Any) -> str:
    expect_callable(train_by_hand, "train_by_hand")
    x_train, x_test, y_train, y_test = digits_split()
    out = train_by_hand(x_train, y_train, epochs=LOOP_EPOCHS)
    what = f"train_by_hand(x_train, y_train, epochs={LOOP_EPOCHS})"
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise CheckFailed(f"{what} should return (model, losses); got {type(out).__name__}")
    model, losses = out
    if getattr(model, "compiled", False):
        raise CheckFailed(
            "the model was compiled: here the loop is yours (tape, gradients, optimizer.apply_gradients); "
            "compile and fit come in the next exercise"
        )
    history = as_array(losses, "losses")
    if history.shape != (LOOP_EPOCHS,):
        raise CheckFailed(
            f"losses has shape {history.shape}; expected ({LOOP_EPOCHS},): one mean training loss per epoch"
        )
    if not np.all(np.isfinite(history)):
        raise CheckFailed("losses contains nan or inf; is the learning rate too large?")
    if not history[-1] < 0.5 * history[0]:
        raise CheckFailed(
            f"the training loss went from {history[0]:.4f} (epoch 1) to {history[-1]:.4f} (epoch "
            f"{LOOP_EPOCHS}); it should fall a lot — are the gradients applied to "
            "model.trainable_variables every batch?"
        )
    acc = _accuracy(model, x_test, y_test, "model")
    if acc < LOOP_MIN_ACCURACY:
        raise CheckFailed(
            f"test accuracy {acc:.1%} on the {len(y_test)} held-out digits; need at least {LOOP_MIN_ACCURACY:.0%}"
        )
    return f"test accuracy {acc:.1%} on the {len(y_test)} held-out digits after {LOOP_EPOCHS} epochs of your loop"


@checker("step4.keras_fit")
def check_keras_fit(train_with_fit: Any) -> str:
    import keras

    expect_callable(train_with_fit, "train_with_fit")
    x_train, x_test, y_train, y_test = digits_split()
    model = train_with_fit(x_train, y_train)
    if model is None:
        raise CheckFailed("train_with_fit returned None; return the trained model")
    if not isinstance(model, keras.Sequential):
        raise CheckFailed(f"train_with_fit returned a {type(model).__name__}; build a keras.Sequential model")
    allowed = (keras.layers.Dense, keras.layers.Dropout)
    for layer in model.layers:
        if not isinstance(layer, allowed):
            raise CheckFailed(
                f"layer {layer.name!r} is a {type(layer).__name__}; this exercise allows only Dense and Dropout"
            )
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if not dense or dense[-1] is not model.layers[-1] or dense[-1].units != 10:
        raise CheckFailed("the last layer should be a Dense layer with 10 units, one per digit")
    if not 1 <= len(dense) - 1 <= FIT_MAX_HIDDEN:
        raise CheckFailed(
            f"the model has {len(dense) - 1} hidden Dense layers; use 1 to {FIT_MAX_HIDDEN} (plus the output layer)"
        )
    params = model.count_params()
    if params > FIT_MAX_PARAMS:
        raise CheckFailed(f"the model has {params:,} parameters; the limit is {FIT_MAX_PARAMS:,}")
    if not getattr(model, "compiled", False):
        raise CheckFailed("the model was not compiled; call model.compile(optimizer=..., loss=...) before fit")
    if int(model.optimizer.iterations) == 0:
        raise CheckFailed("the model was compiled but never trained; call model.fit(x, y, ...)")
    acc = _accuracy(model, x_test, y_test, "model")
    if acc < FIT_MIN_ACCURACY:
        raise CheckFailed(
            f"test accuracy {acc:.1%} on the {len(y_test)} held-out digits; need at least {FIT_MIN_ACCURACY:.0%}"
        )
    return f"test accuracy {acc:.1%} on the {len(y_test)} held-out digits with {params:,} parameters"


@checker("step4.compare_libraries")
def check_compare_libraries(compare_libraries: Any) -> str:
    import keras

    expect_callable(compare_libraries, "compare_libraries")
    x_train, x_test, y_train, y_test = digits_split()
    start = time.perf_counter()
    table = compare_libraries(x_train, y_train, x_test, y_test, epochs=COMPARE_EPOCHS, batch_size=COMPARE_BATCH)
    elapsed = time.perf_counter() - start
    if not isinstance(table, dict):
        raise CheckFailed(f"compare_libraries returned {type(table).__name__}; expected a dict")
    rows: dict[str, tuple[float, float]] = {}
    for name in ("numpy", "keras"):
        row = table.get(name)
        if not isinstance(row, dict) or not {"seconds", "accuracy", "model"} <= row.keys():
            raise CheckFailed(
                f"results[{name!r}] should be a dict with 'seconds', 'accuracy' and 'model'; got {row!r:.80}"
            )
        seconds = float(as_array(row["seconds"], f"results[{name!r}]['seconds']"))
        reported = float(as_array(row["accuracy"], f"results[{name!r}]['accuracy']"))
        if not (math.isfinite(seconds) and seconds > 0):
            raise CheckFailed(f"results[{name!r}]['seconds'] is {seconds}; expected the training time in seconds")
        if not 0 <= reported <= 1:
            raise CheckFailed(
                f"results[{name!r}]['accuracy'] is {reported}; give it as a fraction between 0 and 1"
            )
        acc = _accuracy(row["model"], x_test, y_test, f"results[{name!r}]['model']")
        if abs(acc - reported) > 0.003:
            raise CheckFailed(
                f"results[{name!r}] reports accuracy {reported:.3f}, but its model scores {acc:.3f} on the "
                "test split; measure the trained model on x_test, y_test"
            )
        rows[name] = (seconds, acc)
    steps = COMPARE_EPOCHS * math.ceil(len(x_train) / COMPARE_BATCH)
    keras_model = table["keras"]["model"]
    if isinstance(keras_model, keras.Model) and keras_model.optimizer is not None:
        done = int(keras_model.optimizer.iterations)
        if done != steps:
            raise CheckFailed(
                f"the Keras model took {done} optimizer steps; {COMPARE_EPOCHS} epochs of batch size "
                f"{COMPARE_BATCH} on {len(x_train)} digits is {steps} — train both for `epochs` epochs with "
                "`batch_size`"
            )
    trained = getattr(table["numpy"]["model"], "epochs_trained", COMPARE_EPOCHS)
    if trained != COMPARE_EPOCHS:
        raise CheckFailed(f"the NumPy model trained for {trained} epochs; expected {COMPARE_EPOCHS}")
    for name, (_, acc) in rows.items():
        if acc < COMPARE_MIN_ACCURACY:
            raise CheckFailed(
                f"the {name} model scores only {acc:.1%} after {COMPARE_EPOCHS} epochs; expected at least "
                f"{COMPARE_MIN_ACCURACY:.0%} — is it trained with the same settings as the other?"
            )
    total = sum(s for s, _ in rows.values())
    if total > elapsed + 0.05:
        raise CheckFailed(
            f"the reported times add up to {total:.2f} s, but compare_libraries ran for only {elapsed:.2f} s; "
            "measure them with time.perf_counter() around each training"
        )
    if total < 0.5 * elapsed:
        raise CheckFailed(
            f"the reported times cover only {total:.2f} s of the {elapsed:.2f} s compare_libraries ran; "
            "put the timer around each library's whole training"
        )
    parts = ", ".join(f"{name} {acc:.1%} in {s:.2f} s" for name, (s, acc) in rows.items())
    return f"{parts} ({COMPARE_EPOCHS} epochs each)"
