"""Checkers for step 7's second notebook (02_why_gates_matter): ``step7.recall_data``,
``step7.build_model`` and ``step7.held_out_accuracy`` (and, through ``gradients``, the gradient
exercises).

The task is *marked recall*: every step of a sequence shows one of ``n_symbols`` symbols (one-hot)
and one step, anywhere, carries a marker; the label is the symbol shown at the marked step. The
network answers only at the end, so it must hold the marked symbol for up to ``steps - 1`` steps
while every later step shows another symbol.

``recall_data`` is checked on hand cases and on statistics of a large sample; ``build_model`` on the
structure and output of the models it returns; ``held_out_accuracy`` takes the learner's three trained
models, trains nothing, and measures their accuracy itself on sequences it generates with its own
seed: the gated models must have learned the task, the SimpleRNN must not have, and the accuracies
the learner reports must agree with the checker's. Keras is imported inside the checkers.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable

KINDS = ("simple_rnn", "lstm", "gru")
LAYER_NAMES = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
TASK_STEPS = 40  # the notebook's sequence length
TASK_SYMBOLS = 4  # chance is 1 / 4
HELD_OUT = 1000  # fresh sequences the checker generates to measure each model
HELD_OUT_SEED = 7_007
GATED_MIN_ACCURACY = 0.90
# Trained with the notebook's recipe, the SimpleRNN holds a symbol marked a few steps before the end
# but loses it further back, where the gated models stay right: on the delays of TASK_STEPS // 2 or
# more it must stay at least this far below the weaker gated model.
PLAIN_FAR_GAP = 0.15
REPORT_TOLERANCE = 0.06  # two samples of 1,000 sequences differ by up to ~3 standard errors


def make_recall_data(
    n: int, steps: int, n_symbols: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The checker's own generator (the task's definition): x (n, steps, n_symbols + 1), y (n,)."""
    symbols = rng.integers(0, n_symbols, size=(n, steps))  # (n, steps)
    marked = rng.integers(0, steps, size=n)  # (n,) the marked step of each sequence
    x = np.zeros((n, steps, n_symbols + 1), dtype=np.float32)
    x[..., :n_symbols] = np.eye(n_symbols, dtype=np.float32)[symbols]
    x[np.arange(n), marked, n_symbols] = 1.0
    return x, symbols[np.arange(n), marked]


def _keras() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras

    return keras


# recall_data ---------------------------------------------------------------------------------


