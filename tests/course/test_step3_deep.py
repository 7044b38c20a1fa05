"""Checkers of notebook 3.5 (vanishing gradients, ReLU, initial scale): each passes a right answer
written differently from the notebook's, fails the typical mistakes with a message that names
them, and reports a stub as not attempted."""

from __future__ import annotations

import math

import numpy as np

from dl7.checks import evaluate
from tests.checking import expect_failed, stub

PEAKS = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0}


def test_the_deep_ids_are_registered():
    from dl7.checks import registered

    assert {"step3.activations", "step3.layer_gradient_norms", "step3.init_scale"} <= set(registered())


# ------------------------------------------------------------------------------ activations


def relu(z):
    return np.where(z > 0, z, 0.0)


def relu_prime(z):
    return np.heaviside(z, 0.0)  # 0 at exactly zero


def tanh_prime(z):
    return 1.0 / np.cosh(z) ** 2


def test_activations_pass():
    assert evaluate("step3.activations", relu, relu_prime, tanh_prime, PEAKS).status == "passed"


def test_activations_pass_with_ints_and_a_loop():
    def looped_relu(z):
        out = np.empty_like(z)
        for i in np.ndindex(z.shape):
            out[i] = max(z[i], 0.0)
        return out

    peaks = {"relu": 1, "tanh": 1, "sigmoid": 1 / 4}
    assert evaluate("step3.activations", looped_relu, relu_prime, tanh_prime, peaks).status == "passed"


def test_activations_stub_is_not_attempted():
    assert evaluate("step3.activations", stub, relu_prime, tanh_prime, PEAKS).status == "not_attempted"
    assert evaluate("step3.activations", relu, relu_prime, tanh_prime, stub).status == "not_attempted"


def test_activations_take_the_predictions_as_a_function():
    assert evaluate("step3.activations", relu, relu_prime, tanh_prime, lambda: PEAKS).status == "passed"


def test_relu_in_place_fails():
    def in_place(z):
        z[z < 0] = 0.0
        return z

    expect_failed(evaluate("step3.activations", in_place, relu_prime, tanh_prime, PEAKS), "changed the z")


def test_relu_slope_one_at_zero_fails():
    expect_failed(
        evaluate("step3.activations", relu, lambda z: (z >= 0).astype(float), tanh_prime, PEAKS),
        "relu_prime(0.0) returned 1.0",
        "z > 0, not z >= 0",
    )


def test_relu_slope_wrong_away_from_zero_fails():
    expect_failed(
        evaluate("step3.activations", relu, lambda z: np.maximum(z, 0), tanh_prime, PEAKS), "relu_prime(z)"
    )


def test_tanh_prime_of_z_instead_of_tanh_z_fails():
    expect_failed(
        evaluate("step3.activations", relu, relu_prime, lambda z: 1 - z**2, PEAKS), "OUTPUT h = tanh(z)"
    )


def test_tanh_prime_without_the_square_fails():
    expect_failed(
        evaluate("step3.activations", relu, relu_prime, lambda z: 1 - np.tanh(z), PEAKS), "1 - tanh(z)²"
    )


def test_sigmoid_peak_one_half_fails():
    expect_failed(
        evaluate("step3.activations", relu, relu_prime, tanh_prime, {**PEAKS, "sigmoid": 0.5}),
        "VALUE at 0",
    )


def test_peak_slope_wrong_or_missing_fails():
    expect_failed(
        evaluate("step3.activations", relu, relu_prime, tanh_prime, {**PEAKS, "tanh": 0.5}),
        "peak_slopes()['tanh'] is 0.5",
    )
    expect_failed(
        evaluate("step3.activations", relu, relu_prime, tanh_prime, {"sigmoid": 0.25}), "a dict with the keys"
    )


# ------------------------------------------------------------------------------ gradient norms


def norms_by_examples(Ws, X, T, f, f_prime):
    """One example at a time with outer products, summing the gradients (no batch matrices)."""
    N = X.shape[0]
    grads = [np.zeros_like(W) for W in Ws]
    for x, t in zip(X, T, strict=True):
        zs, a = [], x
        for W in Ws[:-1]:
            zs.append(a @ W)
            a = f(zs[-1])
        y = a @ Ws[-1]
        ins = [x] + [f(z) for z in zs]
        delta = (y - t) / N
        for k in range(len(Ws) - 1, -1, -1):
            grads[k] += np.outer(ins[k], delta)
            if k:
                delta = (Ws[k] @ delta) * f_prime(zs[k - 1])
    return [math.sqrt(float(np.sum(g * g))) for g in grads]


def numpy_norms(Ws, X, T, f, f_prime, slip=""):
    A, Z = [X], []
    for i, W in enumerate(Ws):
        Z.append(A[-1] @ W)
        A.append(f(Z[-1]) if i < len(Ws) - 1 else Z[-1])
    delta = (A[-1] - T) / len(X)
    out = []
    for i in reversed(range(len(Ws))):
        out.append(np.linalg.norm(A[i].T @ delta))
        if i:
            if slip == "no slope":
                delta = delta @ Ws[i].T
            elif slip == "post":
                delta = (delta @ Ws[i].T) * f_prime(A[i])
            else:
                delta = (delta @ Ws[i].T) * f_prime(Z[i - 1])
    return np.array(out if slip == "reversed" else out[::-1])


