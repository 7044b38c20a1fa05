"""Step 4 checkers: each passes a right answer, fails typical mistakes with a useful message,
and reports a stub as not attempted. TensorFlow is imported lazily, inside fixtures."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import course

_step4 = course("step4")
MAZUR_B = _step4.MAZUR_B
MAZUR_T = _step4.MAZUR_T
MAZUR_W = _step4.MAZUR_W
MAZUR_W_PLUS = _step4.MAZUR_W_PLUS
MAZUR_X = _step4.MAZUR_X
shared_split = course("step4.training").shared_split

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow


@pytest.fixture(scope="module")
def keras(tf):
    import keras as k

    return k


# ------------------------------------------------------------------------ tape_derivative


def test_derivative_passes_a_tape(tf):
    def derivative(f, x):
        v = tf.Variable(x)
        with tf.GradientTape() as tape:
            y = f(v)
        return float(tape.gradient(y, v))

    assert evaluate("step4.tape_derivative", derivative).status == "passed"


def test_derivative_with_an_unwatched_constant_explains_watch(tf):
    def derivative(f, x):
        c = tf.constant(x)
        with tf.GradientTape() as tape:
            y = f(c)
        return tape.gradient(y, c)  # None

    expect_failed(evaluate("step4.tape_derivative", derivative), "returned None", "tape.watch")


def test_derivative_by_finite_differences_is_refused(tf):
    def derivative(f, x, h=1e-4):
        return float((f(tf.constant(x + h, tf.float64)) - f(tf.constant(x - h, tf.float64))) / (2 * h))

    expect_failed(evaluate("step4.tape_derivative", derivative), "called f 2 times", "GradientTape")


def test_derivative_returning_the_value_fails(tf):
    expect_failed(evaluate("step4.tape_derivative", lambda f, x: float(f(tf.constant(x)))), "expected 12")


def test_derivative_stub_is_not_attempted():
    assert evaluate("step4.tape_derivative", stub).status == "not_attempted"


# ------------------------------------------------------------------------ mazur_autodiff


def make_mazur(tf, *, half=0.5, reduce="sum", dtype="float64", swap=False, fixed_b=False):
    """An independent implementation (explicit neurons, not matrices), with switchable mistakes."""
    dt = getattr(tf, dtype)

    def gradients(w, b=MAZUR_B, x=MAZUR_X, t=MAZUR_T):
        w = tf.Variable(w, dtype=dt)
        b = tf.constant(MAZUR_B if fixed_b else b, dtype=dt)
        x, t = tf.constant(x, dtype=dt), tf.constant(t, dtype=dt)
        a, c = (2, 1) if swap else (1, 2)  # swap: w2 and w3 trade places
        with tf.GradientTape() as tape:
            h1 = tf.sigmoid(w[0] * x[0] + w[a] * x[1] + b[0])
            h2 = tf.sigmoid(w[c] * x[0] + w[3] * x[1] + b[0])
            o1 = tf.sigmoid(w[4] * h1 + w[5] * h2 + b[1])
            o2 = tf.sigmoid(w[6] * h1 + w[7] * h2 + b[1])
            parts = tf.stack([half * (t[0] - o1) ** 2, half * (t[1] - o2) ** 2])
            error = tf.reduce_sum(parts) if reduce == "sum" else tf.reduce_mean(parts)
        grad = tape.gradient(error, w)
        return error.numpy(), grad.numpy()

    return gradients


def test_mazur_passes_a_right_answer(tf):
    r = evaluate("step4.mazur_autodiff", make_mazur(tf))
    assert r.status == "passed", r
    assert "0.082167041" in r.message


def test_mazur_without_the_half_fails(tf):
    expect_failed(evaluate("step4.mazur_autodiff", make_mazur(tf, half=1.0)), "twice", "½")


def test_mazur_with_a_mean_fails(tf):
    expect_failed(evaluate("step4.mazur_autodiff", make_mazur(tf, reduce="mean")), "half", "sum")


def test_mazur_with_crossed_wiring_names_the_weight(tf):
    expect_failed(evaluate("step4.mazur_autodiff", make_mazur(tf, swap=True)), "E_total", "w2: i2→h1")


def test_mazur_ignoring_the_bias_argument_fails(tf):
    expect_failed(
        evaluate("step4.mazur_autodiff", make_mazur(tf, fixed_b=True)), "another network", "b, x and t"
    )


def test_mazur_in_float32_is_told_to_use_float64(tf):
    expect_failed(evaluate("step4.mazur_autodiff", make_mazur(tf, dtype="float32")), "central", "float64")


def test_mazur_hard_coded_numbers_fail():
    grad = [(w - wp) / 0.5 for w, wp in zip(MAZUR_W, MAZUR_W_PLUS, strict=True)]
    r = evaluate("step4.mazur_autodiff", lambda w, **kw: (0.298371109, np.array(grad)))
    expect_failed(r, "after one update", "0.291027774")


def test_mazur_unwatched_gradient_explains_watch():
    expect_failed(evaluate("step4.mazur_autodiff", lambda w, **kw: (0.298371109, None)), "tape.watch")


def test_mazur_stub_is_not_attempted():
    assert evaluate("step4.mazur_autodiff", stub).status == "not_attempted"


# ------------------------------------------------------------------------ training helpers


def make_mlp(keras, hidden=64):
    return keras.Sequential(
        [keras.Input(shape=(64,)), keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(10)]
    )


def labels_of(model, x):
    return np.argmax(np.asarray(model(x, training=False)), axis=1)


# ------------------------------------------------------------------------ manual_loop


@pytest.mark.slow
def test_manual_loop_passes_a_right_answer(tf, keras):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_by_hand(x, y, epochs=20, batch_size=64, seed=0):
        keras.utils.set_random_seed(seed)
        model, opt = make_mlp(keras), keras.optimizers.Adam(3e-3)

        @tf.function
        def step(xb, yb):
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            opt.apply_gradients(
                zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables, strict=True)
            )
            return loss

        data = tf.data.Dataset.from_tensor_slices((x, y))
        losses = []
        for _ in range(epochs):
            batch_losses = [
                float(step(xb, yb)) for xb, yb in data.shuffle(len(x), seed=seed).batch(batch_size)
            ]
            losses.append(float(np.mean(batch_losses)))
        return model, losses

    r = evaluate("step4.manual_loop", train_by_hand)
    assert r.status == "passed", r
    assert "on the 359 test digits" in r.message


def test_manual_loop_untrained_model_fails_on_accuracy(keras):
    r = evaluate(
        "step4.manual_loop", lambda x, y, epochs=20: (make_mlp(keras), list(np.geomspace(2, 0.1, epochs)))
    )
    expect_failed(r, "test accuracy", "at least 94%")


def test_manual_loop_with_flat_losses_asks_about_updates(keras):
    r = evaluate("step4.manual_loop", lambda x, y, epochs=20: (make_mlp(keras), [2.3] * epochs))
    expect_failed(r, "should fall", "trainable_variables")


def test_manual_loop_wrong_number_of_losses_fails(keras):
    r = evaluate("step4.manual_loop", lambda x, y, epochs=20: (make_mlp(keras), [2.3, 0.1]))
    expect_failed(r, "shape (2,)", "one mean training loss per epoch")


def test_manual_loop_with_compile_is_refused(keras):
    def train_by_hand(x, y, epochs=20):
        model = make_mlp(keras)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model, list(np.geomspace(2, 0.1, epochs))

    expect_failed(evaluate("step4.manual_loop", train_by_hand), "compiled", "your")


def test_manual_loop_returning_only_the_model_fails(keras):
    expect_failed(evaluate("step4.manual_loop", lambda x, y, epochs=20: make_mlp(keras)), "(model, losses)")


def test_manual_loop_stub_is_not_attempted():
    assert evaluate("step4.manual_loop", stub).status == "not_attempted"


# ------------------------------------------------------------------------ keras_fit


def compiled(keras, layers, fit_epochs=0, x=None, y=None):
    model = keras.Sequential([keras.Input(shape=(64,)), *layers])
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    if fit_epochs:
        model.fit(x, y, epochs=fit_epochs, batch_size=32, verbose=0)
    return model


@pytest.mark.slow
def test_keras_fit_passes_a_right_answer(keras):
    def train_with_fit(x, y, seed=0):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential(
            [
                keras.Input(shape=(64,)),
                keras.layers.Dense(200, activation="tanh"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=25, batch_size=64, verbose=0)
        return model

    r = evaluate("step4.keras_fit", train_with_fit)
    assert r.status == "passed", r
    assert "15,010 parameters" in r.message


def test_keras_fit_one_epoch_is_not_accurate_enough(keras):
    keras.utils.set_random_seed(0)
    r = evaluate(
        "step4.keras_fit",
        lambda x, y: compiled(
            keras, [keras.layers.Dense(16, activation="relu"), keras.layers.Dense(10)], 1, x, y
        ),
    )
    expect_failed(r, "test accuracy", "at least 95%")


def test_keras_fit_never_fitted_fails(keras):
    r = evaluate(
        "step4.keras_fit", lambda x, y: compiled(keras, [keras.layers.Dense(32), keras.layers.Dense(10)])
    )
    expect_failed(r, "never trained", "model.fit")


def test_keras_fit_not_compiled_fails(keras):
    r = evaluate("step4.keras_fit", lambda x, y: make_mlp(keras))
    expect_failed(r, "not compiled", "model.compile")


def test_keras_fit_too_many_parameters_fails(keras):
    r = evaluate(
        "step4.keras_fit", lambda x, y: compiled(keras, [keras.layers.Dense(512), keras.layers.Dense(10)])
    )
    expect_failed(r, "38,410 parameters", "20,000")


def test_keras_fit_other_layers_are_refused(keras):
    layers = [keras.layers.Reshape((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    expect_failed(
        evaluate("step4.keras_fit", lambda x, y: compiled(keras, layers)), "Reshape", "Dense and Dropout"
    )


def test_keras_fit_three_hidden_layers_are_refused(keras):
    layers = [keras.layers.Dense(32), keras.layers.Dense(32), keras.layers.Dense(32), keras.layers.Dense(10)]
    expect_failed(evaluate("step4.keras_fit", lambda x, y: compiled(keras, layers)), "3 hidden", "1 to 2")


def test_keras_fit_wrong_output_width_fails(keras):
    expect_failed(
        evaluate("step4.keras_fit", lambda x, y: compiled(keras, [keras.layers.Dense(9)])), "10 units"
    )


def test_keras_fit_functional_model_is_refused(keras):
    def train_with_fit(x, y):
        inputs = keras.Input(shape=(64,))
        return keras.Model(inputs, keras.layers.Dense(10)(inputs))

    expect_failed(evaluate("step4.keras_fit", train_with_fit), "keras.Sequential")


def test_keras_fit_stub_is_not_attempted():
    assert evaluate("step4.keras_fit", stub).status == "not_attempted"


# ------------------------------------------------------------------------ compare_libraries


class TinyNumpyNet:
    """Softmax regression trained by SGD: an independent NumPy model for the comparison."""

    def __init__(self):
        self.W = np.zeros((64, 10))
        self.epochs_trained = 0

    def predict(self, x):
        return x @ self.W  # (n, 10) scores: the checker takes the argmax

    def train_epoch(self, x, y, lr=0.5, batch_size=32):
        for start in range(0, len(x), batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            p = np.exp(xb @ self.W - (xb @ self.W).max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1
            self.W -= lr * xb.T @ p / len(yb)
        self.epochs_trained += 1


def honest_compare(keras, x_train, y_train, x_test, y_test, epochs=10, batch_size=32):
    out = {}
    net = TinyNumpyNet()
    start = time.perf_counter()
    for _ in range(epochs):
        net.train_epoch(x_train, y_train, batch_size=batch_size)
    out["numpy"] = {"seconds": time.perf_counter() - start, "model": net}
    keras.utils.set_random_seed(0)
    model = make_mlp(keras)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    out["keras"] = {"seconds": time.perf_counter() - start, "model": model}
    for row in out.values():
        m = row["model"]
        predicted = labels_of(m, x_test) if m is model else m.predict(x_test).argmax(axis=1)
        row["accuracy"] = float(np.mean(predicted == y_test))
    return out


@pytest.fixture(scope="module")
def trained_pair(keras):
    """One honest comparison, reused by the tests that tamper with its report."""
    x_train, y_train, _, _, x_test, y_test = shared_split()
    return honest_compare(keras, x_train, y_train, x_test, y_test)


def tampered(trained_pair, **changes):
    def compare_libraries(*args, **kwargs):
        out = {name: dict(row) for name, row in trained_pair.items()}
        for key, value in changes.items():
            name, field = key.split("__")
            out[name][field] = value
        return out

    return compare_libraries


@pytest.mark.slow
def test_compare_passes_an_honest_comparison(keras):
    r = evaluate("step4.compare_libraries", lambda *a, **kw: honest_compare(keras, *a, **kw))
    assert r.status == "passed", r
    assert "numpy" in r.message and "keras" in r.message


def test_compare_with_made_up_times_fails(trained_pair):
    # the trained models come back instantly: reported seconds cannot have been spent in the call
    r = evaluate("step4.compare_libraries", tampered(trained_pair))
    expect_failed(r, "add up to", "time.perf_counter()")


def test_compare_with_percentages_fails(trained_pair):
    r = evaluate("step4.compare_libraries", tampered(trained_pair, keras__accuracy=95.0))
    expect_failed(r, "fraction between 0 and 1")


def test_compare_with_a_wrong_accuracy_fails(trained_pair):
    r = evaluate("step4.compare_libraries", tampered(trained_pair, numpy__accuracy=0.5))
    expect_failed(r, "reports accuracy 0.500", "x_test")


def test_compare_missing_a_library_fails(trained_pair):
    r = evaluate("step4.compare_libraries", lambda *a, **kw: {"numpy": trained_pair["numpy"]})
    expect_failed(r, "results['keras']", "'seconds', 'accuracy' and 'model'")


def test_compare_with_other_epochs_fails(keras):
    x_train, y_train, _, _, x_test, y_test = shared_split()
    r = evaluate(
        "step4.compare_libraries",
        lambda *a, epochs, batch_size: honest_compare(
            keras, x_train, y_train, x_test, y_test, epochs=2, batch_size=batch_size
        ),
    )
    expect_failed(r, "68 optimizer steps", f"is {10 * math.ceil(1079 / 32)}")


def test_compare_stub_is_not_attempted():
    assert evaluate("step4.compare_libraries", stub).status == "not_attempted"


# ------------------------------------------------------------------------------ known mistakes (issue 11)


def test_derivative_in_float32_passes(tf):
    def derivative(f, x):
        x = tf.Variable(x, dtype=tf.float32)  # the text asks for a tape, not for float64
        with tf.GradientTape() as tape:
            y = f(x)
        return float(tape.gradient(y, x))

    assert evaluate("step4.tape_derivative", derivative).status == "passed"


def test_manual_loop_at_chance_level_names_the_labels(keras):
    def chance(x, y, epochs=20, batch_size=32, seed=0):
        losses = list(np.linspace(2.33, math.log(10) + 0.001, epochs))  # what shuffled labels give
        return make_mlp(keras), losses

    r = evaluate("step4.manual_loop", chance)
    expect_failed(r, "ln 10", "chance level", "same indices")


def test_keras_fit_with_a_softmax_output_is_named(tf, keras):
    def softmax_fit(x, y, seed=0):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential(
            [
                keras.Input(shape=(64,)),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, epochs=1, batch_size=64, verbose=0)
        return model

    expect_failed(evaluate("step4.keras_fit", softmax_fit), "outputs are probabilities", "no activation")


def test_manual_loop_whose_loss_grows_is_told_it_climbs(keras):
    def climbing(x, y, epochs=20, batch_size=32, seed=0):
        return make_mlp(keras), list(np.geomspace(8.0, 27000.0, epochs))

    expect_failed(evaluate("step4.manual_loop", climbing), "loss grew", "climb")


# ------------------------------------------------------------------------------ validation_choice (issue 17)


class SoftmaxRegression:
    """An independent NumPy model for the choice: full-batch gradient descent on softmax regression."""

    def __init__(self, lr, epochs, x, y):
        self.W = np.zeros((64, 10))
        for _ in range(epochs * 5):
            with np.errstate(all="ignore"):
                z = x @ self.W
                p = np.exp(z - z.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
                p[np.arange(len(y)), y] -= 1
                self.W -= lr * 1e3 * x.T @ p / len(y)  # rates scaled up: 3.0 diverges, 0.01 crawls

    def predict(self, x):
        with np.errstate(all="ignore"):
            return x @ self.W  # (n, 10) scores: the checker takes the argmax


def make_choose(*, score_on="val", pick="best"):
    def choose_learning_rate(x_train, y_train, x_val, y_val, candidates, epochs=10):
        _, _, _, _, x_test, y_test = shared_split()
        data = {"val": (x_val, y_val), "test": (x_test, y_test), "train": (x_train, y_train)}[score_on]
        models = {lr: SoftmaxRegression(lr, epochs, x_train, y_train) for lr in candidates}
        scores = {
            lr: float(np.mean(np.argmax(m.predict(data[0]), axis=1) == data[1])) for lr, m in models.items()
        }
        best = max(scores, key=scores.get) if pick == "best" else max(scores)
        return best, scores, models

    return choose_learning_rate


def test_validation_choice_passes_the_validation_argmax():
    r = evaluate("step4.validation_choice", make_choose())
    assert r.status == "passed", r
    assert "the test set played no part" in r.message


def test_validation_choice_passes_a_keras_model_and_a_tuple_of_scores(keras):
    def choose(x_train, y_train, x_val, y_val, candidates, epochs=10):
        models, scores = {}, {}
        for lr in candidates:
            keras.utils.set_random_seed(0)
            model = make_mlp(keras, hidden=16)
            model.compile(
                optimizer=keras.optimizers.SGD(lr),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            )
            model.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)
            models[lr] = model
            scores[lr] = np.float32(np.mean(labels_of(model, x_val) == y_val))
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        return ranked[0][0], scores, models

    r = evaluate("step4.validation_choice", choose)
    assert r.status == "passed", r


def test_validation_choice_by_test_accuracy_fails():
    r = evaluate("step4.validation_choice", make_choose(score_on="test"))
    expect_failed(r, "accuracy on the TEST digits", "keep the test set")


def test_validation_choice_by_training_accuracy_fails():
    r = evaluate("step4.validation_choice", make_choose(score_on="train"))
    expect_failed(r, "accuracy on the TRAINING digits", "x_val, y_val")


def test_validation_choice_max_of_the_dict_fails():
    r = evaluate("step4.validation_choice", make_choose(pick="keys"))
    expect_failed(r, "chose lr=3.0", "compares the KEYS", "key=val_scores.get")


def test_validation_choice_missing_candidates_fail():
    def partial(x_train, y_train, x_val, y_val, candidates, epochs=10):
        best, scores, models = make_choose()(x_train, y_train, x_val, y_val, candidates[:2], epochs)
        return best, scores, models

    expect_failed(evaluate("step4.validation_choice", partial), "one entry per candidate")
    expect_failed(evaluate("step4.validation_choice", lambda *a, **k: 0.3), "(best, val_scores, models)")


def test_validation_choice_stub_is_not_attempted():
    assert evaluate("step4.validation_choice", stub).status == "not_attempted"