def _call_data(fn: Any, n: int, steps: int, n_symbols: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    what = f"make_recall_data(n={n}, steps={steps}, n_symbols={n_symbols}, rng)"
    out = fn(n, steps, n_symbols, np.random.default_rng(seed))
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise CheckFailed(f"{what} returned {type(out).__name__}; expected a pair (x, y)")
    x, y = as_array(out[0], f"{what}'s x"), np.asarray(out[1])
    if x.shape != (n, steps, n_symbols + 1):
        raise CheckFailed(
            f"{what}'s x has shape {x.shape}; expected (n, steps, n_symbols + 1) = "
            f"{(n, steps, n_symbols + 1)}: one column per symbol and one for the marker"
        )
    if y.shape == (n, n_symbols):
        raise CheckFailed(f"{what}'s y has shape {y.shape}, one-hot; return the symbol's index, shape ({n},)")
    if y.shape != (n,):
        raise CheckFailed(f"{what}'s y has shape {y.shape}; expected ({n},), one symbol index per sequence")
    if not np.issubdtype(y.dtype, np.integer):
        raise CheckFailed(f"{what}'s y has dtype {y.dtype}; expected integers (symbol indices)")
    return x, y, what


def _structure(x: np.ndarray, y: np.ndarray, n_symbols: int, what: str) -> np.ndarray:
    """Fail unless x is one-hot symbols plus exactly one marker per sequence; return the marked steps."""
    if not np.all((x == 0) | (x == 1)):
        raise CheckFailed(f"{what}'s x holds values other than 0 and 1: one-hot symbols and a 0/1 marker")
    per_step = x[..., :n_symbols].sum(axis=-1)  # (n, steps)
    if not np.all(per_step == 1):
        i, t = (int(k) for k in np.argwhere(per_step != 1)[0])
        raise CheckFailed(
            f"{what}: sequence {i}, step {t} has {int(per_step[i, t])} symbol columns set; every step "
            "shows exactly one symbol (one-hot), the marked step too"
        )
    markers = x[..., n_symbols].sum(axis=-1)  # (n,)
    if not np.all(markers == 1):
        i = int(np.flatnonzero(markers != 1)[0])
        raise CheckFailed(
            f"{what}: sequence {i} has {int(markers[i])} markers in the last column; expected exactly one"
        )
    marked = np.argmax(x[..., n_symbols], axis=1)  # (n,)
    rows = np.arange(len(y))
    shown = np.argmax(x[rows, marked, :n_symbols], axis=1)  # the symbol at each marked step
    if not np.array_equal(y, shown):
        i = int(np.argmax(y != shown))
        symbols = np.argmax(x[..., :n_symbols], axis=-1)  # (n, steps)
        for t, name in ((0, "first"), (-1, "last")):
            if np.array_equal(y, symbols[:, t]):
                raise CheckFailed(
                    f"{what}: y is the symbol of the {name} step, not of the marked one (sequence {i} "
                    f"is marked at step {int(marked[i])})"
                )
        raise CheckFailed(
            f"{what}: sequence {i} is marked at step {int(marked[i])}, which shows symbol {int(shown[i])}, "
            f"but y[{i}] = {int(y[i])}; y must be the symbol at the marked step"
        )
    return np.asarray(marked)


@checker("step7.recall_data")
def check_recall_data(make_recall_data: Any) -> str:
    expect_callable(make_recall_data, "make_recall_data")
    # 1. Hand cases: one step (the marker can only be there), then a tiny batch.
    x, y, what = _call_data(make_recall_data, 3, 1, 2, seed=0)
    _structure(x, y, 2, what)
    x, y, what = _call_data(make_recall_data, 5, 7, 3, seed=1)
    _structure(x, y, 3, what)

    # 2. Statistics of a large sample: every step and every symbol equally likely.
    n, steps, k = 6000, 30, 4
    x, y, what = _call_data(make_recall_data, n, steps, k, seed=2)
    marked = _structure(x, y, k, what)
    if marked.min() != 0 or marked.max() != steps - 1:
        raise CheckFailed(
            f"{what}: over {n} sequences the marker fell only on steps {int(marked.min())} to "
            f"{int(marked.max())}; it must be able to fall on every step, 0 to {steps - 1} — "
            "rng.integers(low, high) excludes high"
        )
    per_step = np.bincount(marked, minlength=steps)
    chi2 = float(((per_step - n / steps) ** 2 / (n / steps)).sum())
    if chi2 > 70:  # 29 degrees of freedom: the 0.999 quantile is about 58
        raise CheckFailed(
            f"{what}: the marked step is not uniform over the {steps} steps (counts from "
            f"{per_step.min()} to {per_step.max()}, expected about {n // steps} each; chi² = {chi2:.0f})"
        )
    symbols = np.argmax(x[..., :k], axis=-1).ravel()
    freq = np.bincount(symbols, minlength=k) / symbols.size
    labels = np.bincount(y, minlength=k) / n
    if np.abs(freq - 1 / k).max() > 0.01 or np.abs(labels - 1 / k).max() > 0.03:
        raise CheckFailed(
            f"{what}: the symbols are not equally likely (frequencies {np.round(freq, 3).tolist()}, "
            f"labels {np.round(labels, 3).tolist()}; expected {1 / k:.2f} each) — draw them with "
            "rng.integers(0, n_symbols)"
        )
    if len(set(map(tuple, np.argmax(x[:200, :, :k], axis=-1).tolist()))) < 190:
        raise CheckFailed(
            f"{what}: many sequences are identical; draw every step of every sequence at random"
        )

    # 3. The randomness comes from the rng passed in: same seed, same data; another seed, other data.
    again, _, _ = _call_data(make_recall_data, n, steps, k, seed=2)
    if not np.array_equal(again, x):
        raise CheckFailed(
            f"{what} returned different data for the same seed: draw every random number from the rng "
            "argument (rng.integers), not from np.random"
        )
    other, _, _ = _call_data(make_recall_data, n, steps, k, seed=3)
    if np.array_equal(other, x):
        raise CheckFailed(f"{what} returned the same data for two different rngs; use the rng argument")
    return (
        f"right structure on hand cases and on {n:,} sequences of {steps} steps: one-hot symbols, one marker "
        f"per sequence, uniform over the steps (chi² = {chi2:.0f} for 29 degrees of freedom), y = the marked "
        "symbol, repeatable from the rng"
    )


# build_model ---------------------------------------------------------------------------------


def _recurrent_layers(keras: Any, model: Any) -> list[Any]:
    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.RNN):  # SimpleRNN, LSTM and GRU are RNN layers too
            found.append(layer)
        if hasattr(layer, "layers"):
            found.extend(_recurrent_layers(keras, layer))
    return found


