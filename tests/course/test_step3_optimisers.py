"""Step 3.6 checkers (Adam, dropout, batch norm): each passes right answers written unlike the
notebook's, fails the usual slips with a message that names the cause, and reports a stub as
not attempted."""

from __future__ import annotations

import numpy as np
import pytest

from dl7.checks import evaluate, registered
from tests.checking import expect_failed, stub


def test_ids_are_registered():
    assert {"step3.adam_step", "step3.dropout", "step3.batchnorm"} <= set(registered())


# ------------------------------------------------------------------------------------- Adam


def make_adam(
    *, correct_m=True, correct_v=True, sqrt=True, m_of_sq=False, t_after=True, sign=-1.0, eps_in=False
):
    """An Adam step with one switch per known slip; with the defaults, a right answer written
    with the efficient form of the paper's last paragraph of section 2 (alpha_t folds both corrections)."""

    def adam_step(w, g, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        t = state["t"] + 1
        m = beta1 * state["m"] + (1 - beta1) * (g * g if m_of_sq else g)
        v = beta2 * state["v"] + (1 - beta2) * g * g
        tc = t if t_after else state["t"]
        with np.errstate(divide="ignore", invalid="ignore"):
            m_hat = m / (1 - beta1**tc) if correct_m else m
            v_hat = v / (1 - beta2**tc) if correct_v else v
            denom = np.sqrt(v_hat + eps) if eps_in else (np.sqrt(v_hat) if sqrt else v_hat) + eps
            return w + sign * lr * m_hat / denom, {"m": m, "v": v, "t": t}

    return adam_step


def loop_adam(w, g, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """A right answer, one parameter at a time, mutating the state dict it was given."""
    state["t"] += 1
    t = state["t"]
    new_w = []
    for i in range(len(w)):
        state["m"][i] = beta1 * state["m"][i] + (1 - beta1) * g[i]
        state["v"][i] = beta2 * state["v"][i] + (1 - beta2) * g[i] ** 2
        m_hat = state["m"][i] / (1 - beta1**t)
        v_hat = state["v"][i] / (1 - beta2**t)
        new_w.append(w[i] - lr * m_hat / (v_hat**0.5 + eps))
    return new_w, state


def efficient_adam(w, g, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """A right answer as Keras writes it: alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t), with eps
    scaled so the result is Algorithm 1 exactly."""
    t = state["t"] + 1
    m = state["m"] + (1 - beta1) * (g - state["m"])
    v = state["v"] + (1 - beta2) * (g**2 - state["v"])
    alpha = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    return w - alpha * m / (np.sqrt(v) + eps * np.sqrt(1 - beta2**t)), dict(m=m, v=v, t=t)


@pytest.mark.parametrize("answer", [make_adam(), loop_adam, efficient_adam])
def test_adam_passes(answer):
    result = evaluate("step3.adam_step", answer)
    assert result.status == "passed", result.message


def test_adam_stub_is_not_attempted():
    assert evaluate("step3.adam_step", stub).status == "not_attempted"


@pytest.mark.parametrize(
    ("slip", "fragments"),
    [
        ({"correct_m": False, "correct_v": False}, ["no bias correction", "3.16 lr"]),
        ({"correct_m": False}, ["m was not bias-corrected", "0.1 lr"]),
        ({"correct_v": False}, ["v was not bias-corrected", "31.6 lr"]),
        ({"t_after": False}, ["t = 0", "divides by zero"]),
        ({"sqrt": False}, ["SQUARE ROOT"]),
        ({"m_of_sq": True}, ["m averaged g**2"]),
        ({"sign": 1.0}, ["uphill"]),
        ({"eps_in": True}, ["eps went inside the root"]),
    ],
)
def test_adam_slips_fail(slip, fragments):
    expect_failed(evaluate("step3.adam_step", make_adam(**slip)), *fragments)


def test_adam_ignoring_lr_fails():
    def fixed_lr(w, g, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        return make_adam()(w, g, state, 1e-3, beta1, beta2, eps)

    expect_failed(evaluate("step3.adam_step", fixed_lr), "use the lr you are given")


def test_adam_ignoring_betas_fails():
    def fixed_betas(w, g, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        return make_adam()(w, g, state, lr)

    expect_failed(evaluate("step3.adam_step", fixed_betas), "beta1=0.8", "Algorithm 1")


def test_adam_without_eps_fails():
    def no_eps(w, g, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        return make_adam()(w, g, state, lr, beta1, beta2, 0.0)

    expect_failed(evaluate("step3.adam_step", no_eps), "0 / 0", "add eps")


def test_adam_storing_corrected_moments_fails():
    def corrected_state(w, g, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        new_w, s = make_adam()(w, g, state, lr, beta1, beta2, eps)
        t = s["t"]
        return new_w, {"m": s["m"] / (1 - beta1**t), "v": s["v"] / (1 - beta2**t), "t": t}

    expect_failed(evaluate("step3.adam_step", corrected_state), "state['m']", "NOT bias-corrected")


# ---------------------------------------------------------------------------------- dropout


def make_dropout(
    *, rescale="divide", at_inference=False, keep_is_p=False, fixed_seed=False, per_feature=False
):
    def dropout(x, p, training, rng):
        if not training and not at_inference:
            return x
        r = np.random.default_rng(0) if fixed_seed else rng
        keep = p if keep_is_p else 1 - p
        shape = x.shape[-1:] if per_feature else x.shape
        mask = r.random(shape) < keep
        scale = {"divide": 1 / (1 - p), "none": 1.0, "multiply": 1 - p}[rescale]
        return x * mask * scale

    return dropout


def binomial_dropout(x, p, training, rng):
    """A right answer written with rng.binomial and np.where."""
    if training:
        keep = rng.binomial(1, 1.0 - p, size=np.shape(x)).astype(bool)
        return np.where(keep, np.asarray(x) / (1.0 - p), 0.0)
    return np.asarray(x).copy()


@pytest.mark.parametrize("answer", [make_dropout(), binomial_dropout])
def test_dropout_passes(answer):
    result = evaluate("step3.dropout", answer)
    assert result.status == "passed", result.message


def test_dropout_stub_is_not_attempted():
    assert evaluate("step3.dropout", stub).status == "not_attempted"


@pytest.mark.parametrize(
    ("slip", "fragments"),
    [
        ({"rescale": "none"}, ["kept values are 1", "not 1"]),
        ({"rescale": "multiply"}, ["kept values are 0.7", "DIVIDE by (1 - p)"]),
        ({"at_inference": True}, ["dropped", "nothing is dropped at inference"]),
        ({"keep_is_p": True}, ["set 70", "probability to DROP"]),
        ({"fixed_seed": True}, ["exactly the same units", "fresh mask"]),
        ({"per_feature": True}, ["every row has the same units dropped"]),
    ],
)
def test_dropout_slips_fail(slip, fragments):
    expect_failed(evaluate("step3.dropout", make_dropout(**slip)), *fragments)


def test_dropout_scaling_at_inference_fails():
    def scales_at_inference(x, p, training, rng):
        return make_dropout()(x, p, True, rng) if training else x * (1 - p)

    expect_failed(evaluate("step3.dropout", scales_at_inference), "scaled by (1 - p) at inference")


def test_dropout_in_place_fails():
    def in_place(x, p, training, rng):
        if training:
            x *= (rng.random(x.shape) >= p) / (1 - p)
        return x

    expect_failed(evaluate("step3.dropout", in_place), "changed the x you passed in")


# --------------------------------------------------------------------------- batch norm


def make_bn_train(*, axis=0, ddof=0, eps_inside=True, swap_momentum=False, running_ddof=0):
    def batchnorm_train(x, gamma, beta, running, momentum=0.99, eps=1e-3):
        mu = x.mean(axis=axis, keepdims=True)
        var = x.var(axis=axis, ddof=ddof, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_hat = (x - mu) / (np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps)
        keep = 1 - momentum if swap_momentum else momentum
        batch_var = x.var(axis=0, ddof=running_ddof)
        new = {
            "mean": running["mean"] * keep + x.mean(axis=0) * (1 - keep),
            "var": running["var"] * keep + batch_var * (1 - keep),
        }
        return gamma * x_hat + beta, new

    return batchnorm_train


def bn_infer(x, gamma, beta, running, eps=1e-3):
    return gamma * (x - running["mean"]) / np.sqrt(running["var"] + eps) + beta


def loop_bn_train(x, gamma, beta, running, momentum=0.99, eps=1e-3):
    """A right answer, feature by feature, with the variance as E[x^2] - E[x]^2."""
    n, d = x.shape
    y = np.empty_like(x)
    mean, var = np.empty(d), np.empty(d)
    for j in range(d):
        col = x[:, j]
        mean[j] = sum(col) / n
        var[j] = sum((c - mean[j]) ** 2 for c in col) / n
        y[:, j] = gamma[j] * (col - mean[j]) / (var[j] + eps) ** 0.5 + beta[j]
    return y, {
        "mean": momentum * running["mean"] + (1 - momentum) * mean,
        "var": momentum * running["var"] + (1 - momentum) * var,
    }


def loop_bn_infer(x, gamma, beta, running, eps=1e-3):
    scale = gamma / np.sqrt(running["var"] + eps)  # folded into one scale and shift, as deployed models do
    return x * scale + (beta - running["mean"] * scale)


@pytest.mark.parametrize(("train", "infer"), [(make_bn_train(), bn_infer), (loop_bn_train, loop_bn_infer)])
def test_batchnorm_passes(train, infer):
    result = evaluate("step3.batchnorm", train, infer)
    assert result.status == "passed", result.message


def test_batchnorm_stub_is_not_attempted():
    assert evaluate("step3.batchnorm", stub, stub).status == "not_attempted"


@pytest.mark.parametrize(
    ("slip", "fragments"),
    [
        ({"axis": 1}, ["each ROW of y has mean 0", "axis=0"]),
        ({"ddof": 1}, ["unbiased variance (ddof=1", "divides by N"]),
        ({"eps_inside": False}, ["eps goes INSIDE the root"]),
        ({"swap_momentum": True}, ["the wrong way round", "weight of the OLD value"]),
        ({"running_ddof": 1}, ["unbiased batch variance"]),
    ],
)
def test_batchnorm_slips_fail(slip, fragments):
    expect_failed(evaluate("step3.batchnorm", make_bn_train(**slip), bn_infer), *fragments)


def test_batchnorm_running_std_fails():
    def running_std(x, gamma, beta, running, momentum=0.99, eps=1e-3):
        y, new = make_bn_train()(x, gamma, beta, running, momentum, eps)
        new["var"] = running["var"] * momentum + x.std(axis=0) * (1 - momentum)
        return y, new

    expect_failed(evaluate("step3.batchnorm", running_std, bn_infer), "running['var']", "not the std")


def test_batchnorm_no_eps_fails():
    def no_eps(x, gamma, beta, running, momentum=0.99, eps=1e-3):
        return make_bn_train()(x, gamma, beta, running, momentum, 0.0)

    expect_failed(evaluate("step3.batchnorm", no_eps, bn_infer), "constant feature", "inside the square root")


def test_batchnorm_inference_with_batch_stats_fails():
    def batch_stats(x, gamma, beta, running, eps=1e-3):
        return make_bn_train()(x, gamma, beta, running, 0.99, eps)[0]

    expect_failed(
        evaluate("step3.batchnorm", make_bn_train(), batch_stats), "batch's own mean", "running['mean']"
    )


# ------------------------------------------------------------- Keras, the trusted library


@pytest.fixture(scope="module")
def keras():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    return pytest.importorskip("keras")


def keras_bn_train(keras, x, gamma, beta, running, momentum=0.99, eps=1e-3):
    layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=eps, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([gamma, beta, running["mean"], running["var"]])
    y = np.asarray(layer(x, training=True))
    return y, {"mean": np.asarray(layer.moving_mean), "var": np.asarray(layer.moving_variance)}


def keras_bn_infer(keras, x, gamma, beta, running, eps=1e-3):
    layer = keras.layers.BatchNormalization(epsilon=eps, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([gamma, beta, running["mean"], running["var"]])
    return np.asarray(layer(x, training=False))


@pytest.mark.slow
def test_keras_batchnorm_passes_the_checker(keras):
    """The checker's facts are Keras' own: its BatchNormalization, used as the answer, passes
    (biased variance for both the output and the moving variance, momentum on the old value)."""
    result = evaluate(
        "step3.batchnorm",
        lambda *a, **k: keras_bn_train(keras, *a, **k),
        lambda *a, **k: keras_bn_infer(keras, *a, **k),
    )
    assert result.status == "passed", result.message


@pytest.mark.slow
def test_keras_dropout_passes_the_checker(keras):
    def keras_dropout(x, p, training, rng):
        layer = keras.layers.Dropout(p, seed=int(rng.integers(2**31)), dtype="float64")
        return np.asarray(layer(np.asarray(x, dtype="float64"), training=training))

    result = evaluate("step3.dropout", keras_dropout)
    assert result.status == "passed", result.message


@pytest.mark.slow
def test_keras_adam_first_step_is_lr_times_sign(keras):
    """The fact the Adam check starts from, in Keras' own optimizer (its epsilon 1e-7 sits outside
    the bias correction, so gradients near 1e-4 step a little less: 0.97 lr)."""
    g = np.array([1e-4, -1.0, 1e3])
    w = keras.Variable(np.zeros(3), dtype="float64")
    keras.optimizers.Adam(learning_rate=0.01).apply_gradients([(keras.ops.convert_to_tensor(g), w)])
    step = np.asarray(w) / 0.01
    np.testing.assert_allclose(step[1:], [1.0, -1.0], rtol=1e-5)
    assert 0.96 < -step[0] < 0.98


def test_adam_in_the_papers_section_2_form_passes() -> None:
    """Kingma & Ba, section 2: the corrections folded into the step size, eps added to sqrt(v)."""

    def folded(w, g, state, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        t = state["t"] + 1
        m = beta1 * state["m"] + (1 - beta1) * g
        v = beta2 * state["v"] + (1 - beta2) * g**2
        alpha = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        return w - alpha * m / (np.sqrt(v) + eps), {"m": m, "v": v, "t": t}

    r = evaluate("step3.adam_step", folded)
    assert r.status == "passed", r.message
    assert "section-2 form" in r.message


def test_dropout_that_ignores_the_rng_it_is_given_fails() -> None:
    def global_state(x, p, training, rng):
        if not training:
            return x.copy()
        keep = np.random.random(x.shape) >= p  # numpy's global generator, not rng
        return x * keep / (1 - p)

    expect_failed(evaluate("step3.dropout", global_state), "default_rng(3)", "the rng you are given")
