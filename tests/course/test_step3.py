"""Step 3 checkers: each passes a right answer, fails typical mistakes with a useful message,
and reports a stub as not attempted. The right answers here are written independently of the
notebooks (scalar loops for Mazur's network, a different loop shape for the rest)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub


def test_every_step3_id_is_registered():
    from dl7.checks import registered

    ids = {k for k in registered() if k.startswith("step3.")}
    assert ids == {
        "step3.gd_step",
        "step3.gradient_descent",
        "step3.learning_rates",
        "step3.mazur_forward",
        "step3.mazur_backward",
        "step3.mazur_update",
        "step3.mazur_train",
        "step3.mlp_forward",
        "step3.gradient_check",
        "step3.mlp_backprop",
        "step3.initial_loss",
        "step3.overfit_tiny_batch",
        "step3.digits",
        # 02b softmax, 04 micrograd, 05 vanishing gradients, 06 optimisers (issue 17)
        "step3.softmax",
        "step3.cross_entropy",
        "step3.softmax_ce_grad",
        "step3.saturation",
        "step3.value_ops",
        "step3.value_backward",
        "step3.micrograd_mazur",
        "step3.micrograd_train",
        "step3.activations",
        "step3.layer_gradient_norms",
        "step3.init_scale",
        "step3.adam_step",
        "step3.dropout",
        "step3.batchnorm",
    }


# ------------------------------------------------------------------------------ gradient descent


def good_gd_step(x, grad, lr):
    return np.asarray(x, float) - lr * np.asarray(grad(x), float)


def test_gd_step_passes():
    assert evaluate("step3.gd_step", good_gd_step).status == "passed"


def test_gd_step_stub_is_not_attempted():
    assert evaluate("step3.gd_step", stub).status == "not_attempted"


def test_gd_step_uphill_fails():
    expect_failed(evaluate("step3.gd_step", lambda x, g, lr: x + lr * g(x)), "moved uphill", "AGAINST")


def test_gd_step_in_place_fails():
    def in_place(x, grad, lr):
        x -= lr * grad(x)
        return x

    expect_failed(evaluate("step3.gd_step", in_place), "changed the x you passed in")


def test_gd_step_ignoring_lr_fails():
    expect_failed(evaluate("step3.gd_step", lambda x, g, lr: x - 0.1 * g(x)), "expected")


def good_gradient_descent(grad, x0, lr, tol=1e-6, max_iters=10_000):
    x = np.array(x0, dtype=float)
    n = 0
    while n < max_iters and np.linalg.norm(grad(x)) >= tol:
        x = x - lr * grad(x)
        n += 1
    return x, n


def test_gradient_descent_passes():
    assert evaluate("step3.gradient_descent", good_gradient_descent).status == "passed"


def test_gradient_descent_counting_after_the_update_passes():
    def after(grad, x0, lr, tol=1e-6, max_iters=10_000):
        x = np.array(x0, dtype=float)
        if np.linalg.norm(grad(x)) < tol:
            return x, 0
        for k in range(1, max_iters + 1):
            x = x - lr * grad(x)
            if np.linalg.norm(grad(x)) < tol:
                return x, k
        return x, max_iters

    assert evaluate("step3.gradient_descent", after).status == "passed"


def test_gradient_descent_stub_is_not_attempted():
    assert evaluate("step3.gradient_descent", stub).status == "not_attempted"


def test_gradient_descent_ignoring_tol_fails():
    def no_tol(grad, x0, lr, tol=1e-6, max_iters=10_000):
        x = np.array(x0, dtype=float)
        for _ in range(max_iters):
            x = x - lr * grad(x)
        return x, max_iters

    expect_failed(evaluate("step3.gradient_descent", no_tol), "ran all 10000 iterations", "stop as soon")


def test_gradient_descent_step_size_criterion_fails_with_the_count():
    def step_size(grad, x0, lr, tol=1e-6, max_iters=10_000):  # stops on |lr * g| instead of |g|
        x = np.array(x0, dtype=float)
        for n in range(max_iters):
            if np.linalg.norm(lr * grad(x)) < tol:
                return x, n
            x = x - lr * grad(x)
        return x, max_iters

    expect_failed(evaluate("step3.gradient_descent", step_size), "iterations; expected 32")


def test_gradient_descent_returning_the_start_fails():
    def start(grad, x0, lr, tol=1e-6, max_iters=10_000):
        _, n = good_gradient_descent(grad, x0, lr, tol, max_iters)
        return np.array(x0, dtype=float), n

    expect_failed(evaluate("step3.gradient_descent", start), "return the final point")


def test_gradient_descent_without_max_iters_guard_fails():
    def unbounded(grad, x0, lr, tol=1e-6, max_iters=10_000):
        x, n = np.array(x0, dtype=float), 0
        while np.linalg.norm(grad(x)) >= tol and np.all(np.isfinite(x)):
            x, n = x - lr * grad(x), n + 1
        return x, n

    expect_failed(evaluate("step3.gradient_descent", unbounded), "should stop at max_iters=50")


def good_critical(A):
    return 2.0 / max(np.linalg.eigvals(A).real)


def good_classify(lr, A):
    factor = 1 - lr * max(np.linalg.eigvals(A).real)
    return "diverging" if abs(factor) >= 1 else ("oscillating" if factor < 0 else "monotone")


def test_learning_rates_pass():
    assert evaluate("step3.learning_rates", good_critical, good_classify).status == "passed"


def test_learning_rates_stub_is_not_attempted():
    assert evaluate("step3.learning_rates", stub, good_classify).status == "not_attempted"
    assert evaluate("step3.learning_rates", good_critical, stub).status == "not_attempted"


def test_learning_rates_one_over_l_fails():
    r = evaluate("step3.learning_rates", lambda A: 0.5 * good_critical(A), good_classify)
    expect_failed(r, "largest rate without oscillation")


def test_learning_rates_diagonal_fails():
    r = evaluate("step3.learning_rates", lambda A: 2 / np.max(np.diag(A)), good_classify)
    expect_failed(r, "use its eigenvalues")


def test_learning_rates_smallest_eigenvalue_fails():
    r = evaluate("step3.learning_rates", lambda A: 2 / np.linalg.eigvalsh(A)[0], good_classify)
    expect_failed(r, "flattest direction")


def test_learning_rates_classify_without_oscillation_fails():
    def two_way(lr, A):
        return "diverging" if lr >= good_critical(A) else "monotone"

    expect_failed(evaluate("step3.learning_rates", good_critical, two_way), "expected 'oscillating'")


# ------------------------------------------------------------------------ Mazur's network


def _sig(z):
    return 1.0 / (1.0 + math.exp(-z))


def good_forward(params, x):
    W1, b1, W2, b2 = (np.asarray(params[k], float) for k in ("W1", "b1", "W2", "b2"))
    h = np.array([_sig(sum(W1[j, i] * x[i] for i in range(len(x))) + b1[j]) for j in range(len(b1))])
    o = np.array([_sig(sum(W2[k, j] * h[j] for j in range(len(h))) + b2[k]) for k in range(len(b2))])
    return h, o


def good_total_error(out, target):
    return sum(0.5 * (t - o) ** 2 for t, o in zip(target, out, strict=True))


def good_backward(params, x, target):
    h, o = good_forward(params, x)
    W2 = np.asarray(params["W2"], float)
    d_o = np.array([(o[k] - target[k]) * o[k] * (1 - o[k]) for k in range(len(o))])
    g2 = np.array([[d_o[k] * h[j] for j in range(len(h))] for k in range(len(o))])
    d_h = np.array([sum(d_o[k] * W2[k, j] for k in range(len(o))) * h[j] * (1 - h[j]) for j in range(len(h))])
    g1 = np.array([[d_h[j] * x[i] for i in range(len(x))] for j in range(len(h))])
    return {"W1": g1, "W2": g2}


def good_update(params, x, target, lr):
    g = good_backward(params, x, target)
    return {
        "W1": params["W1"] - lr * g["W1"],
        "W2": params["W2"] - lr * g["W2"],
        "b1": params["b1"],
        "b2": params["b2"],
    }


def fast_update(params, x, target, lr):  # vectorised, for the 10,000-step test
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    h = sig(params["W1"] @ x + params["b1"])
    o = sig(params["W2"] @ h + params["b2"])
    d_o = (o - target) * o * (1 - o)
    d_h = (params["W2"].T @ d_o) * h * (1 - h)
    return {**params, "W1": params["W1"] - lr * np.outer(d_h, x), "W2": params["W2"] - lr * np.outer(d_o, h)}


def good_train(params, x, target, lr, steps):
    for _ in range(steps):
        params = fast_update(params, x, target, lr)
    return params


MAZUR_OUT_H = np.array([0.593269992, 0.596884378])
MAZUR_OUT_O = np.array([0.75136507, 0.772928465])


def test_mazur_forward_passes():
    assert evaluate("step3.mazur_forward", good_forward, good_total_error).status == "passed"


def test_mazur_forward_stub_is_not_attempted():
    assert evaluate("step3.mazur_forward", stub, good_total_error).status == "not_attempted"


def test_mazur_forward_hard_coded_fails_on_other_weights():
    r = evaluate("step3.mazur_forward", lambda p, x: (MAZUR_OUT_H, MAZUR_OUT_O), good_total_error)
    expect_failed(r, "random weights")


def test_mazur_forward_transposed_weights_fail():
    def transposed(params, x):
        return good_forward({**params, "W1": params["W1"].T, "W2": params["W2"].T}, x)

    expect_failed(evaluate("step3.mazur_forward", transposed, good_total_error), "out_h", "W[j, i]")


def test_mazur_forward_without_output_sigmoid_fails():
    def linear_out(params, x):
        h, _ = good_forward(params, x)
        return h, params["W2"] @ h + params["b2"]

    expect_failed(evaluate("step3.mazur_forward", linear_out, good_total_error), "out_o")


def test_mazur_mean_squared_error_fails():
    r = evaluate("step3.mazur_forward", good_forward, lambda o, t: np.mean((t - o) ** 2))
    expect_failed(r, "MEAN squared error")


def test_mazur_backward_passes():
    assert evaluate("step3.mazur_backward", good_backward).status == "passed"


def test_mazur_backward_stub_is_not_attempted():
    assert evaluate("step3.mazur_backward", stub).status == "not_attempted"


def test_mazur_backward_hard_coded_numbers_fail():
    """A learner who copies Mazur's gradients into the code passes his example, never another."""
    mazur_grads = good_backward(
        {
            "W1": np.array([[0.15, 0.2], [0.25, 0.3]]),
            "b1": np.array([0.35, 0.35]),
            "W2": np.array([[0.4, 0.45], [0.5, 0.55]]),
            "b2": np.array([0.6, 0.6]),
        },
        [0.05, 0.1],
        [0.01, 0.99],
    )
    r = evaluate("step3.mazur_backward", lambda p, x, t: mazur_grads)
    expect_failed(r, "random weights", "central differences")