# keras.layers.RNN(keras.layers.LSTMCell(units)) is the same network as keras.layers.LSTM(units)
CELL_LAYERS = {"SimpleRNNCell": "SimpleRNN", "LSTMCell": "LSTM", "GRUCell": "GRU"}


def layer_kind(layer: Any) -> str:
    """ "SimpleRNN", "LSTM" or "GRU" for the plain layers and for RNN(cell) alike; else the class name."""
    name = type(layer).__name__
    if name in LAYER_NAMES.values():
        return name
    cell = getattr(layer, "cell", None)
    cell_name = type(cell).__name__
    return CELL_LAYERS.get(cell_name, f"{name}({cell_name})" if cell is not None else name)


def layer_units(layer: Any) -> int | None:
    units = getattr(layer, "units", None)
    if units is None:
        units = getattr(getattr(layer, "cell", None), "units", None)
    return None if units is None else int(units)


@checker("step7.build_model")
def check_build_model(build_model: Any) -> str:
    expect_callable(build_model, "build_model")
    keras = _keras()
    steps, n_features, n_classes, units = 12, 5, 4, 16
    x, _ = make_recall_data(3, steps, n_features - 1, np.random.default_rng(0))
    counts = {}
    for kind in KINDS:
        what = f"build_model({kind!r}, {steps}, {n_features}, {n_classes}, {units})"
        keras.utils.set_random_seed(0)
        model = build_model(kind, steps, n_features, n_classes, units)
        if model is None:
            raise CheckFailed(f"{what} returned None; did you forget `return model`?")
        if not isinstance(model, keras.Model):
            raise CheckFailed(f"{what} returned {type(model).__name__}; expected a Keras model")
        recurrent = _recurrent_layers(keras, model)
        want = LAYER_NAMES[kind]
        if len(recurrent) != 1:
            names = [layer_kind(la) for la in recurrent]
            raise CheckFailed(
                f"{what} has {len(recurrent)} recurrent layers {names}; expected exactly one {want}"
            )
        layer = recurrent[0]
        if layer_kind(layer) != want:
            raise CheckFailed(f"{what} has a {layer_kind(layer)} layer; expected a {want}")
        if layer_units(layer) != units:
            raise CheckFailed(
                f"{what}: the {want} has {layer_units(layer)} units; use the units argument ({units})"
            )
        out = as_array(model(x), f"{what} called on x of shape {x.shape}")
        if out.shape == (3, steps, n_classes) or layer.return_sequences:
            raise CheckFailed(
                f"{what}: the {want} returns the whole sequence (return_sequences=True), so the model gives "
                f"an answer per step, shape {out.shape}; the task needs one answer at the end: leave "
                "return_sequences off"
            )
        if out.shape != (3, n_classes):
            raise CheckFailed(
                f"{what} gives outputs of shape {out.shape} for x {x.shape}; expected (3, {n_classes})"
            )
        if np.allclose(out.sum(axis=1), 1.0, atol=1e-5) and np.all(out >= 0):
            raise CheckFailed(
                f"{what} ends in a softmax (each row of its output sums to 1); the training cell's loss "
                "expects raw scores (logits): give the last Dense layer no activation"
            )
        counts[kind] = model.count_params()
    simple, lstm, gru = (counts[k] for k in KINDS)
    return (
        f"one {', one '.join(LAYER_NAMES[k] for k in KINDS)} of {units} units, each followed by logits: "
        f"{simple:,}, {lstm:,} and {gru:,} parameters for {n_features} inputs and {n_classes} classes"
    )


