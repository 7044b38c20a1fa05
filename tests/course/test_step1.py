"""Step 1 checkers: each passes a right answer, fails typical mistakes with a useful message,
and reports a stub as not attempted."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub
from tests.course import course

separable_data = course("step1").separable_data

# ------------------------------------------------------------------------------ predict


def good_predict(w, b, X):
    return np.array([1 if float(np.dot(w, x)) + b > 0 else 0 for x in np.asarray(X)])


def test_predict_passes_a_right_answer():
    r = evaluate("step1.perceptron_predict", good_predict)
    assert r.status == "passed", r


def test_predict_stub_is_not_attempted():
    assert evaluate("step1.perceptron_predict", stub).status == "not_attempted"


def test_predict_firing_at_zero_fails_at_the_boundary():
    r = evaluate("step1.perceptron_predict", lambda w, b, X: (X @ w + b >= 0).astype(int))
    expect_failed(r, "exactly 0", "> 0")


def test_predict_without_bias_fails():
    r = evaluate("step1.perceptron_predict", lambda w, b, X: (X @ w > 0).astype(int))
    expect_failed(r, "Nielsen's NAND", "add the bias")


def test_predict_returning_the_sign_fails():
    r = evaluate("step1.perceptron_predict", lambda w, b, X: np.where(X @ w + b > 0, 1, -1))
    expect_failed(r, "contains -1", "0 or 1")


def test_predict_column_vector_fails_with_shape_message():
    r = evaluate("step1.perceptron_predict", lambda w, b, X: (X @ w + b > 0).astype(int)[:, None])
    expect_failed(r, "shape (4, 1)", "expected (4,)", "ravel")


def test_predict_assuming_two_inputs_does_not_pass():
    def two_inputs(w, b, X):
        return (w[0] * X[:, 0] + w[1] * X[:, 1] + b > 0).astype(int)

    assert evaluate("step1.perceptron_predict", two_inputs).status in ("failed", "error")


def test_predict_returning_none_fails():
    expect_failed(evaluate("step1.perceptron_predict", lambda w, b, X: None), "forget a `return`")


# ------------------------------------------------------------------------------ train_perceptron


def make_train(
    *, sign=1.0, update_bias=True, early_stop=True, record_last=True, use_lr=True, lr_on_w=True, lr_on_b=True
):
    """A perceptron trainer, right by default; each flag switches on one typical mistake."""

    def train(X, y, epochs=100, lr=1.0):
        X = np.asarray(X, dtype=float)
        step = lr if use_lr else 1.0
        step_w, step_b = step if lr_on_w else 1.0, step if lr_on_b else 1.0
        w, b, mistakes = np.zeros(X.shape[1]), 0.0, []
        for _ in range(epochs):
            wrong = 0
            for x, t in zip(X, y, strict=True):
                err = t - (1 if x @ w + b > 0 else 0)
                if err:
                    w = w + sign * step_w * err * x
                    if update_bias:
                        b = b + sign * step_b * err
                    wrong += 1
            if wrong == 0 and early_stop:
                if record_last:
                    mistakes.append(0)
                break
            mistakes.append(wrong)
        return w, b, mistakes

    return train


def test_train_passes_a_right_answer():
    r = evaluate("step1.perceptron_train", make_train())
    assert r.status == "passed", r
    assert "AND learned in" in r.message


def test_train_stub_is_not_attempted():
    assert evaluate("step1.perceptron_train", stub).status == "not_attempted"


def test_train_with_reversed_update_fails():
    expect_failed(evaluate("step1.perceptron_train", make_train(sign=-1.0)), "AND", "sign of the update")


def test_train_without_bias_update_fails():
    expect_failed(evaluate("step1.perceptron_train", make_train(update_bias=False)), "AND", "update b")


def test_train_without_early_stop_fails():
    r = evaluate("step1.perceptron_train", make_train(early_stop=False))
    expect_failed(r, "stop right after the first epoch with no mistakes")


def test_train_not_recording_the_final_zero_fails():
    r = evaluate("step1.perceptron_train", make_train(record_last=False))
    expect_failed(r, "ends with", "record that epoch's 0")


def test_train_ignoring_lr_fails():
    expect_failed(evaluate("step1.perceptron_train", make_train(use_lr=False)), "scale every update by lr")


def test_train_without_lr_on_the_bias_update_fails():
    # Its mistake counts differ from the lr = 1 run's, which once let it pass without a word.
    r = evaluate("step1.perceptron_train", make_train(lr_on_b=False))
    expect_failed(
        r, "lr=0.5", "b = -2", "the rule gives", "b = -1", "bias update leaves out the learning rate"
    )


def test_train_without_lr_on_the_weight_update_fails():
    r = evaluate("step1.perceptron_train", make_train(lr_on_w=False))
    expect_failed(r, "lr=0.5", "the rule gives", "weight update leaves out the learning rate")


def test_train_with_lr_written_as_a_division_passes():
    # A different but exact form of the rule: dividing by 1 / lr is multiplying by lr.
    def divided(X, y, epochs=100, lr=1.0):
        X = np.asarray(X, dtype=float)
        w, b, mistakes = np.zeros(X.shape[1]), 0.0, []
        for _ in range(epochs):
            wrong = 0
            for x, t in zip(X, y, strict=True):
                err = int(t) - int(x @ w + b > 0)
                if err:
                    w, b, wrong = w + err * x / (1 / lr), b + err / (1 / lr), wrong + 1
            mistakes.append(wrong)
            if not wrong:
                break
        return w, b, mistakes

    assert evaluate("step1.perceptron_train", divided).status == "passed"


def test_train_giving_up_on_xor_fails():
    right = make_train()

    def impatient(X, y, epochs=100, lr=1.0):
        return right(X, y, epochs=min(epochs, 10), lr=lr)

    expect_failed(evaluate("step1.perceptron_train", impatient), "XOR", "all 25 epochs")


def test_train_returning_two_values_fails():
    right = make_train()

    def two(X, y, epochs=100, lr=1.0):
        return right(X, y, epochs, lr)[:2]

    expect_failed(evaluate("step1.perceptron_train", two), "2 values", "(w, b, mistakes)")


def test_train_assuming_two_features_does_not_pass():
    def two_features(X, y, epochs=100, lr=1.0):
        w, b, mistakes = np.zeros(2), 0.0, []
        for _ in range(epochs):
            wrong = 0
            for x, t in zip(X, y, strict=True):
                err = t - (1 if w[0] * x[0] + w[1] * x[1] + b > 0 else 0)
                if err:
                    w, b, wrong = w + lr * err * x[:2], b + lr * err, wrong + 1
            mistakes.append(wrong)
            if wrong == 0:
                break
        return w, b, mistakes

    r = evaluate("step1.perceptron_train", two_features)
    assert r.status == "failed", r
    assert "3 features" in r.message or "shape" in r.message, r.message


@pytest.mark.parametrize(("n", "d"), [(30, 2), (40, 3), (60, 5)])
def test_separable_data_is_separable_with_both_classes(n, d):
    X, y = separable_data(np.random.default_rng(0), n, d)
    assert X.shape == (n, d) and y.shape == (n,)
    assert 0 < y.sum() < n
    _, _, mistakes = make_train()(X, y, epochs=500)
    assert mistakes[-1] == 0


# ------------------------------------------------------------------------------ unlearnable tables


def good_unlearnable(X, epochs=50):
    train = make_train()
    return [
        labels
        for labels in itertools.product([0, 1], repeat=len(X))
        if train(X, np.array(labels), epochs=epochs)[2][-1] != 0
    ]


def test_unlearnable_passes_a_right_answer():
    r = evaluate("step1.xor_limits", good_unlearnable)
    assert r.status == "passed", r
    assert "152" in r.message


def test_unlearnable_accepts_arrays_as_entries():
    r = evaluate("step1.xor_limits", lambda X, epochs=50: [np.array(t) for t in good_unlearnable(X, epochs)])
    assert r.status == "passed", r


def test_unlearnable_stub_is_not_attempted():
    assert evaluate("step1.xor_limits", stub).status == "not_attempted"


def test_unlearnable_hard_coded_answer_fails_on_three_inputs():
    r = evaluate("step1.xor_limits", lambda X, epochs=50: [(0, 1, 1, 0), (1, 0, 0, 1)])
    expect_failed(r, "three-input rows", "(0, 1, 1, 0)", "8 values", "from len(X)")


def test_unlearnable_missing_three_input_tables_fails_with_the_count():
    r = evaluate("step1.xor_limits", lambda X, epochs=50: good_unlearnable(X, epochs)[:2])
    expect_failed(r, "found 2 unlearnable tables", "exactly 104", "152 should be", "2**len(X)")


def test_unlearnable_missing_xnor_fails():
    r = evaluate("step1.xor_limits", lambda X, epochs=50: good_unlearnable(X, epochs)[:1])
    expect_failed(r, "misses one more", "1 - y")


def test_unlearnable_with_too_few_epochs_lists_learnable_tables():
    r = evaluate("step1.xor_limits", lambda X, epochs=50: good_unlearnable(X, epochs=1))
    expect_failed(r, "a single perceptron computes that truth table")


def test_unlearnable_duplicates_fail():
    r = evaluate("step1.xor_limits", lambda X, epochs=50: good_unlearnable(X, epochs) * 2)
    expect_failed(r, "more than once")


def test_unlearnable_returning_none_fails():
    expect_failed(evaluate("step1.xor_limits", lambda X, epochs=50: None), "forget a `return`")


# ------------------------------------------------------------------------------ XOR network

OR_NAND_AND = (
    np.array([[1.0, 1.0], [-2.0, -2.0]]),
    np.array([-0.5, 3.0]),
    np.array([1.0, 1.0]),
    -1.5,
)


def test_xor_network_passes_a_right_answer():
    r = evaluate("step1.xor_network", lambda: OR_NAND_AND)
    assert r.status == "passed", r


def test_xor_network_with_three_hidden_units_passes():
    # hidden: x1 AND NOT x2, x2 AND NOT x1, a unit that is always off; output: OR of the first two
    W1 = np.array([[1.0, -1.0], [-1.0, 1.0], [0.0, 0.0]])
    r = evaluate(
        "step1.xor_network", lambda: (W1, np.array([-0.5, -0.5, -1.0]), np.array([1.0, 1.0, 5.0]), -0.5)
    )
    assert r.status == "passed", r


def test_xor_network_stub_is_not_attempted():
    assert evaluate("step1.xor_network", stub).status == "not_attempted"


def test_xor_network_computing_and_fails():
    W1, _, w2, b2 = OR_NAND_AND
    r = evaluate("step1.xor_network", lambda: (W1, np.array([-1.5, 3.0]), w2, b2))  # hidden AND, NAND
    expect_failed(r, "XOR needs", "hidden layer outputs")


def test_xor_network_transposed_w1_fails_with_shape_message():
    W1 = np.ones((2, 3))
    r = evaluate("step1.xor_network", lambda: (W1, np.zeros(3), np.zeros(3), 0.0))
    expect_failed(r, "(2, 3)", "expected (h, 2)")


def test_xor_network_wrong_number_of_values_fails():
    expect_failed(evaluate("step1.xor_network", lambda: OR_NAND_AND[:3]), "four values")


# ------------------------------------------------------------------------------ sigmoid neuron


def good_sigmoid_neuron(w, b, X):
    return np.array([1.0 / (1.0 + np.exp(-(float(np.dot(w, x)) + b))) for x in np.asarray(X)])


def test_sigmoid_neuron_passes_a_right_answer():
    assert evaluate("step1.sigmoid_neuron", good_sigmoid_neuron).status == "passed"


def test_sigmoid_neuron_stub_is_not_attempted():
    assert evaluate("step1.sigmoid_neuron", stub).status == "not_attempted"


def test_sigmoid_neuron_step_fails():
    r = evaluate("step1.sigmoid_neuron", lambda w, b, X: (X @ w + b > 0).astype(float))
    expect_failed(r, "perceptron's step")


def test_sigmoid_neuron_wrong_sign_fails():
    r = evaluate("step1.sigmoid_neuron", lambda w, b, X: 1.0 / (1.0 + np.exp(X @ w + b)))
    expect_failed(r, "σ(−(w·x + b))")


def test_sigmoid_neuron_without_bias_fails():
    r = evaluate("step1.sigmoid_neuron", lambda w, b, X: 1.0 / (1.0 + np.exp(-(X @ w))))
    expect_failed(r, "add the bias")


def test_sigmoid_neuron_column_vector_fails():
    r = evaluate("step1.sigmoid_neuron", lambda w, b, X: good_sigmoid_neuron(w, b, X)[:, None])
    expect_failed(r, "expected (4,)")


def test_sigmoid_neuron_tanh_fails_with_expected_value():
    r = evaluate("step1.sigmoid_neuron", lambda w, b, X: np.tanh(X @ w + b))
    expect_failed(r, "-0.7616", "lies between 0 and 1")


# ------------------------------------------------------------------------------ feedforward


def sigma(z):
    return 1.0 / (1.0 + np.exp(-z))


def good_feedforward(weights, biases, a):
    if not weights:
        return np.asarray(a, dtype=float)
    return good_feedforward(weights[1:], biases[1:], sigma(weights[0] @ a + biases[0]))


def test_feedforward_passes_a_right_answer():
    assert evaluate("step1.feedforward", good_feedforward).status == "passed"


def test_feedforward_stub_is_not_attempted():
    assert evaluate("step1.feedforward", stub).status == "not_attempted"


def test_feedforward_without_final_sigmoid_fails():
    def linear_output(weights, biases, a):
        for W, b in zip(weights[:-1], biases[:-1], strict=True):
            a = sigma(W @ a + b)
        return weights[-1] @ a + biases[-1]

    expect_failed(evaluate("step1.feedforward", linear_output), "one layer computes σ(W a + b)")


def test_feedforward_squashing_the_input_fails():
    def squashed_input(weights, biases, a):
        return good_feedforward(weights, biases, sigma(a))

    expect_failed(evaluate("step1.feedforward", squashed_input), "[W of shape (3, 2)]", "σ(W a + b)")


def test_feedforward_skipping_the_last_layer_fails_on_zero_weights():
    def all_but_last(weights, biases, a):
        return (
            good_feedforward(weights[:-1], biases[:-1], a)
            if len(weights) > 1
            else sigma(weights[0] @ a + biases[0])
        )

    expect_failed(evaluate("step1.feedforward", all_but_last), "expected (1,)", "last layer only")


def test_feedforward_transposed_weights_does_not_pass():
    def transposed(weights, biases, a):
        for W, b in zip(weights, biases, strict=True):
            a = sigma(W.T @ a + b)
        return a

    assert evaluate("step1.feedforward", transposed).status in ("failed", "error")


def test_feedforward_returning_every_layer_fails():
    def every_layer(weights, biases, a):
        out = []
        for W, b in zip(weights, biases, strict=True):
            a = sigma(W @ a + b)
            out.append(a)
        return np.concatenate(out)

    expect_failed(evaluate("step1.feedforward", every_layer), "last layer only")


def test_feedforward_only_first_layer_fails():
    r = evaluate("step1.feedforward", lambda weights, biases, a: sigma(weights[0] @ a + biases[0]))
    assert r.status == "failed", r


# ------------------------------------------------------------------------------ binary output layer

BITS = np.array([[(d >> j) & 1 for d in range(10)] for j in range(4)])  # (4, 10)


def test_binary_layer_passes_a_right_answer():
    r = evaluate("step1.binary_output_layer", lambda: (np.where(BITS == 1, 10.0, -10.0), np.zeros(4)))
    assert r.status == "passed", r


def test_binary_layer_with_bias_passes():
    r = evaluate("step1.binary_output_layer", lambda: (20.0 * BITS, np.full(4, -10.0)))
    assert r.status == "passed", r


def test_binary_layer_stub_is_not_attempted():
    assert evaluate("step1.binary_output_layer", stub).status == "not_attempted"


def test_binary_layer_reversed_bits_fail():
    r = evaluate("step1.binary_output_layer", lambda: (np.where(BITS[::-1] == 1, 10.0, -10.0), np.zeros(4)))
    expect_failed(r, "reverse order")


def test_binary_layer_too_close_to_the_edge_fails():
    # Fires for a perfect one-hot activation (z = 0.005) but not when the right digit is only 0.99.
    r = evaluate("step1.binary_output_layer", lambda: (BITS.astype(float), np.full(4, -0.995)))
    expect_failed(r, "works on a perfect one-hot", "wrong side of 0.5")


def test_binary_layer_wrong_shape_fails():
    r = evaluate("step1.binary_output_layer", lambda: (np.zeros((10, 4)), np.zeros(4)))
    expect_failed(r, "(10, 4)", "expected (4, 10)")


def test_binary_layer_wrong_bits_fail():
    r = evaluate("step1.binary_output_layer", lambda: (np.full((4, 10), -10.0), np.zeros(4)))
    expect_failed(r, "for digit 1", "expected (1, 0, 0, 0)")


# ------------------------------------------------------------------------------ known mistakes (issue 11)


def test_train_visiting_rows_in_a_random_order_fails():
    def shuffled(X, y, epochs=100, lr=1.0):
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        rng = np.random.default_rng(1)
        w, b, mistakes = np.zeros(X.shape[1]), 0.0, []
        for _ in range(epochs):
            wrong = 0
            for i in rng.permutation(len(X)):
                err = y[i] - int(X[i] @ w + b > 0)
                if err:
                    w, b, wrong = w + lr * err * X[i], b + lr * err, wrong + 1
            mistakes.append(wrong)
            if wrong == 0:
                break
        return w, b, mistakes

    expect_failed(evaluate("step1.perceptron_train", shuffled), "visited in order", "no shuffling")


def test_train_starting_from_random_weights_fails():
    right = make_train()

    def from_random(X, y, epochs=100, lr=1.0):
        X = np.asarray(X, dtype=float)
        w = np.random.default_rng(0).normal(size=X.shape[1])
        b, mistakes = 0.0, []
        for _ in range(epochs):
            wrong = 0
            for x, t in zip(X, y, strict=True):
                err = t - int(x @ w + b > 0)
                if err:
                    w, b, wrong = w + lr * err * x, b + lr * err, wrong + 1
            mistakes.append(wrong)
            if wrong == 0:
                break
        return w, b, mistakes

    assert right is not None
    expect_failed(evaluate("step1.perceptron_train", from_random), "start from zero")


def test_train_written_with_indices_and_a_while_loop_passes():
    def indexed(X, y, epochs=100, lr=1.0):
        X = np.asarray(X, dtype=float)
        w, b, mistakes, epoch = np.zeros(X.shape[1]), 0.0, [], 0
        while epoch < epochs:
            wrong = 0
            for i in range(len(X)):
                y_hat = 1 if np.dot(w, X[i]) + b > 0 else 0
                if y_hat != y[i]:
                    w += lr * (y[i] - y_hat) * X[i]
                    b += lr * (y[i] - y_hat)
                    wrong += 1
            mistakes.append(wrong)
            epoch += 1
            if not wrong:
                break
        return w, b, mistakes

    assert evaluate("step1.perceptron_train", indexed).status == "passed"


def test_sigmoid_neuron_precedence_slip_is_named():
    r = evaluate("step1.sigmoid_neuron", lambda w, b, X: 1 / 1 + np.exp(-(X @ w + b)))
    expect_failed(r, "values above 1", "1 / (1 + exp(-z))")


def test_sigmoid_neuron_written_with_tanh_identity_passes():
    r = evaluate("step1.sigmoid_neuron", lambda w, b, X: 0.5 * (1 + np.tanh((X @ w + b) / 2)))
    assert r.status == "passed", r


def test_binary_layer_with_weights_0_or_1_and_no_bias_fails():
    bits = (np.arange(10)[None, :] >> np.arange(4)[:, None]) & 1
    r = evaluate("step1.binary_output_layer", lambda: (bits.astype(float), np.zeros(4)))
    assert r.status == "failed", r


def test_binary_layer_weak_but_sufficient_weights_pass():
    # The text reads "above 0.5 means 1": weights of ±1 are enough when the wrong digits stay below 0.01.
    bits = (np.arange(10)[None, :] >> np.arange(4)[:, None]) & 1
    r = evaluate("step1.binary_output_layer", lambda: (np.where(bits == 1, 1.0, -1.0), np.zeros(4)))
    assert r.status == "passed", r
