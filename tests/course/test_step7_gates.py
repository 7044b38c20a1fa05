"""Step 7, notebook 2 checkers: the marked-recall generator, the three models, gated vs plain.

``held_out_accuracy`` is tested without any training: an LSTM and a GRU whose weights are set by hand
solve marked recall exactly (an input or update gate that opens only on the marker, a memory that
is kept otherwise), and an untrained SimpleRNN stays at chance.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import course

gates = course("step7").gates

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

K, STEPS = gates.TASK_SYMBOLS, gates.TASK_STEPS


# recall_data ---------------------------------------------------------------------------------


def data_right(n: int, steps: int, n_symbols: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return gates.make_recall_data(n, steps, n_symbols, rng)


def data_loop(n: int, steps: int, n_symbols: int, rng: np.random.Generator) -> tuple[list[Any], list[int]]:
    """Written differently: one sequence at a time, nested lists, rng.choice."""
    xs, ys = [], []
    for _ in range(n):
        seq = rng.choice(n_symbols, size=steps)
        mark = int(rng.choice(steps))
        rows = [
            [1.0 if k == s else 0.0 for k in range(n_symbols)] + [1.0 if t == mark else 0.0]
            for t, s in enumerate(seq)
        ]
        xs.append(rows)
        ys.append(int(seq[mark]))
    return xs, np.array(ys)  # type: ignore[return-value]


def test_recall_data_right() -> None:
    r = evaluate("step7.recall_data", data_right)
    assert r.status == "passed", r.message
    assert "chi²" in r.message


def test_recall_data_written_differently() -> None:
    r = evaluate("step7.recall_data", data_loop)
    assert r.status == "passed", r.message


def test_recall_data_label_of_the_first_step() -> None:
    def first(n: int, steps: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, _ = data_right(n, steps, k, rng)
        return x, np.argmax(x[:, 0, :k], axis=1)

    expect_failed(
        evaluate("step7.recall_data", first), "y is the symbol of the first step, not of the marked one"
    )


def test_recall_data_marker_never_on_the_last_step() -> None:
    def short(n: int, steps: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        symbols = rng.integers(0, k, size=(n, steps))
        marked = rng.integers(0, max(steps - 1, 1), size=n)  # off by one: never the last step
        x = np.concatenate([np.eye(k)[symbols], np.zeros((n, steps, 1))], axis=-1)
        x[np.arange(n), marked, k] = 1
        return x, symbols[np.arange(n), marked]

    expect_failed(evaluate("step7.recall_data", short), "only on steps 0 to 28", "excludes high")


def test_recall_data_global_random_state() -> None:
    def global_rng(n: int, steps: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return data_right(n, steps, k, np.random.default_rng(np.random.randint(1 << 30)))

    expect_failed(evaluate("step7.recall_data", global_rng), "different data for the same seed", "rng")


def test_recall_data_one_hot_labels() -> None:
    def one_hot(n: int, steps: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, y = data_right(n, steps, k, rng)
        return x, np.eye(k)[y]

    expect_failed(evaluate("step7.recall_data", one_hot), "one-hot; return the symbol's index")


def test_recall_data_marker_replaces_the_symbol() -> None:
    def replaced(n: int, steps: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, y = data_right(n, steps, k, rng)
        x[x[..., k] == 1, :k] = 0  # the marked step shows no symbol
        return x, y

    expect_failed(evaluate("step7.recall_data", replaced), "0 symbol columns set", "the marked step too")


def test_recall_data_no_marker_column() -> None:
    expect_failed(
        evaluate(
            "step7.recall_data",
            lambda n, s, k, rng: (data_right(n, s, k, rng)[0][..., :k], data_right(n, s, k, rng)[1]),
        ),
        "one for the marker",
    )


def test_recall_data_stub() -> None:
    assert evaluate("step7.recall_data", stub).status == "not_attempted"


# build_model ---------------------------------------------------------------------------------

LAYERS = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}


def build_right(kind: str, steps: int, n_features: int, n_classes: int, units: int) -> Any:
    import keras
    from keras import layers

    recurrent = getattr(layers, LAYERS[kind])
    return keras.Sequential([keras.Input((steps, n_features)), recurrent(units), layers.Dense(n_classes)])


def build_functional(kind: str, steps: int, n_features: int, n_classes: int, units: int) -> Any:
    """Written differently: the functional API, an if-chain, tanh written out for the SimpleRNN."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(steps, n_features))
    if kind == "lstm":
        h = layers.LSTM(units)(inputs)
    elif kind == "gru":
        h = layers.GRU(units, reset_after=True)(inputs)
    else:
        h = layers.SimpleRNN(units, activation="tanh")(inputs)
    return keras.Model(inputs, layers.Dense(n_classes)(h))