# held_out_accuracy --------------------------------------------------------------------------------


@checker("step7.held_out_accuracy")
def check_held_out_accuracy(models: Any, accuracy: Any) -> str:
    """``accuracy`` is the learner's ``accuracy(model, x, y)``, which the checker calls on its
    own held-out sequences; a dict of reported accuracies (notebooks copied before this
    version) is still accepted and compared with the checker's measurement."""
    if models is None:
        raise NotImplementedError  # the training cell could not run: the exercises above are not done
    keras = _keras()
    if not isinstance(models, dict) or set(models) != set(KINDS):
        got = sorted(models) if isinstance(models, dict) else type(models).__name__
        raise CheckFailed(f"models should be a dict with the keys {list(KINDS)}; got {got}")
    if callable(accuracy):
        return _judge_models(keras, models, _accuracy_function(accuracy))
    accuracies = accuracy
    if not isinstance(accuracies, dict) or set(accuracies) != set(KINDS):
        got = sorted(accuracies) if isinstance(accuracies, dict) else type(accuracies).__name__
        raise CheckFailed(f"accuracies should be a dict with the keys {list(KINDS)}; got {got}")
    return _judge_models(keras, models, _reported(accuracies))


def _accuracy_function(accuracy: Any) -> Any:
    """A judge that calls the learner's accuracy(model, x, y) on the checker's sequences."""

    def judge(kind: str, model: Any, x: np.ndarray, y: np.ndarray, measured: float) -> None:
        what = f"accuracy(models[{kind!r}], x, y)"
        got = accuracy(model, x, y)
        if got is None:
            raise CheckFailed(f"{what} returned None; did you forget a `return`?")
        if not isinstance(got, bool) and np.shape(got) == () and hasattr(got, "dtype"):
            got = np.asarray(got).item()  # a 0-d array or tensor (np.mean, keras.ops.mean)
        if isinstance(got, bool) or not isinstance(got, int | float | np.number):
            raise CheckFailed(f"{what} returned {type(got).__name__}; expected one number between 0 and 1")
        got = float(got)
        if got > 1.0 and abs(got - measured * len(y)) < 0.5:
            raise CheckFailed(
                f"{what} returned {got:g} on {len(y):,} sequences: that is the number of hits; "
                "an accuracy is their fraction (the mean, not the sum)"
            )
        if abs(got - measured) > 1e-6:
            raise CheckFailed(
                f"{what} returned {got:.4f} on {len(y):,} sequences the checker made, where "
                f"{measured:.4f} of them have their highest score on the right symbol — take the "
                "argmax over the symbols (axis=1, one per sequence) and compare it with y"
            )

    return judge


def _reported(accuracies: dict[str, Any]) -> Any:
    """A judge that compares the accuracies a learner reports with the checker's measurement."""

    def judge(kind: str, model: Any, x: np.ndarray, y: np.ndarray, measured: float) -> None:
        reported = accuracies[kind]
        if isinstance(reported, bool) or not isinstance(reported, int | float | np.number):
            raise CheckFailed(f"accuracies[{kind!r}] is {reported!r}; expected a number between 0 and 1")
        reported = float(reported)
        if not 0.0 <= reported <= 1.0:
            raise CheckFailed(f"accuracies[{kind!r}] is {reported:g}; an accuracy lies between 0 and 1")
        if abs(reported - measured) > REPORT_TOLERANCE:
            raise CheckFailed(
                f"you report {reported:.3f} for the {LAYER_NAMES[kind]}, but on {HELD_OUT:,} fresh sequences "
                f"made by the task's rules it scores {measured:.3f} — measure it on held-out "
                "sequences from make_recall_data, with the labels that go with them (not on the training "
                "data, not from another model's row)"
            )

    return judge


