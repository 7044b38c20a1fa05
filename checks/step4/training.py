"""Checkers for step 4's second notebook (02_training_loops): ``step4.manual_loop``,
``step4.keras_fit``, ``step4.compare_libraries`` and ``step4.validation_choice``.

Each checker trains the learner's code on its own copy of the course's shared split of the
digits (``datasets.load("digits").split3()``: 1,079 train, 359 validation, 359 test, the split
notebooks 3.03 and 5.02 use too) and measures accuracy on the test part itself; the validation
choice is judged by re-scoring the learner's models on the validation part. TensorFlow, Keras
and scikit-learn are imported inside the checkers, never at import time.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable

# Digits: notebook 4.03's split (scikit-learn's train_test_split); 4.02 uses the shared one.
DIGITS_TEST_SIZE = 0.2
DIGITS_SEED = 0
LOOP_EPOCHS = 20
LOOP_MIN_ACCURACY = 0.94  # measured on the shared split: 95.0-95.8 % (seeds 0-3)
FIT_MIN_ACCURACY = 0.95  # the notebook's model: 95.5-96.9 % (seeds 0-3)
FIT_MAX_PARAMS = 20_000
FIT_MAX_HIDDEN = 2
COMPARE_EPOCHS = 10
COMPARE_BATCH = 32
COMPARE_MIN_ACCURACY = 0.85  # SGD, 10 epochs: 90.8-91.4 % (Keras), about 92 % (NumPy)
CHOICE_CANDIDATES = (3.0, 0.01, 0.3)  # not sorted; the largest diverges, so max(dict) picks badly
CHOICE_EPOCHS = 5


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
    """Notebook 4.03's (x_train, x_test, y_train, y_test): 1437 training and 360 test digits."""
    return tuple(a.copy() for a in _digits())  # type: ignore[return-value]


@functools.lru_cache(maxsize=1)
def _shared() -> tuple[np.ndarray, ...]:
    from dl7 import datasets

    split = datasets.load("digits").split3()
    return tuple(a.reshape(len(a), 64) if a.ndim == 4 else a for a in split)  # images (n, 64) float32


def shared_split() -> tuple[np.ndarray, ...]:
    """Fresh copies of the shared ``x_train, y_train, x_val, y_val, x_test, y_test`` (1079/359/359)."""
    return tuple(a.copy() for a in _shared())


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
    x_train, y_train, _, _, x_test, y_test = shared_split()
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
    if not history[-1] < 0.5 * history[0] and abs(history[-1] - math.log(10)) < 0.1:
        raise CheckFailed(
            f"the training loss went from {history[0]:.4f} (epoch 1) to {history[-1]:.4f} (epoch "
            f"{LOOP_EPOCHS}), which is ln 10 = 2.3026, the chance level of 10 classes; it should fall "
            "far below. The model relates no image to its label: are the gradients applied to "
            "model.trainable_variables every batch, and does each batch take its images and its labels "
            "with the same indices?"
        )
    if history[-1] > history[0]:
        raise CheckFailed(
            f"the training loss grew from {history[0]:.4f} (epoch 1) to {history[-1]:.4f} (epoch "
            f"{LOOP_EPOCHS}): the updates climb the loss — hand the optimizer the gradients as the tape "
            "gives them (it subtracts them itself), and check the learning rate"
        )
    if not history[-1] < 0.5 * history[0]:
        raise CheckFailed(
            f"the training loss went from {history[0]:.4f} (epoch 1) to {history[-1]:.4f} (epoch "
            f"{LOOP_EPOCHS}); it should fall a lot — are the gradients applied to "
            "model.trainable_variables every batch?"
        )
    acc = _accuracy(model, x_test, y_test, "model")
    if acc < LOOP_MIN_ACCURACY:
        raise CheckFailed(
            f"test accuracy {acc:.1%} on the {len(y_test)} test digits; need at least {LOOP_MIN_ACCURACY:.0%}"
        )
    epochs = f"{LOOP_EPOCHS} epochs of your loop"
    return f"test accuracy {acc:.1%} on the {len(y_test)} test digits after {epochs}"