def test_mazur_backward_wrong_sign_fails():
    def flipped(params, x, target):
        return {k: -v for k, v in good_backward(params, x, target).items()}

    expect_failed(evaluate("step3.mazur_backward", flipped), "dE/dw5")


def test_mazur_backward_missing_sum_over_outputs_fails():
    def first_output_only(params, x, target):
        g = good_backward(params, x, target)
        h, o = good_forward(params, x)
        d_o = (o - target) * o * (1 - o)
        d_h = params["W2"][0] * d_o[0] * h * (1 - h)  # only o1's path back
        return {"W1": np.outer(d_h, x), "W2": g["W2"]}

    expect_failed(evaluate("step3.mazur_backward", first_output_only), "['W1']", "BOTH outputs")


def test_mazur_backward_transposed_hidden_gradient_fails():
    def transposed(params, x, target):
        g = good_backward(params, x, target)
        return {"W1": g["W1"].T, "W2": g["W2"]}

    expect_failed(evaluate("step3.mazur_backward", transposed), "['W1']")


def test_mazur_update_passes():
    assert evaluate("step3.mazur_update", good_update).status == "passed"


def test_mazur_update_stub_is_not_attempted():
    assert evaluate("step3.mazur_update", stub).status == "not_attempted"


def test_mazur_update_hard_coded_result_fails():
    mazur_after = {
        "W1": np.array([[0.149780716, 0.19956143], [0.24975114, 0.29950229]]),
        "b1": np.array([0.35, 0.35]),
        "W2": np.array([[0.35891648, 0.408666186], [0.511301270, 0.561370121]]),
        "b2": np.array([0.6, 0.6]),
    }

    def canned(params, x, target, lr):
        if np.allclose(params["W1"], [[0.15, 0.2], [0.25, 0.3]]):
            return mazur_after
        return {**params, "W1": params["W1"] - lr * 0.01, "W2": params["W2"] - lr * 0.01}

    expect_failed(evaluate("step3.mazur_update", canned), "random weights")