def test_build_model_right() -> None:
    r = evaluate("step7.build_model", build_right)
    assert r.status == "passed", r.message
    assert "SimpleRNN" in r.message and "GRU" in r.message


def test_build_model_written_differently() -> None:
    r = evaluate("step7.build_model", build_functional)
    assert r.status == "passed", r.message


def build_cells(kind: str, steps: int, n_features: int, n_classes: int, units: int) -> Any:
    """Written differently: keras.layers.RNN around a cell, the same network as the plain layer."""
    import keras
    from keras import layers

    cell = {"simple_rnn": layers.SimpleRNNCell, "lstm": layers.LSTMCell, "gru": layers.GRUCell}[kind]
    return keras.Sequential(
        [keras.Input((steps, n_features)), layers.RNN(cell(units)), layers.Dense(n_classes)]
    )


def test_build_model_rnn_around_a_cell() -> None:
    r = evaluate("step7.build_model", build_cells)
    assert r.status == "passed", r.message


def test_build_model_a_cell_of_the_wrong_kind() -> None:
    expect_failed(
        evaluate("step7.build_model", lambda kind, *a: build_cells("gru", *a)),
        "build_model('simple_rnn'",
        "has a GRU layer; expected a SimpleRNN",
    )


def test_build_model_always_lstm() -> None:
    r = evaluate("step7.build_model", lambda kind, *a: build_right("lstm", *a))
    expect_failed(r, "build_model('simple_rnn'", "has a LSTM layer; expected a SimpleRNN")


def test_build_model_returns_sequences() -> None:
    def sequences(kind: str, steps: int, n_features: int, n_classes: int, units: int) -> Any:
        import keras
        from keras import layers

        return keras.Sequential(
            [
                keras.Input((steps, n_features)),
                getattr(layers, LAYERS[kind])(units, return_sequences=True),
                layers.Dense(n_classes),
            ]
        )

    expect_failed(evaluate("step7.build_model", sequences), "return_sequences=True", "one answer at the end")


def test_build_model_softmax() -> None:
    def softmax(kind: str, steps: int, n_features: int, n_classes: int, units: int) -> Any:
        import keras
        from keras import layers

        return keras.Sequential(
            [
                keras.Input((steps, n_features)),
                getattr(layers, LAYERS[kind])(units),
                layers.Dense(n_classes, activation="softmax"),
            ]
        )

    expect_failed(evaluate("step7.build_model", softmax), "ends in a softmax", "logits")


def test_build_model_ignores_units() -> None:
    expect_failed(
        evaluate("step7.build_model", lambda kind, s, f, c, u: build_right(kind, s, f, c, 32)), "has 32 units"
    )


def test_build_model_none_and_stub() -> None:
    expect_failed(evaluate("step7.build_model", lambda *a: None), "returned None")
    assert evaluate("step7.build_model", stub).status == "not_attempted"


# held_out_accuracy --------------------------------------------------------------------------------


def hand_lstm(units: int = K) -> Any:
    """An LSTM that solves marked recall with weights set by hand, no training."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((STEPS, K + 1)), layers.LSTM(units), layers.Dense(K)])
    kernel = np.zeros((K + 1, 4 * units))
    kernel[K, :units] = 20.0  # the marker opens the input gate
    kernel[:K, 2 * units : 2 * units + K] = 3.0 * np.eye(K)  # the candidate is the symbol, one-hot
    bias = np.zeros(4 * units)
    bias[:units] = -10.0  # input gate shut otherwise
    bias[units : 2 * units] = 20.0  # never forget
    bias[3 * units :] = 20.0  # always show
    dense = np.zeros((units, K))
    dense[:K] = 10.0 * np.eye(K)
    model.layers[0].set_weights([kernel, np.zeros((units, 4 * units)), bias])
    model.layers[1].set_weights([dense, np.zeros(K)])
    return model


def hand_gru(units: int = K) -> Any:
    """A GRU that solves marked recall: the update gate lets a new state in only on the marker."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((STEPS, K + 1)), layers.GRU(units), layers.Dense(K)])
    kernel = np.zeros((K + 1, 3 * units))
    kernel[K, :units] = -30.0  # the marker drives z to 0: take the candidate
    kernel[:K, 2 * units : 2 * units + K] = 3.0 * np.eye(K)  # the candidate is the symbol
    bias = np.zeros((2, 3 * units))
    bias[0, :units] = 12.0  # z near 1 otherwise: keep the state
    dense = np.zeros((units, K))
    dense[:K] = 10.0 * np.eye(K)
    model.layers[0].set_weights([kernel, np.zeros((units, 3 * units)), bias])
    model.layers[1].set_weights([dense, np.zeros(K)])
    return model


