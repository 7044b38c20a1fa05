"""Step 2, notebook 03 checkers: each passes right answers written two ways, reports a stub as not
attempted, and fails the typical mistakes with a message that names the cause."""

from __future__ import annotations

import numpy as np

from dl7.checks import evaluate
from tests.checking import expect_failed, stub


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ------------------------------------------------------------------------------ numerical_gradient


def good_gradient(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        step = np.zeros(x.shape)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def flat_gradient(f, x, h=1e-5):
    """Written differently: on a flat copy, nudging and restoring entries in place, reshaped at the end."""
    shape = np.shape(x)
    flat = np.asarray(x, dtype=float).ravel().copy()
    out = np.empty(flat.size)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + h
        plus = f(flat.reshape(shape))
        flat[k] = old - h
        minus = f(flat.reshape(shape))
        flat[k] = old
        out[k] = (plus - minus) / (2 * h)
    return out.reshape(shape)


def _variant(formula):
    def gradient(f, x, h=1e-5):
        x = np.array(x, dtype=float)
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            step = np.zeros(x.shape)
            step[i] = h
            grad[i] = formula(f, x, step, h)
        return grad

    return gradient


def test_numerical_gradient_passes_right_answers():
    assert evaluate("step2.numerical_gradient", good_gradient).status == "passed"
    assert evaluate("step2.numerical_gradient", flat_gradient).status == "passed"


def test_numerical_gradient_stub_is_not_attempted():
    assert evaluate("step2.numerical_gradient", stub).status == "not_attempted"


def test_numerical_gradient_forward_difference_fails():
    forward = _variant(lambda f, x, s, h: (f(x + s) - f(x)) / h)
    expect_failed(evaluate("step2.numerical_gradient", forward), "FORWARD difference", "[11.21, -3.85]")


def test_numerical_gradient_divides_by_h_fails():
    by_h = _variant(lambda f, x, s, h: (f(x + s) - f(x - s)) / h)
    expect_failed(evaluate("step2.numerical_gradient", by_h), "twice the slopes", "divide by 2h")


def test_numerical_gradient_precedence_slip_fails():
    slip = _variant(lambda f, x, s, h: (f(x + s) - f(x - s)) / 2 * h)
    expect_failed(evaluate("step2.numerical_gradient", slip), "`/ 2 * h`")


def test_numerical_gradient_ignoring_h_fails():
    def fixed_h(f, x, h=1e-5):
        return good_gradient(f, x)

    expect_failed(evaluate("step2.numerical_gradient", fixed_h), "ignore its `h` argument")


def test_numerical_gradient_moving_x_in_place_fails():
    def in_place(f, x, h=1e-5):
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            x[i] += h
            plus = f(x)
            x[i] -= 2 * h
            minus = f(x)
            grad[i] = (plus - minus) / (2 * h)
        return grad

    expect_failed(evaluate("step2.numerical_gradient", in_place), "changed the caller's x", "[1.5, -2.0]")


def test_numerical_gradient_list_fails():
    def as_list(f, x, h=1e-5):
        return list(good_gradient(f, x, h))

    expect_failed(evaluate("step2.numerical_gradient", as_list), "returned a list", "numpy array")


def test_numerical_gradient_flat_result_for_a_matrix_fails():
    def flattened(f, x, h=1e-5):
        return good_gradient(f, x, h).ravel()

    expect_failed(
        evaluate("step2.numerical_gradient", flattened), "shape (12,)", "expected (3, 4)", "np.ndindex"
    )


def test_numerical_gradient_integer_input_fails():
    def keeps_dtype(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            step = np.zeros_like(x)
            step[i] = h
            grad[i] = (f(x + step) - f(x - step)) / (2 * h)
        return grad

    expect_failed(
        evaluate("step2.numerical_gradient", keeps_dtype), "INTEGER array", "[12.0, 4.0]", "dtype=float"
    )


# ------------------------------------------------------------------------------ chain_rule


def good_neuron_grad(w, b, x, t):
    y = sigmoid(w * x + b)
    d = (y - t) * y * (1 - y)
    return np.array([d * x, d])


def other_neuron_grad(w, b, x, t):
    """Written differently: σ'(z) = e^-z / (1 + e^-z)², returned as a tuple."""
    z = w * x + b
    dy_dz = np.exp(-z) / (1 + np.exp(-z)) ** 2
    dL_dz = (sigmoid(z) - t) * dy_dz
    return (x * dL_dz, dL_dz)


def test_chain_rule_passes_right_answers():
    assert evaluate("step2.chain_rule", good_neuron_grad).status == "passed"
    assert evaluate("step2.chain_rule", other_neuron_grad).status == "passed"


def test_chain_rule_stub_is_not_attempted():
    assert evaluate("step2.chain_rule", stub).status == "not_attempted"


def test_chain_rule_missing_inner_derivative_fails():
    def no_inner(w, b, x, t):
        y = sigmoid(w * x + b)
        d = (y - t) * y * (1 - y)
        return np.array([d, d])

    expect_failed(
        evaluate("step2.chain_rule", no_inner), "neuron_grad(w=0.5", "inner derivative", "dz/dw = x"
    )


def test_chain_rule_missing_sigmoid_slope_fails():
    def no_slope(w, b, x, t):
        y = sigmoid(w * x + b)
        return np.array([(y - t) * x, y - t])

    expect_failed(evaluate("step2.chain_rule", no_slope), "slope σ'(z) = y(1 - y) is missing")


def test_chain_rule_sign_fails():
    def flipped(w, b, x, t):
        return -good_neuron_grad(w, b, x, t)

    expect_failed(evaluate("step2.chain_rule", flipped), "sign is flipped")


def test_chain_rule_slope_at_w_fails():
    def slope_at_w(w, b, x, t):
        y = sigmoid(w * x + b)
        d = (y - t) * w * (1 - w)
        return np.array([d * x, d])

    expect_failed(evaluate("step2.chain_rule", slope_at_w), "not at w")


def test_chain_rule_one_number_fails():
    expect_failed(
        evaluate("step2.chain_rule", lambda w, b, x, t: good_neuron_grad(w, b, x, t)[0]), "expected 2"
    )


# ------------------------------------------------------------------------------ total_derivative


def good_dy_dw(w, x):
    h = sigmoid(w * x)
    return h + w * h * (1 - h) * x


def other_dy_dw(w, x):
    """Written differently: the product rule, factored."""
    s = sigmoid(w * x)
    return float(s * (1 + w * x * (1 - s)))


def test_total_derivative_passes_right_answers():
    assert evaluate("step2.total_derivative", good_dy_dw).status == "passed"
    assert evaluate("step2.total_derivative", other_dy_dw).status == "passed"


def test_total_derivative_stub_is_not_attempted():
    assert evaluate("step2.total_derivative", stub).status == "not_attempted"


def test_total_derivative_direct_path_only_fails():
    expect_failed(
        evaluate("step2.total_derivative", lambda w, x: sigmoid(w * x)),
        "dy_dw(w=0.8, x=1.5) returned 0.768525",
        "w also changes h",
    )


def test_total_derivative_path_through_h_only_fails():
    def through_h(w, x):
        h = sigmoid(w * x)
        return w * h * (1 - h) * x

    expect_failed(evaluate("step2.total_derivative", through_h), "only the path through h")


def test_total_derivative_multiplied_paths_fail():
    def times(w, x):
        h = sigmoid(w * x)
        return h * (w * h * (1 - h) * x)

    expect_failed(evaluate("step2.total_derivative", times), "the paths ADD")


def test_total_derivative_missing_inner_derivative_fails():
    def no_x(w, x):
        h = sigmoid(w * x)
        return h + w * h * (1 - h)

    expect_failed(evaluate("step2.total_derivative", no_x), "inner derivative")


# ------------------------------------------------------------------------------ critical_rate


def good_rate(M):
    S = 0.5 * (M + M.T)
    return 2.0 / np.linalg.eigvalsh(S)[-1]


def norm_rate(M):
    """Written differently: the spectral norm of a positive definite S is its largest eigenvalue."""
    return 2 / np.linalg.norm((M + M.T) / 2, 2)


def test_critical_rate_passes_right_answers():
    assert evaluate("step2.critical_rate", good_rate).status == "passed"
    assert evaluate("step2.critical_rate", norm_rate).status == "passed"


def test_critical_rate_stub_is_not_attempted():
    assert evaluate("step2.critical_rate", stub).status == "not_attempted"


def test_critical_rate_one_over_l_fails():
    expect_failed(
        evaluate("step2.critical_rate", lambda M: 0.5 * good_rate(M)),
        "returned 0.285714",
        "lr = 0.3 still converges",
    )


def test_critical_rate_smallest_eigenvalue_fails():
    def flattest(M):
        return 2.0 / np.linalg.eigvalsh(0.5 * (M + M.T))[0]

    expect_failed(evaluate("step2.critical_rate", flattest), "returned 4", "diverges", "flattest direction")


def test_critical_rate_eigvalsh_of_nonsymmetric_m_fails():
    def lower(M):
        return 2.0 / np.linalg.eigvalsh(M)[-1]

    expect_failed(evaluate("step2.critical_rate", lower), "NON-symmetric", "LOWER triangle", "½(M + Mᵀ)")


def test_critical_rate_eig_of_m_fails():
    def eig_real(M):
        return 2.0 / np.max(np.linalg.eig(M)[0].real)

    expect_failed(evaluate("step2.critical_rate", eig_real), "eigenvalues of M itself")


def test_critical_rate_complex_answer_fails():
    def eig_complex(M):
        lam = np.linalg.eig(M)[0].astype(complex)
        return 2.0 / lam[np.argmax(lam.real)]

    expect_failed(evaluate("step2.critical_rate", eig_complex), "complex number")


def test_critical_rate_diagonal_fails():
    expect_failed(evaluate("step2.critical_rate", lambda M: 2.0 / np.max(np.diag(M))), "diagonal of M")


def test_critical_rate_changing_m_fails():
    def in_place(M):
        M += M.T
        M /= 2
        return 2.0 / np.linalg.eigvalsh(M)[-1]

    expect_failed(evaluate("step2.critical_rate", in_place), "changed M in place")


# -- a difference quotient is not the chain rule ---------------------------------------------


def _neuron_loss(w: float, b: float, x: float, t: float) -> float:
    return 0.5 * (1 / (1 + np.exp(-(w * x + b))) - t) ** 2


def test_chain_rule_by_difference_quotients_is_not_the_formula() -> None:
    def numeric(w: float, b: float, x: float, t: float) -> list[float]:
        h = 1e-5
        return [
            (_neuron_loss(w + h, b, x, t) - _neuron_loss(w - h, b, x, t)) / (2 * h),
            (_neuron_loss(w, b + h, x, t) - _neuron_loss(w, b - h, x, t)) / (2 * h),
        ]

    expect_failed(evaluate("step2.chain_rule", numeric), "error of a difference quotient", "chain rule")


def test_total_derivative_by_a_difference_quotient_is_not_the_formula() -> None:
    def numeric(w: float, x: float) -> float:
        def y(v: float) -> float:
            return v / (1 + np.exp(-v * x))

        return (y(w + 1e-5) - y(w - 1e-5)) / 2e-5

    expect_failed(evaluate("step2.total_derivative", numeric), "error of a difference quotient")