def test_mazur_update_with_new_w2_for_hidden_layer_fails():
    def sequential(params, x, target, lr):
        g2 = good_backward(params, x, target)["W2"]
        params2 = {**params, "W2": params["W2"] - lr * g2}
        g1 = good_backward(params2, x, target)["W1"]  # uses the UPDATED W2: Mazur's warning
        return {**params2, "W1": params["W1"] - lr * g1}

    expect_failed(evaluate("step3.mazur_update", sequential), "ORIGINAL")


def test_mazur_update_of_biases_fails():
    def with_biases(params, x, target, lr):
        new = good_update(params, x, target, lr)
        _, o = good_forward(params, x)
        d_o = (o - target) * o * (1 - o)
        return {**new, "b2": params["b2"] - lr * d_o}

    expect_failed(evaluate("step3.mazur_update", with_biases), "biases stay fixed")


def test_mazur_update_in_place_fails():
    def in_place(params, x, target, lr):
        g = good_backward(params, x, target)
        params["W1"] -= lr * g["W1"]
        params["W2"] -= lr * g["W2"]
        return params

    expect_failed(evaluate("step3.mazur_update", in_place), "changed the params passed in")


def test_mazur_train_passes():
    r = evaluate("step3.mazur_train", good_train)
    assert r.status == "passed", r
    assert "3.510" in r.message