def hand_simple_rnn(units: int = K) -> Any:
    """A SimpleRNN that solves marked recall (no training): one ReLU unit per symbol that turns on
    only when its symbol and the marker come together, then stays on (recurrent weight 2 outweighs
    the bias of -1 that keeps the others off)."""
    import keras
    from keras import layers

    model = keras.Sequential(
        [keras.Input((STEPS, K + 1)), layers.SimpleRNN(units, activation="relu"), layers.Dense(K)]
    )
    kernel = np.zeros((K + 1, units))
    kernel[:K, :K] = np.eye(K)  # the symbol, one-hot
    kernel[K, :K] = 1.0  # the marker adds 1 to every unit
    bias = np.zeros(units)
    bias[:K] = -1.0  # so only symbol + marker (1 + 1 - 1 = 1) gets through the relu
    dense = np.zeros((units, K))
    dense[:K] = 10.0 * np.eye(K)
    model.layers[0].set_weights([kernel, 2.0 * np.eye(units), bias])
    model.layers[1].set_weights([dense, np.zeros(K)])
    return model


def random_model(kind: str, units: int = K, steps: int = STEPS) -> Any:
    import keras

    keras.utils.set_random_seed(0)
    return build_right(kind, steps, K + 1, K, units)


def measure(models: dict[str, Any]) -> dict[str, float]:
    x, y = gates.make_recall_data(1000, STEPS, K, np.random.default_rng(3))  # the learner's own test set
    return {k: float(np.mean(np.argmax(m.predict(x, verbose=0), axis=1) == y)) for k, m in models.items()}


@pytest.fixture(scope="module")
def trained() -> dict[str, Any]:
    return {"simple_rnn": random_model("simple_rnn"), "lstm": hand_lstm(), "gru": hand_gru()}