@checker("step4.keras_fit")
def check_keras_fit(train_with_fit: Any) -> str:
    import keras

    expect_callable(train_with_fit, "train_with_fit")
    x_train, y_train, _, _, x_test, y_test = shared_split()
    model = train_with_fit(x_train, y_train)
    if model is None:
        raise CheckFailed("train_with_fit returned None; return the trained model")
    if not isinstance(model, keras.Sequential):
        raise CheckFailed(f"train_with_fit returned a {type(model).__name__}; build a keras.Sequential model")
    allowed = (keras.layers.Dense, keras.layers.Dropout)
    for layer in model.layers:
        if not isinstance(layer, allowed):
            raise CheckFailed(
                f"layer {layer.name!r} is a {type(layer).__name__}; "
                "this exercise allows only Dense and Dropout layers"
            )
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if not dense or dense[-1] is not model.layers[-1] or dense[-1].units != 10:
        raise CheckFailed("the last layer should be a Dense layer with 10 units, one per digit")
    if not 1 <= len(dense) - 1 <= FIT_MAX_HIDDEN:
        raise CheckFailed(
            f"the model has {len(dense) - 1} hidden Dense layers; "
            f"use 1 to {FIT_MAX_HIDDEN} (plus the output layer)"
        )
    params = model.count_params()
    if params > FIT_MAX_PARAMS:
        raise CheckFailed(f"the model has {params:,} parameters; the limit is {FIT_MAX_PARAMS:,}")
    if not getattr(model, "compiled", False):
        raise CheckFailed(
            "the model was not compiled; call model.compile(optimizer=..., loss=...) before fit"
        )
    if int(model.optimizer.iterations) == 0:
        raise CheckFailed("the model was compiled but never trained; call model.fit(x, y, ...)")
    scores = np.asarray(model(x_test, training=False))
    if (
        _loss_takes_logits(model)  # softmax outputs with a loss that expects probabilities are fine
        and scores.ndim == 2
        and np.all((scores >= 0) & (scores <= 1))
        and np.any((scores > 0) & (scores < 1))
        and np.allclose(scores.sum(axis=1), 1.0, atol=1e-4)
    ):
        raise CheckFailed(
            "the model's outputs are probabilities (each row sums to 1): its last Dense has a softmax. "
            "With from_logits=True the loss applies a softmax itself; end with Dense(10) and no "
            "activation (or use from_logits=False, consistently)"
        )
    acc = _accuracy(model, x_test, y_test, "model")
    if acc < FIT_MIN_ACCURACY:
        raise CheckFailed(
            f"test accuracy {acc:.1%} on the {len(y_test)} test digits; need at least {FIT_MIN_ACCURACY:.0%}"
        )
    return f"test accuracy {acc:.1%} on the {len(y_test)} test digits with {params:,} parameters"


@checker("step4.compare_libraries")
def check_compare_libraries(compare_libraries: Any) -> str:
    import keras

    expect_callable(compare_libraries, "compare_libraries")
    x_train, y_train, _, _, x_test, y_test = shared_split()
    start = time.perf_counter()
    table = compare_libraries(
        x_train, y_train, x_test, y_test, epochs=COMPARE_EPOCHS, batch_size=COMPARE_BATCH
    )
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
            raise CheckFailed(
                f"results[{name!r}]['seconds'] is {seconds}; expected the training time in seconds"
            )
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
            f"the reported times add up to {total:.2f} s, but compare_libraries ran for only "
            f"{elapsed:.2f} s; measure them with time.perf_counter() around each training"
        )
    if total < 0.5 * elapsed:
        raise CheckFailed(
            f"the reported times cover only {total:.2f} s of the {elapsed:.2f} s compare_libraries ran; "
            "put the timer around each library's whole training"
        )
    parts = ", ".join(f"{name} {acc:.1%} in {s:.2f} s" for name, (s, acc) in rows.items())
    return f"{parts} ({COMPARE_EPOCHS} epochs each)"