def test_mazur_train_stub_is_not_attempted():
    assert evaluate("step3.mazur_train", stub).status == "not_attempted"


def test_mazur_train_one_step_short_fails():
    r = evaluate("step3.mazur_train", lambda p, x, t, lr, steps: good_train(p, x, t, lr, max(steps - 1, 0)))
    expect_failed(r, "steps=3")


def test_mazur_train_wrong_learning_rate_fails():
    r = evaluate("step3.mazur_train", lambda p, x, t, lr, steps: good_train(p, x, t, 0.1, steps))
    expect_failed(r, "expected")


# --------------------------------------------------------------------- a general network


def good_mlp_forward(params, X, activation="sigmoid"):
    f = np.tanh if activation == "tanh" else (lambda z: 1 / (1 + np.exp(-z)))
    out = [np.asarray(X, float)]
    for i, (W, b) in enumerate(params):
        z = out[-1] @ W + b
        if i + 1 < len(params):
            out.append(f(z))
        else:
            z = z - np.max(z, axis=1, keepdims=True)
            out.append(np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True))
    return out


def test_mlp_forward_passes():
    assert evaluate("step3.mlp_forward", good_mlp_forward).status == "passed"


def test_mlp_forward_stub_is_not_attempted():
    assert evaluate("step3.mlp_forward", stub).status == "not_attempted"


def test_mlp_forward_unstable_softmax_fails():
    def unstable(params, X, activation="sigmoid"):
        out = good_mlp_forward(params, X, activation)
        z = out[-2] @ params[-1][0] + params[-1][1]
        out[-1] = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return out

    with np.errstate(all="ignore"):
        expect_failed(evaluate("step3.mlp_forward", unstable), "subtract each row's max")


def test_mlp_forward_ignoring_activation_fails():
    r = evaluate("step3.mlp_forward", lambda p, X, activation="sigmoid": good_mlp_forward(p, X, "sigmoid"))
    expect_failed(r, "activation='tanh'")


def test_mlp_forward_sigmoid_on_outputs_fails():
    def sigmoid_out(params, X, activation="sigmoid"):
        out = good_mlp_forward(params, X, activation)
        z = out[-2] @ params[-1][0] + params[-1][1]
        out[-1] = 1 / (1 + np.exp(-z))
        return out

    expect_failed(evaluate("step3.mlp_forward", sigmoid_out), "summing to 1")


def test_mlp_forward_without_input_in_list_fails():
    r = evaluate(
        "step3.mlp_forward", lambda p, X, activation="sigmoid": good_mlp_forward(p, X, activation)[1:]
    )
    expect_failed(r, "the input X, then each layer's output")


def good_numgrad(f, x, eps=1e-5):
    g = np.zeros(x.shape)
    flat = x.reshape(-1)  # a view: nudging it nudges x
    for k in range(flat.size):
        keep = flat[k]
        flat[k] = keep + eps
        up = f(x)
        flat[k] = keep - eps
        down = f(x)
        flat[k] = keep
        g.reshape(-1)[k] = (up - down) / (2 * eps)
    return g


def good_relative_error(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    s = np.sqrt(np.sum(a * a)) + np.sqrt(np.sum(b * b))
    return 0.0 if s == 0 else np.sqrt(np.sum((a - b) ** 2)) / s


def test_gradient_check_passes():
    assert evaluate("step3.gradient_check", good_numgrad, good_relative_error).status == "passed"


def test_gradient_check_copying_implementation_passes():
    def copying(f, x, eps=1e-5):
        g = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[i] += eps
            down[i] -= eps
            g[i] = (f(up) - f(down)) / (2 * eps)
        return g

    assert evaluate("step3.gradient_check", copying, good_relative_error).status == "passed"


def test_gradient_check_stub_is_not_attempted():
    assert evaluate("step3.gradient_check", stub, good_relative_error).status == "not_attempted"


def test_gradient_check_one_sided_fails():
    def one_sided(f, x, eps=1e-5):
        g = np.zeros(x.shape)
        base = f(x)
        for i in np.ndindex(x.shape):
            keep = x[i]
            x[i] = keep + eps
            g[i] = (f(x) - base) / eps
            x[i] = keep
        return g

    expect_failed(evaluate("step3.gradient_check", one_sided, good_relative_error), "one-sided", "CENTRAL")


def test_gradient_check_not_restoring_x_fails():
    def leaky(f, x, eps=1e-5):
        g = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            x[i] += eps
            up = f(x)
            x[i] -= 2 * eps
            g[i] = (up - f(x)) / (2 * eps)
            x[i] += eps * 1.0000001  # not exactly back
        return g

    expect_failed(evaluate("step3.gradient_check", leaky, good_relative_error), "left x changed")


def test_gradient_check_absolute_error_fails():
    r = evaluate("step3.gradient_check", good_numgrad, lambda a, b: float(np.max(np.abs(a - b))))
    expect_failed(r, "scaled by 1e6", "RELATIVE")


def test_gradient_check_division_by_zero_fails():
    def unguarded(a, b):
        with np.errstate(all="ignore"):
            return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))

    expect_failed(evaluate("step3.gradient_check", good_numgrad, unguarded), "two zero arrays", "not nan")