def accuracy_right(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


def accuracy_loop(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Written differently: one sequence at a time, counting by hand, as a numpy float."""
    scores = model(x).numpy()  # calling the model, not predict
    hits = 0
    for row, label in zip(scores, y, strict=True):
        hits += int(row.argmax() == label)
    return np.float64(hits) / len(y)


def test_held_out_accuracy_right(trained: dict[str, Any]) -> None:
    r = evaluate("step7.held_out_accuracy", trained, accuracy_right)
    assert r.status == "passed", r.message
    assert "LSTM 1.000" in r.message and "GRU 1.000" in r.message


def test_held_out_accuracy_right_written_differently(trained: dict[str, Any]) -> None:
    r = evaluate("step7.held_out_accuracy", trained, accuracy_loop)
    assert r.status == "passed", r.message


def test_held_out_accuracy_counts_the_hits(trained: dict[str, Any]) -> None:
    def hits(model: Any, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.sum(np.argmax(model.predict(x, verbose=0), axis=1) == y))

    expect_failed(
        evaluate("step7.held_out_accuracy", trained, hits), "the number of hits", "the mean, not the sum"
    )


def test_held_out_accuracy_argmax_over_the_sequences(trained: dict[str, Any]) -> None:
    def wrong_axis(model: Any, x: np.ndarray, y: np.ndarray) -> float:
        scores = model.predict(x, verbose=0)
        return float(np.mean(np.argmax(scores, axis=0)[: len(y)] == y[: scores.shape[1]]))

    expect_failed(evaluate("step7.held_out_accuracy", trained, wrong_axis), "axis=1, one per sequence")


def test_held_out_accuracy_accuracy_of_the_wrong_rows(trained: dict[str, Any]) -> None:
    def shifted(model: Any, x: np.ndarray, y: np.ndarray) -> float:  # labels off by one sequence
        return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == np.roll(y, 1)))

    expect_failed(evaluate("step7.held_out_accuracy", trained, shifted), "returned 0.")


def test_held_out_accuracy_accuracy_returns_nothing(trained: dict[str, Any]) -> None:
    expect_failed(evaluate("step7.held_out_accuracy", trained, lambda m, x, y: None), "forget a `return`")


def test_held_out_accuracy_a_dict_of_accuracies_from_an_older_notebook(trained: dict[str, Any]) -> None:
    r = evaluate("step7.held_out_accuracy", trained, measure(trained))
    assert r.status == "passed", r.message


def test_held_out_accuracy_accuracies_as_numpy_floats(trained: dict[str, Any]) -> None:
    reported = {k: np.float32(v) for k, v in measure(trained).items()}
    assert evaluate("step7.held_out_accuracy", trained, reported).status == "passed"


def test_held_out_accuracy_reports_swapped(trained: dict[str, Any]) -> None:
    acc = measure(trained)
    swapped = {"simple_rnn": acc["lstm"], "lstm": acc["simple_rnn"], "gru": acc["gru"]}
    expect_failed(
        evaluate("step7.held_out_accuracy", trained, swapped),
        "you report 1.000 for the SimpleRNN",
        "fresh sequences",
    )


def test_held_out_accuracy_untrained_lstm(trained: dict[str, Any]) -> None:
    models = {**trained, "lstm": random_model("lstm")}
    r = evaluate("step7.held_out_accuracy", models, accuracy_right)
    expect_failed(r, "The LSTM should reach 90%", "at chance")


def test_held_out_accuracy_a_gated_model_in_the_plain_slot(trained: dict[str, Any]) -> None:
    models = {**trained, "simple_rnn": hand_gru()}
    expect_failed(evaluate("step7.held_out_accuracy", models, accuracy_right), "expected one SimpleRNN")


def test_held_out_accuracy_different_widths(trained: dict[str, Any]) -> None:
    models = {**trained, "simple_rnn": random_model("simple_rnn", units=64)}
    expect_failed(evaluate("step7.held_out_accuracy", models, accuracy_right), "different widths")


def test_held_out_accuracy_other_sequence_length(trained: dict[str, Any]) -> None:
    models = {**trained, "simple_rnn": random_model("simple_rnn", steps=10)}
    expect_failed(evaluate("step7.held_out_accuracy", models, accuracy_right), f"keep STEPS = {STEPS}")


def as_rnn_of_cell(model: Any) -> Any:
    """The same trained network rebuilt as keras.layers.RNN(cell), with the same weights."""
    import keras
    from keras import layers

    recurrent, dense = model.layers
    cell = {"SimpleRNN": layers.SimpleRNNCell, "LSTM": layers.LSTMCell, "GRU": layers.GRUCell}[
        type(recurrent).__name__
    ](recurrent.units)
    twin = keras.Sequential([keras.Input((STEPS, K + 1)), layers.RNN(cell), layers.Dense(K)])
    twin.layers[0].set_weights(recurrent.get_weights())
    twin.layers[1].set_weights(dense.get_weights())
    return twin


def test_held_out_accuracy_rnn_around_cells(trained: dict[str, Any]) -> None:
    twins = {kind: as_rnn_of_cell(model) for kind, model in trained.items()}
    r = evaluate("step7.held_out_accuracy", twins, accuracy_right)
    assert r.status == "passed", r.message


def test_held_out_accuracy_float32_accuracy(trained: dict[str, Any]) -> None:
    def float32(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
        return np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y, dtype=np.float32)

    assert evaluate("step7.held_out_accuracy", trained, float32).status == "passed"


def test_held_out_accuracy_as_a_tensor(trained: dict[str, Any]) -> None:
    def tensor(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
        import keras

        hits = keras.ops.equal(keras.ops.argmax(model(x), axis=1), y)
        return keras.ops.mean(keras.ops.cast(hits, "float32"))

    r = evaluate("step7.held_out_accuracy", trained, tensor)
    assert r.status == "passed", r.message


def test_held_out_accuracy_a_plain_rnn_as_good_as_the_gated_ones(trained: dict[str, Any]) -> None:
    models = {**trained, "simple_rnn": hand_simple_rnn()}
    expect_failed(
        evaluate("step7.held_out_accuracy", models, accuracy_right),
        "the SimpleRNN scores 1.000, as well as the gated models",
        "another recipe",
    )


def test_held_out_accuracy_not_trained_yet() -> None:
    assert evaluate("step7.held_out_accuracy", None, None).status == "not_attempted"


# input_gradients -----------------------------------------------------------------------------

gradients = course("step7.gradients")


def norms_right(model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        losses = tf.keras.losses.sparse_categorical_crossentropy(y, model(x), from_logits=True)
        total = tf.reduce_sum(losses)
    g = tape.gradient(total, x).numpy()  # (N, T, F)
    return np.linalg.norm(g, axis=2).mean(axis=0)


def norms_loop(model: Any, x: np.ndarray, y: np.ndarray) -> list[float]:
    """Written differently: a Keras loss object with reduction="sum", a tf.Variable, tf.norm, a loop
    over the steps, a list of float32 numbers."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    xv = tf.Variable(x.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(xv))
    g = tape.gradient(loss, xv)
    return [np.float32(tf.reduce_mean(tf.norm(g[:, t, :], axis=-1))) for t in range(x.shape[1])]


def norms_with(**slip: Any) -> Any:
    def norms(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
        import tensorflow as tf

        xt = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            losses = tf.keras.losses.sparse_categorical_crossentropy(
                y, model(xt), from_logits=slip.get("from_logits", True)
            )
            total = tf.reduce_mean(losses) if slip.get("mean") else tf.reduce_sum(losses)
        if slip.get("weights"):
            return [tf.norm(g).numpy() for g in tape.gradient(total, model.trainable_variables)]
        g = tape.gradient(total, xt).numpy()
        if slip.get("time_axis"):
            return np.linalg.norm(g, axis=1).mean(axis=0)  # (F,)
        if slip.get("whole_batch"):
            return np.linalg.norm(g, axis=(0, 2))
        if slip.get("no_mean"):
            return np.linalg.norm(g, axis=2)
        out = np.linalg.norm(g, axis=2).mean(axis=0)
        return out[::-1] if slip.get("reversed") else out

    return norms


def test_input_gradients_right() -> None:
    r = evaluate("step7.input_gradients", norms_right)
    assert r.status == "passed", r.message


def test_input_gradients_written_differently() -> None:
    r = evaluate("step7.input_gradients", norms_loop)
    assert r.status == "passed", r.message


@pytest.mark.parametrize(
    ("slip", "fragments"),
    [
        ({"weights": True}, ("one per trainable variable", "tape.gradient(loss, x)")),
        ({"time_axis": True}, ("shape (5,)", "the norm went over the time axis")),
        ({"no_mean": True}, ("average over the sequences",)),
        ({"whole_batch": True}, ("one norm over the batch and the features together",)),
        ({"mean": True}, ("exactly 1/9 of the right ones", "averaged over the batch")),
        ({"from_logits": False}, ("from_logits=True",)),
        ({"reversed": True}, ("backwards in time",)),
    ],
)
def test_input_gradients_mistakes(slip: dict[str, Any], fragments: tuple[str, ...]) -> None:
    expect_failed(evaluate("step7.input_gradients", norms_with(**slip)), *fragments)


def test_input_gradients_stub() -> None:
    assert evaluate("step7.input_gradients", stub).status == "not_attempted"


# gradient_predictions ------------------------------------------------------------------------


def test_gradient_predictions_right() -> None:
    right = {"forget_gate": 0.73, "larger_at_step_0": "simple_rnn"}
    r = evaluate("step7.gradient_predictions", lambda: right)
    assert r.status == "passed", r.message
    assert "0.73" in r.message


def test_gradient_predictions_a_gate_that_starts_at_one_half() -> None:
    r = evaluate("step7.gradient_predictions", lambda: {"forget_gate": 0.5, "larger_at_step_0": "simple_rnn"})
    expect_failed(r, "σ(0)", "unit_forget_bias=True")


def test_gradient_predictions_the_textbook_answer() -> None:
    r = evaluate("step7.gradient_predictions", lambda: {"forget_gate": 0.75, "larger_at_step_0": "lstm"})
    expect_failed(r, "you predicted the LSTM", "the forget gate has to learn when to stay open")


def test_gradient_predictions_keys_and_stub() -> None:
    expect_failed(evaluate("step7.gradient_predictions", lambda: {"forget_gate": 0.7}), "larger_at_step_0")
    assert evaluate("step7.gradient_predictions", stub).status == "not_attempted"