def test_gradient_norms_pass():
    assert evaluate("step3.layer_gradient_norms", numpy_norms).status == "passed"


def test_gradient_norms_pass_one_example_at_a_time():
    assert evaluate("step3.layer_gradient_norms", norms_by_examples).status == "passed"


def test_gradient_norms_stub_is_not_attempted():
    assert evaluate("step3.layer_gradient_norms", stub).status == "not_attempted"


def test_gradient_norms_reversed_fails():
    expect_failed(
        evaluate("step3.layer_gradient_norms", lambda *a: numpy_norms(*a, slip="reversed")), "reverse order"
    )


def test_gradient_norms_without_the_slope_fails():
    expect_failed(
        evaluate("step3.layer_gradient_norms", lambda *a: numpy_norms(*a, slip="no slope")),
        "without the activation's slope",
    )


def test_gradient_norms_slope_of_the_output_fails():
    expect_failed(
        evaluate("step3.layer_gradient_norms", lambda *a: numpy_norms(*a, slip="post")), "layer's OUTPUT f(Z)"
    )


def test_gradient_norms_without_the_mean_fails():
    expect_failed(
        evaluate(
            "step3.layer_gradient_norms", lambda Ws, X, T, f, fp: numpy_norms(Ws, X, T * 1.0, f, fp) * 7
        ),
        "every norm is 7 times",
    )


def test_gradient_norms_returning_the_gradients_fails():
    def matrices(Ws, X, T, f, f_prime):
        return [np.ones_like(W) for W in Ws]

    expect_failed(evaluate("step3.layer_gradient_norms", matrices), "one number per layer")


def test_gradient_norms_changing_the_weights_fails():
    def scaling(Ws, X, T, f, f_prime):
        out = numpy_norms(Ws, X, T, f, f_prime)
        Ws[0] *= 2
        return out

    expect_failed(evaluate("step3.layer_gradient_norms", scaling), "changed the weight matrices")


# ------------------------------------------------------------------------------ initial scale


def init_uniform(fan_in, fan_out, activation, rng):
    gain = 2.0 if activation == "relu" else 1.0  # variance gain
    limit = math.sqrt(3.0 * gain / fan_in)  # a uniform on [-l, l] has variance l²/3
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def init_with(std_of):
    def init(fan_in, fan_out, activation, rng):
        return rng.normal(0.0, std_of(fan_in, fan_out, activation), (fan_in, fan_out))

    return init


def test_init_scale_passes():
    good = init_with(lambda i, o, a: math.sqrt((2.0 if a == "relu" else 1.0) / i))
    result = evaluate("step3.init_scale", good)
    assert result.status == "passed", result
    assert "after 20 layers" in result.message


def test_init_scale_passes_a_uniform_distribution():
    assert evaluate("step3.init_scale", init_uniform).status == "passed"


def test_init_scale_stub_is_not_attempted():
    assert evaluate("step3.init_scale", stub).status == "not_attempted"


def test_init_scale_fan_out_fails():
    bad = init_with(lambda i, o, a: math.sqrt((2.0 if a == "relu" else 1.0) / o))
    expect_failed(evaluate("step3.init_scale", bad), "1/sqrt(fan_out)")


def test_init_scale_forgetting_the_two_fails():
    expect_failed(
        evaluate("step3.init_scale", init_with(lambda i, o, a: 1 / math.sqrt(i))), "twice the variance"
    )


def test_init_scale_variance_for_std_fails():
    bad = init_with(lambda i, o, a: (2.0 if a == "relu" else 1.0) / i)
    expect_failed(evaluate("step3.init_scale", bad), "the VARIANCE, not the standard deviation")


def test_init_scale_glorot_average_fails():
    bad = init_with(lambda i, o, a: math.sqrt((2.0 if a == "relu" else 1.0) * 2 / (i + o)))
    expect_failed(evaluate("step3.init_scale", bad), "expected")


def test_init_scale_transposed_fails():
    def transposed(fan_in, fan_out, activation, rng):
        return init_uniform(fan_out, fan_in, activation, rng) * math.sqrt(fan_out / fan_in)

    expect_failed(evaluate("step3.init_scale", transposed), "rows are inputs")


def test_init_scale_ignoring_the_rng_fails():
    def global_rng(fan_in, fan_out, activation, rng):
        return np.random.normal(0.0, math.sqrt(1.0 / fan_in), (fan_in, fan_out))

    expect_failed(evaluate("step3.init_scale", global_rng), "draw from the rng passed in")


def test_init_scale_uniform_on_plus_minus_the_std_is_named() -> None:
    def uniform_std(fan_in, fan_out, activation, rng):
        s = (2.0 if activation == "relu" else 1.0) ** 0.5 / fan_in**0.5
        return rng.uniform(-s, s, size=(fan_in, fan_out))

    expect_failed(evaluate("step3.init_scale", uniform_std), "uniform draw on [-s, s]", "sqrt(3)")