def good_loss_and_grads(params, X, y, activation="sigmoid"):
    acts = good_mlp_forward(params, X, activation)
    n = len(y)
    onehot = np.eye(acts[-1].shape[1])[y]
    loss = -np.sum(onehot * np.log(acts[-1])) / n
    delta = (acts[-1] - onehot) / n
    grads = []
    for i in range(len(params) - 1, -1, -1):
        grads.insert(0, (acts[i].T @ delta, delta.sum(axis=0)))
        if i:
            deriv = 1 - acts[i] ** 2 if activation == "tanh" else acts[i] * (1 - acts[i])
            delta = delta @ params[i][0].T * deriv
    return loss, grads


def test_mlp_backprop_passes():
    r = evaluate("step3.mlp_backprop", good_loss_and_grads)
    assert r.status == "passed", r


def test_mlp_backprop_stub_is_not_attempted():
    assert evaluate("step3.mlp_backprop", stub).status == "not_attempted"


def test_mlp_backprop_summing_instead_of_averaging_fails():
    def summed(params, X, y, activation="sigmoid"):
        loss, grads = good_loss_and_grads(params, X, y, activation)
        return loss, [(dW * len(y), db * len(y)) for dW, db in grads]

    expect_failed(evaluate("step3.mlp_backprop", summed), "N times too large")


def test_mlp_backprop_sigmoid_derivative_for_tanh_fails():
    def wrong_derivative(params, X, y, activation="sigmoid"):
        return (
            good_loss_and_grads(params, X, y, "sigmoid")
            if activation == "sigmoid"
            else _sigmoid_prime_in_tanh(params, X, y)
        )

    expect_failed(evaluate("step3.mlp_backprop", wrong_derivative), "activation='tanh'", "derivative of tanh")


def _sigmoid_prime_in_tanh(params, X, y):
    acts = good_mlp_forward(params, X, "tanh")
    n = len(y)
    onehot = np.eye(acts[-1].shape[1])[y]
    delta = (acts[-1] - onehot) / n
    grads = []
    for i in range(len(params) - 1, -1, -1):
        grads.insert(0, (acts[i].T @ delta, delta.sum(axis=0)))
        if i:
            delta = delta @ params[i][0].T * acts[i] * (1 - acts[i])
    return -np.mean(np.log(acts[-1][np.arange(n), y])), grads


def test_mlp_backprop_hard_coded_gradients_fail():
    r = evaluate(
        "step3.mlp_backprop", lambda p, X, y, activation="sigmoid": (0.0, [(W * 0, b * 0) for W, b in p])
    )
    expect_failed(r, "loss")


def test_mlp_backprop_missing_bias_gradient_fails():
    def no_bias(params, X, y, activation="sigmoid"):
        loss, grads = good_loss_and_grads(params, X, y, activation)
        return loss, [(dW, np.zeros_like(db)) for dW, db in grads]

    expect_failed(evaluate("step3.mlp_backprop", no_bias), "db of layer")


def test_mlp_backprop_mutating_params_fails():
    def mutating(params, X, y, activation="sigmoid"):
        loss, grads = good_loss_and_grads(params, X, y, activation)
        for (W, _), (dW, _) in zip(params, grads, strict=True):
            W -= 0.1 * dW
        return loss, grads

    expect_failed(evaluate("step3.mlp_backprop", mutating), "changed the params")


@pytest.fixture(scope="module")
def digits_split():
    """The course's shared split, flat: (x_train, y_train, x_val, y_val, x_test, y_test)."""
    from dl7 import datasets

    split = datasets.load("digits").split3()
    return [a.reshape(len(a), 64) if a.ndim == 4 else a for a in split]