def _loss_takes_logits(model: Any) -> bool:
    """Whether the compiled loss applies the softmax itself (``from_logits=True``)."""
    loss: Any = getattr(model, "loss", None)
    if getattr(loss, "from_logits", None) is not None:
        return bool(loss.from_logits)
    try:
        return bool(loss.get_config().get("from_logits", False))
    except Exception:  # a string such as "sparse_categorical_crossentropy", or a plain function
        return False


def _score(model: Any, x: np.ndarray, y: np.ndarray, what: str) -> float:
    with np.errstate(all="ignore"):  # a diverged candidate predicts from nan scores
        return _accuracy(model, x, y, what)


@checker("step4.validation_choice")
def check_validation_choice(choose: Any) -> str:
    expect_callable(choose, "choose_learning_rate")
    x_train, y_train, x_val, y_val, x_test, y_test = shared_split()
    what = (
        f"choose_learning_rate(x_train, y_train, x_val, y_val, candidates={CHOICE_CANDIDATES}, "
        f"epochs={CHOICE_EPOCHS})"
    )
    with np.errstate(all="ignore"):
        out = choose(x_train, y_train, x_val, y_val, CHOICE_CANDIDATES, epochs=CHOICE_EPOCHS)
    if not isinstance(out, tuple | list) or len(out) != 3:
        raise CheckFailed(f"{what} should return (best, val_scores, models); got {type(out).__name__}")
    best, scores, models = out
    for name, table in (("val_scores", scores), ("models", models)):
        if not isinstance(table, dict) or set(table) != set(CHOICE_CANDIDATES):
            keys = sorted(table) if isinstance(table, dict) else type(table).__name__
            raise CheckFailed(
                f"{what}: {name} should be a dict with one entry per candidate {sorted(CHOICE_CANDIDATES)}; "
                f"got {keys}"
            )
    for lr in CHOICE_CANDIDATES:
        reported = float(as_array(scores[lr], f"val_scores[{lr}]"))
        model = models[lr]
        on_val = _score(model, x_val, y_val, f"models[{lr}]")
        if math.isclose(reported, on_val, abs_tol=1e-6):
            continue
        on_test = _score(model, x_test, y_test, f"models[{lr}]")
        on_train = _score(model, x_train, y_train, f"models[{lr}]")
        said = (
            f"val_scores[{lr}] is {reported:.4f}, but that model scores {on_val:.4f} on the validation digits"
        )
        if math.isclose(reported, on_test, abs_tol=1e-6):
            raise CheckFailed(
                f"{said}; {reported:.4f} is its accuracy on the TEST digits. A choice made by the test set "
                "makes the test score flattering, not a measurement: score each candidate on x_val, y_val "
                "and keep the test set for the one final model"
            )
        if math.isclose(reported, on_train, abs_tol=1e-6):
            raise CheckFailed(
                f"{said}; {reported:.4f} is its accuracy on the TRAINING digits, which rewards whatever "
                "fits them best, not what works on new digits: score each candidate on x_val, y_val"
            )
        if abs(reported - on_val) > 0.003:  # more than one digit of 359 apart
            raise CheckFailed(f"{said} passed in; score each trained model on x_val, y_val")
    values = {lr: float(as_array(scores[lr], f"val_scores[{lr}]")) for lr in CHOICE_CANDIDATES}
    top = max(values.values())
    if best not in values:
        raise CheckFailed(
            f"{what} chose {best!r}, which is not one of the candidates {list(CHOICE_CANDIDATES)}"
        )
    if values[best] < top:
        winner = max(values, key=lambda lr: values[lr])
        cause = (
            " — max(val_scores) compares the KEYS (the learning rates); max(val_scores, key=val_scores.get) "
            "compares the scores"
            if best == max(values)
            else " — pick the candidate with the highest validation accuracy"
        )
        raise CheckFailed(
            f"{what} chose lr={best} (validation accuracy {values[best]:.4f}), but lr={winner} scored "
            f"{top:.4f}{cause}"
        )
    table = ", ".join(f"{lr}: {values[lr]:.3f}" for lr in sorted(values))
    return f"chose lr={best} by validation accuracy ({table}); the test set played no part"
