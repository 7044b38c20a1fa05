"""Checkers of step 4's third notebook (JAX, and Keras on two backends): each passes a right
answer and a right answer written another way, fails the typical mistakes with a useful message,
and reports a stub as not attempted. JAX and Keras are imported lazily, inside fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import COURSE_ROOT, course

digits_split = course("step4").digits_split

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

NOTEBOOK = COURSE_ROOT / "notebooks" / "step4" / "03_libraries_side_by_side.ipynb"


@pytest.fixture(scope="module")
def jax():
    import jax as j

    j.config.update("jax_enable_x64", True)  # as the notebook's set-up cell does
    return j


@pytest.fixture(scope="module")
def jnp(jax):
    return jax.numpy


# ------------------------------------------------------------------------ jax_mazur


def _forward(jax, jnp, w, b, x, t, *, half=0.5, transpose=False):
    w1, w2 = w[:4].reshape(2, 2), w[4:].reshape(2, 2)
    if transpose:
        w1, w2 = w1.T, w2.T
    h = jax.nn.sigmoid(w1 @ x + b[0])
    o = jax.nn.sigmoid(w2 @ h + b[1])
    return jnp.sum(half * (t - o) ** 2)


def test_jax_mazur_passes_value_and_grad(jax, jnp):
    def jax_gradients(w, b, x, t):
        e, g = jax.value_and_grad(lambda w: _forward(jax, jnp, w, b, x, t))(w)
        return float(e), np.asarray(g)

    result = evaluate("step4.jax_mazur", jax_gradients)
    assert result.status == "passed", result.message
    assert "Mazur" in result.message


def test_jax_mazur_passes_neuron_by_neuron_with_grad(jax, jnp):
    def error(w, b, x, t):  # written out neuron by neuron, and the gradient asked for separately
        def sig(z):
            return 1 / (1 + jnp.exp(-z))

        h1 = sig(w[0] * x[0] + w[1] * x[1] + b[0])
        h2 = sig(w[2] * x[0] + w[3] * x[1] + b[0])
        o1 = sig(w[4] * h1 + w[5] * h2 + b[1])
        o2 = sig(w[6] * h1 + w[7] * h2 + b[1])
        return 0.5 * (t[0] - o1) ** 2 + 0.5 * (t[1] - o2) ** 2

    def jax_gradients(w, b, x, t):
        return error(w, b, x, t), jax.grad(error)(w, b, x, t)

    assert evaluate("step4.jax_mazur", jax_gradients).status == "passed"


def test_jax_mazur_without_the_half_says_twice(jax, jnp):
    def jax_gradients(w, b, x, t):
        e, g = jax.value_and_grad(lambda w: _forward(jax, jnp, w, b, x, t, half=1.0))(w)
        return float(e), g

    expect_failed(evaluate("step4.jax_mazur", jax_gradients), "twice Mazur's", "1/2")


def test_jax_mazur_column_by_column_names_the_wiring(jax, jnp):
    def jax_gradients(w, b, x, t):
        e, g = jax.value_and_grad(lambda w: _forward(jax, jnp, w, b, x, t, transpose=True))(w)
        return float(e), g

    expect_failed(evaluate("step4.jax_mazur", jax_gradients), "on Mazur's network", "w1: i1→h1")


def test_jax_mazur_gradient_of_the_biases_names_argnums(jax, jnp):
    def jax_gradients(w, b, x, t):
        e, g = jax.value_and_grad(lambda w, b: _forward(jax, jnp, w, b, x, t), argnums=1)(w, b)
        return float(e), g

    expect_failed(evaluate("step4.jax_mazur", jax_gradients), "shape (2,)", "argument 0")


def test_jax_mazur_with_mazurs_constants_baked_in_fails_elsewhere(jax, jnp):
    fixed = [jnp.array(v) for v in ((0.35, 0.60), (0.05, 0.10), (0.01, 0.99))]

    def jax_gradients(w, b, x, t):
        e, g = jax.value_and_grad(lambda w: _forward(jax, jnp, w, *fixed))(w)
        return float(e), g

    expect_failed(evaluate("step4.jax_mazur", jax_gradients), "use the arguments b, x and t")


def test_jax_mazur_stub_is_not_attempted(jax):
    assert evaluate("step4.jax_mazur", stub).status == "not_attempted"


# ------------------------------------------------------------------------ time_per_call


def test_time_per_call_passes_the_solution(jax):
    def time_per_call(fn, *args, repeats=10):
        jax.block_until_ready(fn(*args))
        start = time.perf_counter()
        for _ in range(repeats):
            jax.block_until_ready(fn(*args))
        return (time.perf_counter() - start) / repeats

    result = evaluate("step4.time_per_call", time_per_call)
    assert result.status == "passed", result.message


def test_time_per_call_passes_a_mean_of_single_timings(jax):
    def time_per_call(fn, *args, repeats=10):
        jax.block_until_ready(fn(*args))
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            out = fn(*args)
            jax.block_until_ready(out)
            times.append((time.perf_counter_ns() - t0) * 1e-9)
        return float(np.mean(times))

    assert evaluate("step4.time_per_call", time_per_call).status == "passed"


def test_time_per_call_with_compilation_says_warm_up(jax):
    def time_per_call(fn, *args, repeats=10):
        start = time.perf_counter()
        for _ in range(repeats):
            jax.block_until_ready(fn(*args))
        return (time.perf_counter() - start) / repeats

    expect_failed(evaluate("step4.time_per_call", time_per_call), "FIRST call", "before starting the clock")


def test_time_per_call_without_waiting_names_block_until_ready(jax):
    def time_per_call(fn, *args, repeats=10):
        fn(*args)
        start = time.perf_counter()
        for _ in range(repeats):
            fn(*args)
        return (time.perf_counter() - start) / repeats

    expect_failed(evaluate("step4.time_per_call", time_per_call), "returns before", "block_until_ready")


def test_time_per_call_total_time_says_divide(jax):
    def time_per_call(fn, *args, repeats=10):
        jax.block_until_ready(fn(*args))
        start = time.perf_counter()
        for _ in range(repeats):
            jax.block_until_ready(fn(*args))
        return time.perf_counter() - start

    expect_failed(evaluate("step4.time_per_call", time_per_call), "total of the 5 calls", "divide by repeats")


def test_time_per_call_stub_is_not_attempted():
    assert evaluate("step4.time_per_call", stub).status == "not_attempted"


# ------------------------------------------------------------------------ per_example_grads


def _example_loss(jax, params, x, y):
    h = jax.numpy.tanh(x @ params["W1"] + params["b1"])
    return -jax.nn.log_softmax(h @ params["W2"] + params["b2"])[y]


def test_per_example_grads_passes_vmap_of_grad(jax):
    def per_example_grads(params, x, y):
        return jax.vmap(jax.grad(lambda p, xi, yi: _example_loss(jax, p, xi, yi)), in_axes=(None, 0, 0))(
            params, x, y
        )

    result = evaluate("step4.per_example_grads", per_example_grads)
    assert result.status == "passed", result.message


def test_per_example_grads_passes_a_closure_over_the_examples(jax):
    def one_hot_loss(p, xi, yi):  # a one-hot cross-entropy instead of indexing
        z = jax.numpy.tanh(xi @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        return -jax.numpy.sum(jax.nn.one_hot(yi, 10) * jax.nn.log_softmax(z))

    def per_example_grads(params, x, y):  # vmap over a function of one example; params closed over
        return jax.vmap(lambda xi, yi: jax.grad(one_hot_loss)(params, xi, yi))(x, y)

    assert evaluate("step4.per_example_grads", per_example_grads).status == "passed"


def _batch_loss(jax, params, x, y):
    h = jax.numpy.tanh(x @ params["W1"] + params["b1"])
    logp = jax.nn.log_softmax(h @ params["W2"] + params["b2"])
    return -jax.numpy.mean(logp[jax.numpy.arange(len(y)), y])


def test_per_example_grads_of_the_batch_mean_says_one_gradient(jax):
    def per_example_grads(params, x, y):
        return jax.grad(lambda p: _batch_loss(jax, p, x, y))(params)

    expect_failed(evaluate("step4.per_example_grads", per_example_grads), "ONE gradient", "jax.vmap")


def test_per_example_grads_divided_by_the_batch_says_so(jax):
    def per_example_grads(params, x, y):
        n = len(x)
        loss = jax.grad(lambda p, xi, yi: _example_loss(jax, p, xi, yi) / n)
        return jax.vmap(loss, in_axes=(None, 0, 0))(params, x, y)

    expect_failed(evaluate("step4.per_example_grads", per_example_grads), "1/12 of the right ones")


def test_per_example_grads_as_a_list_names_the_keys(jax):
    def per_example_grads(params, x, y):
        grads = jax.vmap(jax.grad(lambda p, xi, yi: _example_loss(jax, p, xi, yi)), in_axes=(None, 0, 0))(
            params, x, y
        )
        return jax.tree.leaves(grads)

    expect_failed(evaluate("step4.per_example_grads", per_example_grads), "keys W1, b1, W2, b2")


def test_per_example_grads_with_sigmoid_hidden_units_fails_on_values(jax):
    def per_example_grads(params, x, y):
        def loss(p, xi, yi):
            h = jax.nn.sigmoid(xi @ p["W1"] + p["b1"])
            return -jax.nn.log_softmax(h @ p["W2"] + p["b2"])[yi]

        return jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))(params, x, y)

    expect_failed(evaluate("step4.per_example_grads", per_example_grads), "is off by up to", "one example")


def test_per_example_grads_stub_is_not_attempted():
    assert evaluate("step4.per_example_grads", stub).status == "not_attempted"


# ------------------------------------------------------------------------ keras_backends


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    """A digits MLP trained in this process (TensorFlow backend), saved, with its true accuracy."""
    import keras

    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = digits_split()
    model = keras.Sequential(
        [keras.Input(shape=(64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    path = tmp_path_factory.mktemp("backends") / "digits.keras"
    model.save(path)
    acc = float(np.mean(np.asarray(model(x_test)).argmax(axis=1) == y_test))
    return path, acc


def _record(path, acc, backend, **changes):
    record = {
        "backend": backend,
        "variable_module": {"jax": "jaxlib._jax", "tensorflow": "tensorflow.python.ops"}[backend],
        "accuracy": acc,
        "first_epoch_seconds": 1.0,
        "seconds": 2.0,
        "ms_per_step": 2000 / 405,
        "steps": 450,
        "model_path": str(path),
    }
    record.update(changes)
    return record


def test_keras_backends_checks_records_and_rescores_the_models(trained_model):
    path, acc = trained_model
    result = evaluate("step4.keras_backends", lambda backend: _record(path, acc, backend))
    assert result.status == "passed", result.message
    assert f"jax {acc:.1%}" in result.message


def test_keras_backends_without_keras_backend_says_new_process(trained_model):
    path, acc = trained_model  # every child ran on the default backend
    expect_failed(
        evaluate("step4.keras_backends", lambda backend: _record(path, acc, "tensorflow")),
        "run_on_backend('jax') trained on the 'tensorflow' backend",
        "NEW process",
    )


def test_keras_backends_returning_the_printed_text_asks_for_the_record(trained_model):
    path, acc = trained_model  # forgot json.loads

    expect_failed(
        evaluate("step4.keras_backends", lambda backend: json.dumps(_record(path, acc, backend))),
        "should return the child's JSON record",
    )


def test_keras_backends_made_up_accuracy_is_rescored(trained_model):
    path, acc = trained_model
    expect_failed(
        evaluate("step4.keras_backends", lambda backend: _record(path, acc, backend, accuracy=1.0)),
        "reports accuracy 1.000",
        f"scores {acc:.3f}",
    )


def test_keras_backends_claimed_backend_must_match_the_weights(trained_model):
    path, acc = trained_model
    expect_failed(
        evaluate(
            "step4.keras_backends",
            lambda backend: _record(path, acc, backend, variable_module="tensorflow.python.ops"),
        ),
        "says backend 'jax', but its weights are tensorflow",
    )


def test_keras_backends_stub_is_not_attempted():
    assert evaluate("step4.keras_backends", stub).status == "not_attempted"


def _notebook_script(tmp_path: Path) -> Path:
    """The child script exactly as the notebook writes it."""
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    source = next(c.source for c in nb.cells if c.cell_type == "code" and c.source.startswith("SCRIPT = "))
    namespace: dict[str, object] = {}
    exec(source[: source.index('\n"""') + 4], namespace)  # just the SCRIPT = r"""...""" assignment
    script = tmp_path / "train_on_backend.py"
    script.write_text(str(namespace["SCRIPT"]))
    return script


@pytest.mark.slow
def test_keras_backends_passes_the_notebook_script_in_two_processes(tmp_path):
    script = _notebook_script(tmp_path)

    def run_on_backend(backend):
        env = {**os.environ, "KERAS_BACKEND": backend}
        done = subprocess.run(
            [sys.executable, str(script), str(tmp_path)], env=env, capture_output=True, text=True, check=True
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    result = evaluate("step4.keras_backends", run_on_backend)
    assert result.status == "passed", result.message
    assert "jax" in result.message and "tensorflow" in result.message


@pytest.mark.slow
def test_keras_backends_passes_a_child_that_sets_the_variable_itself(tmp_path):
    script = _notebook_script(tmp_path)

    def run_on_backend(backend):  # the child sets KERAS_BACKEND before its own first import of keras
        code = (
            f"import os, runpy, sys; os.environ['KERAS_BACKEND'] = {backend!r}; "
            f"sys.argv = [{str(script)!r}, {str(tmp_path)!r}]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')"
        )
        out = subprocess.check_output([sys.executable, "-c", code], text=True)
        return json.loads(out.strip().splitlines()[-1])

    assert evaluate("step4.keras_backends", run_on_backend).status == "passed"