def test_digits_good_classifier_passes(digits_split):
    from sklearn.neighbors import KNeighborsClassifier

    X_train, y_train, *_ = digits_split
    model = KNeighborsClassifier(n_neighbors=3).fit(X_train, y_train)
    r = evaluate("step3.digits", model.predict)
    assert r.status == "passed", r
    assert "359 test digits of the shared split" in r.message


def test_digits_stub_is_not_attempted():
    assert evaluate("step3.digits", stub).status == "not_attempted"


def test_digits_weak_classifier_fails_with_accuracy(digits_split):
    r = evaluate("step3.digits", lambda images: np.zeros(len(images), dtype=int))
    expect_failed(r, "accuracy 10.0%", "close to chance", "same indices")
    assert "train longer" not in r.message, "at chance level, training longer is not the cure"


def test_digits_near_miss_is_told_to_train_longer(digits_split):
    X_train, y_train, *_ = digits_split
    from sklearn.neighbors import KNeighborsClassifier

    model = KNeighborsClassifier(n_neighbors=3).fit(X_train[:60], y_train[:60])
    r = evaluate("step3.digits", model.predict)
    expect_failed(r, "at least 94%", "train longer", "validation accuracy")


def test_digits_rescaled_again_fails(digits_split):
    # the old interface took raw 0..16 pixels; dividing the [0, 1] images by 16 again starves the network
    X_train, y_train, *_ = digits_split
    fit = make_fit_mlp()
    params, _ = fit(X_train, y_train, [64, 32, 10], lr=0.2, epochs=15)

    def classify(images):
        h = np.tanh((images / 16.0) @ params[0][0] + params[0][1])
        return (h @ params[1][0] + params[1][1]).argmax(axis=1)

    expect_failed(evaluate("step3.digits", classify), "pixels already in [0, 1]")