def _judge_models(keras: Any, models: dict[str, Any], judge: Any) -> str:
    units = {}
    for kind in KINDS:
        model = models[kind]
        if not isinstance(model, keras.Model):
            raise CheckFailed(f"models[{kind!r}] is a {type(model).__name__}; expected a trained Keras model")
        recurrent = _recurrent_layers(keras, model)
        names = [layer_kind(la) for la in recurrent]
        if names != [LAYER_NAMES[kind]]:
            raise CheckFailed(
                f"models[{kind!r}] has the recurrent layers {names}; expected one {LAYER_NAMES[kind]}"
            )
        units[kind] = layer_units(recurrent[0])
        shape = tuple(model.input_shape)
        if shape[1:] != (TASK_STEPS, TASK_SYMBOLS + 1):
            raise CheckFailed(
                f"models[{kind!r}] takes inputs of shape {shape}; the task's sequences are "
                f"(None, {TASK_STEPS}, {TASK_SYMBOLS + 1}): keep STEPS = {TASK_STEPS} and "
                f"N_SYMBOLS = {TASK_SYMBOLS}"
            )
    if len(set(units.values())) != 1:
        raise CheckFailed(
            f"the three models have different widths {units}; compare them with the same number of units"
        )

    x, y = make_recall_data(HELD_OUT, TASK_STEPS, TASK_SYMBOLS, np.random.default_rng(HELD_OUT_SEED))
    delay = TASK_STEPS - 1 - np.argmax(x[..., TASK_SYMBOLS], axis=1)  # steps between the mark and the end
    far = delay >= TASK_STEPS // 2
    measured, far_acc = {}, {}
    for kind in KINDS:
        scores = as_array(models[kind].predict(x, verbose=0, batch_size=500), f"models[{kind!r}].predict")
        hits = np.argmax(scores, axis=-1) == y
        measured[kind], far_acc[kind] = float(hits.mean()), float(hits[far].mean())

    for kind in KINDS:
        judge(kind, models[kind], x, y, measured[kind])
    chance = 1 / TASK_SYMBOLS
    figures = ", ".join(
        f"{LAYER_NAMES[k]} {measured[k]:.3f} (delays ≥ {TASK_STEPS // 2}: {far_acc[k]:.3f})" for k in KINDS
    )
    for kind in ("lstm", "gru"):
        if measured[kind] < GATED_MIN_ACCURACY:
            near = abs(measured[kind] - chance) < 0.05
            raise CheckFailed(
                f"on {HELD_OUT:,} fresh sequences: {figures}. The {LAYER_NAMES[kind]} should reach "
                f"{GATED_MIN_ACCURACY:.0%}"
                + (
                    " but is at chance: it has not found the marked step yet — check its training cell "
                    "(same recipe as the others, EPOCHS as given) and the data it was trained on"
                    if near
                    else " — it has started to learn; train it for the given number of epochs"
                )
            )
    gated_far = min(far_acc["lstm"], far_acc["gru"])
    if far_acc["simple_rnn"] > gated_far - PLAIN_FAR_GAP:
        raise CheckFailed(
            f"on {HELD_OUT:,} fresh sequences: {figures}. On the markers {TASK_STEPS // 2} or more steps "
            f"from the end the SimpleRNN scores {far_acc['simple_rnn']:.3f}, as well as the gated models; "
            "trained with the notebook's recipe (the same stages, epochs and learning rates for all "
            "three) it falls behind them there — was it trained longer, or with another recipe?"
        )
    return f"measured on {HELD_OUT:,} fresh sequences of {TASK_STEPS} steps (chance {chance:.2f}): {figures}"