def make_fit_mlp(*, update_bias=True, fill_losses=True, pair_labels=True, split=False):
    """A small numpy fit_mlp (tanh hidden layers, softmax output), right by default."""

    def fit_mlp(X, y, sizes, activation="tanh", lr=0.1, epochs=30, batch_size=32, seed=0):
        rng = np.random.default_rng(seed)
        params = [(rng.normal(0, 1 / np.sqrt(m), (m, n)), np.zeros(n)) for m, n in itertools.pairwise(sizes)]
        losses = []
        for _ in range(epochs):
            order = rng.permutation(len(X))
            batches = (
                np.array_split(order, max(1, len(X) // batch_size))
                if split
                else [order[s : s + batch_size] for s in range(0, len(X), batch_size)]
            )
            total = 0.0
            for n_seen, idx in enumerate(batches):
                labels = y[idx] if pair_labels else y[n_seen * batch_size : n_seen * batch_size + len(idx)]
                acts = [X[idx]]
                for i, (W, b) in enumerate(params):
                    z = acts[-1] @ W + b
                    if i < len(params) - 1:
                        acts.append(np.tanh(z))
                    else:
                        e = np.exp(z - z.max(axis=1, keepdims=True))
                        acts.append(e / e.sum(axis=1, keepdims=True))
                P = acts[-1]
                total += -np.sum(np.log(P[np.arange(len(idx)), labels]))
                delta = P.copy()
                delta[np.arange(len(idx)), labels] -= 1
                delta /= len(idx)
                new = []
                for i in reversed(range(len(params))):
                    W, b = params[i]
                    dW, db = acts[i].T @ delta, delta.sum(axis=0)
                    if i > 0:
                        delta = (delta @ W.T) * (1 - acts[i] ** 2)
                    new.append((W - lr * dW, b - lr * db if update_bias else b))
                params = new[::-1]
            if fill_losses:
                losses.append(total / len(X))
        return params, losses

    return fit_mlp


def test_digits_checks_fit_mlp_both_ways(digits_split):
    from sklearn.neighbors import KNeighborsClassifier

    X_train, y_train, *_ = digits_split
    classify = KNeighborsClassifier(n_neighbors=3).fit(X_train, y_train).predict
    for right in (make_fit_mlp(), make_fit_mlp(split=True)):
        r = evaluate("step3.digits", classify, right)
        assert r.status == "passed", r
    expect_failed(evaluate("step3.digits", classify, make_fit_mlp(update_bias=False)), "biases b of layer 1")
    expect_failed(evaluate("step3.digits", classify, make_fit_mlp(fill_losses=False)), "empty losses list")
    expect_failed(evaluate("step3.digits", classify, make_fit_mlp(pair_labels=False)), "same indices")


def test_digits_scores_instead_of_labels_fail():
    r = evaluate("step3.digits", lambda images: np.ones((len(images), 10)))
    expect_failed(r, "one label per image")


# ------------------------------------------------------------------------------ known mistakes (issue 11)


def _descent(*, extra=0, check_after=False):
    def gradient_descent(grad, x0, lr, tol=1e-6, max_iters=10_000):
        x = np.array(x0, dtype=float)
        if check_after:  # a correct loop written the other way round: step, then test
            n = 0
            while n < max_iters and np.linalg.norm(grad(x)) >= tol:
                x = x - lr * grad(x)
                n += 1
            return x, n
        for n in range(max_iters):
            if np.linalg.norm(grad(x)) < tol:
                return x, n + extra
            x = x - lr * grad(x)
        return x, max_iters

    return gradient_descent


def test_gradient_descent_counting_one_too_many_fails_and_a_while_loop_passes():
    expect_failed(evaluate("step3.gradient_descent", _descent(extra=1)), "one more than the updates made")
    assert evaluate("step3.gradient_descent", _descent(check_after=True)).status == "passed"


def _classify(strict_boundary):
    def classify(lr, A):
        factor = 1.0 - lr * np.linalg.eigvalsh(A)[-1]
        if (abs(factor) > 1.0) if strict_boundary else (abs(factor) >= 1.0):
            return "diverging"
        return "monotone" if factor >= 0 else "oscillating"

    return classify


def test_learning_rate_at_exactly_2_over_l_is_diverging():
    critical = lambda A: 2.0 / np.linalg.eigvalsh(A)[-1]  # noqa: E731
    r = evaluate("step3.learning_rates", critical, _classify(strict_boundary=True))
    expect_failed(r, "lr=0.5", "'diverging'", "does not shrink")
    assert evaluate("step3.learning_rates", critical, _classify(strict_boundary=False)).status == "passed"


# ------------------------------------------------------------------------------ training hygiene (issue 17)


def _forward_tanh(params, X):
    h = X
    for i, (W, b) in enumerate(params):
        z = h @ W + b
        if i < len(params) - 1:
            h = np.tanh(z)
        else:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            h = e / e.sum(axis=1, keepdims=True)
    return h


def make_initial_loss(*, scale=None, reduce=np.mean, trained=None):
    def initial_loss(X, y, sizes, activation="tanh", seed=0):
        rng = np.random.default_rng(seed)
        params = trained or [
            (rng.normal(0, scale or 1 / math.sqrt(m), (m, n)), np.zeros(n))
            for m, n in itertools.pairwise(sizes)
        ]
        P = _forward_tanh(params, X)
        return float(reduce(-np.log(P[np.arange(len(y)), y])))

    return initial_loss


def test_initial_loss_passes_and_a_loop_passes_too():
    r = evaluate("step3.initial_loss", lambda k: np.log(k), make_initial_loss())
    assert r.status == "passed", r
    assert "for 10 classes (ln 10 = 2.303)" in r.message

    def by_loop(X, y, sizes, activation="tanh", seed=0):  # one example at a time, log of a sum
        rng = np.random.default_rng(seed + 100)
        params = [
            (rng.normal(0, 0.5 / math.sqrt(m), (m, n)), np.zeros(n)) for m, n in itertools.pairwise(sizes)
        ]
        total = 0.0
        for x, label in zip(X, y, strict=True):
            z = _forward_tanh(params, x[None, :])[0]
            total -= math.log(z[label])
        return total / len(y)

    prediction = lambda k: -math.log(1 / k)  # noqa: E731
    assert evaluate("step3.initial_loss", prediction, by_loop).status == "passed"


def test_initial_loss_stub_is_not_attempted():
    assert evaluate("step3.initial_loss", stub, stub).status == "not_attempted"


def test_initial_loss_wrong_predictions_fail():
    good = make_initial_loss()
    expect_failed(evaluate("step3.initial_loss", lambda k: 1 / k, good), "returned 0.1", "probability")
    expect_failed(evaluate("step3.initial_loss", lambda k: np.log10(k), good), "natural log")
    expect_failed(
        evaluate("step3.initial_loss", lambda k: 2.302585, good), "expected_initial_loss(3)", "formula in K"
    )


def test_initial_loss_summed_fails():
    r = evaluate("step3.initial_loss", np.log, make_initial_loss(reduce=np.sum))
    expect_failed(r, "1079 × ln 10", "SUM", "mean")


def test_initial_loss_with_large_weights_fails():
    r = evaluate("step3.initial_loss", np.log, make_initial_loss(scale=1.0))
    expect_failed(r, "far above ln 10 = 2.3026", "too large", "N(0, 1/n_in)")
    assert evaluate("step3.initial_loss", np.log, make_initial_loss(scale=0.3)).status == "failed"


def test_initial_loss_hard_coded_fails():
    r = evaluate(
        "step3.initial_loss", np.log, lambda X, y, sizes, activation="tanh", seed=0: np.log(sizes[-1])
    )
    expect_failed(r, "exactly ln 10 for two different seeds")


def test_initial_loss_of_a_trained_network_fails(digits_split):
    X_train, y_train, *_ = digits_split
    params, _ = make_fit_mlp()(X_train, y_train, [64, 128, 10], lr=0.2, epochs=5)
    r = evaluate("step3.initial_loss", np.log, make_initial_loss(trained=params))
    expect_failed(r, "well below ln 10", "init_params")


def make_overfit(*, lr=0.5, epochs=500, until_right=False, data=None):
    fit = make_fit_mlp()

    def overfit_tiny_batch(X, y):
        if until_right:
            n = 1
            while True:
                params, losses = fit(X, y, [64, 128, 10], "tanh", lr=lr, epochs=n, batch_size=len(X))
                if np.all(_forward_tanh(params, X).argmax(axis=1) == y):
                    return params, losses
                n *= 2
        Xs, ys = data if data is not None else (X, y)
        return fit(Xs, ys, [64, 128, 10], "tanh", lr=lr, epochs=epochs, batch_size=min(len(Xs), 32))

    return overfit_tiny_batch


def test_overfit_tiny_batch_passes_and_minibatches_pass_too():
    r = evaluate("step3.overfit_tiny_batch", make_overfit())
    assert r.status == "passed", r
    assert "all 20 right" in r.message
    fit = make_fit_mlp(split=True)
    minibatches = lambda X, y: fit(X, y, [64, 128, 10], "tanh", lr=0.3, epochs=400, batch_size=5)  # noqa: E731
    assert evaluate("step3.overfit_tiny_batch", minibatches).status == "passed"


def test_overfit_tiny_batch_stub_is_not_attempted():
    assert evaluate("step3.overfit_tiny_batch", stub).status == "not_attempted"


def test_overfit_tiny_batch_too_short_fails():
    r = evaluate("step3.overfit_tiny_batch", make_overfit(lr=0.1, epochs=30))
    expect_failed(r, "after 30 epochs", "above 0.01", "right is not yet sure")
    r = evaluate("step3.overfit_tiny_batch", make_overfit(lr=0.01, epochs=5))
    expect_failed(r, "of 20 right", "train (much) longer", "bug")


def test_overfit_tiny_batch_stopping_at_all_right_fails():
    r = evaluate("step3.overfit_tiny_batch", make_overfit(until_right=True))
    expect_failed(r, "all 20 digits are classified right", "right is not yet sure")


def test_overfit_tiny_batch_on_other_data_fails(digits_split):
    X_train, y_train, *_ = digits_split
    r = evaluate("step3.overfit_tiny_batch", make_overfit(lr=0.2, epochs=10, data=(X_train, y_train)))
    expect_failed(r, "on all 1079 training digits", "whole training set")


def test_overfit_tiny_batch_wrong_sizes_fail():
    fit = make_fit_mlp()
    r = evaluate("step3.overfit_tiny_batch", lambda X, y: fit(X, y, [64, 10], "tanh", lr=0.5, epochs=50))
    expect_failed(r, "list of 2 (W, b) pairs")


def test_overfit_tiny_batch_catches_a_broken_fit_mlp():
    for broken, why in (
        (make_fit_mlp(fill_losses=False), "empty losses list"),
        (make_fit_mlp(update_bias=False), "biases of layer 1 are all still 0"),
    ):
        r = evaluate(
            "step3.overfit_tiny_batch",
            lambda X, y, fit=broken: fit(X, y, [64, 128, 10], "tanh", lr=0.5, epochs=500, batch_size=20),
        )
        expect_failed(r, why)


def _untrained_probabilities(X, sizes, seed):
    rng = np.random.default_rng(seed)
    params = [(rng.normal(0, 1 / math.sqrt(m), (m, n)), np.zeros(n)) for m, n in itertools.pairwise(sizes)]
    return _forward_tanh(params, X)


def test_initial_loss_that_ignores_the_labels_fails() -> None:
    def every_class(X, y, sizes, activation="tanh", seed=0):
        return float(-np.mean(np.log(_untrained_probabilities(X, sizes, seed))))

    expect_failed(evaluate("step3.initial_loss", lambda k: np.log(k), every_class), "ignores y", "true class")


def test_initial_loss_with_every_example_at_every_label_fails() -> None:
    def fancy(X, y, sizes, activation="tanh", seed=0):  # P[:, y] is (N, N)
        return float(-np.mean(np.log(_untrained_probabilities(X, sizes, seed)[:, y])))

    expect_failed(
        evaluate("step3.initial_loss", lambda k: np.log(k), fancy), "one at a time", "P[np.arange(N), y]"
    )
