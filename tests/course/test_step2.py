"""Step 2 checkers: each passes a right answer, fails typical mistakes with a useful message,
and reports a stub as not attempted."""

from __future__ import annotations

import numpy as np
import pytest

from dl7.checks import evaluate
from tests.checking import expect_failed, stub

# ------------------------------------------------------------------------------ matvec


def good_matvec(A, x):
    A, x = np.asarray(A, float), np.asarray(x, float)
    if A.shape[1] != x.shape[0]:
        raise ValueError("shape mismatch")
    return np.array([sum(A[i, j] * x[j] for j in range(A.shape[1])) for i in range(A.shape[0])])


def test_matvec_passes_a_right_answer():
    assert evaluate("step2.matvec", good_matvec).status == "passed"


def test_matvec_stub_is_not_attempted():
    assert evaluate("step2.matvec", stub).status == "not_attempted"


def test_matvec_elementwise_product_fails_with_shape_message():
    expect_failed(evaluate("step2.matvec", lambda A, x: A * x), "expected (3,)", "SUM over one row")


def test_matvec_summing_columns_fails():
    def by_columns(A, x):  # loops over len(x) on the wrong axis
        return np.array(
            [sum(A[j, i] * x[j] for j in range(min(len(x), A.shape[0]))) for i in range(A.shape[0])]
        )

    r = evaluate("step2.matvec", by_columns)
    assert r.status in ("failed", "error"), r
    assert r.status == "error" or "expected" in r.message


def test_matvec_without_shape_check_fails():
    def loose(A, x):  # silently uses only the first len(x) columns
        return np.array([sum(A[i, j] * x[j] for j in range(len(x))) for i in range(A.shape[0])])

    expect_failed(evaluate("step2.matvec", loose), "expected ValueError", "4 columns but x has 3")


def test_matvec_wrong_exception_kind_fails():
    def raises_index_error(A, x):
        if A.shape[1] != len(x):
            raise IndexError("bad")
        return A @ x

    expect_failed(evaluate("step2.matvec", raises_index_error), "raised IndexError", "expected ValueError")


# ------------------------------------------------------------------------------ matmul


def good_matmul(A, B):
    A, B = np.asarray(A, float), np.asarray(B, float)
    if A.shape[1] != B.shape[0]:
        raise ValueError("inner dimensions differ")
    C = np.zeros((A.shape[0], B.shape[1]))
    for i in range(A.shape[0]):
        for j in range(B.shape[1]):
            C[i, j] = A[i, :] @ B[:, j]
    return C


def test_matmul_passes_a_right_answer():
    assert evaluate("step2.matmul", good_matmul).status == "passed"


def test_matmul_stub_is_not_attempted():
    assert evaluate("step2.matmul", stub).status == "not_attempted"


def test_matmul_transposed_result_fails():
    expect_failed(evaluate("step2.matmul", lambda A, B: good_matmul(A, B).T), "transposed")


def test_matmul_elementwise_on_square_fails():
    def elementwise_when_square(A, B):
        return A * B if A.shape == B.shape else good_matmul(A, B)

    expect_failed(evaluate("step2.matmul", elementwise_when_square), "element-wise")


def test_matmul_elementwise_on_compatible_shapes_fails():
    expect_failed(
        evaluate("step2.matmul", lambda A, B: A * B), "raised ValueError", "these shapes fit", "`*`"
    )


def test_matvec_broadcast_error_on_compatible_shapes_fails():
    expect_failed(evaluate("step2.matvec", lambda A, x: (A * x).sum(axis=0)), "expected (3,)")


def test_matmul_wrong_index_fails():
    def wrong_index(A, B):  # pairs row i of A with ROW j of B where it can
        C = good_matmul(A, B)
        if A.shape == B.shape:
            C = np.array([[A[i] @ B[j] for j in range(B.shape[1])] for i in range(A.shape[0])])
        return C

    expect_failed(evaluate("step2.matmul", wrong_index), "off at index", "row i of A with column j of B")


def test_matmul_without_shape_check_fails():
    def loose(A, B):
        k = min(A.shape[1], B.shape[0])
        return A[:, :k] @ B[:k, :]

    expect_failed(evaluate("step2.matmul", loose), "expected ValueError", "3 columns but B has 2 rows")


# ------------------------------------------------------------------------------ transpose


def good_transpose(A):
    A = np.asarray(A)
    return np.array([[A[i, j] for i in range(A.shape[0])] for j in range(A.shape[1])])


def test_transpose_passes_a_right_answer():
    assert evaluate("step2.transpose", good_transpose).status == "passed"


def test_transpose_stub_is_not_attempted():
    assert evaluate("step2.transpose", stub).status == "not_attempted"


def test_transpose_reshape_fails():
    expect_failed(evaluate("step2.transpose", lambda A: A.reshape(A.shape[1], A.shape[0])), "reshape")


def test_transpose_identity_fails():
    expect_failed(evaluate("step2.transpose", lambda A: A), "expected (3, 2)")


# ------------------------------------------------------------------------------ center_columns


def test_center_columns_passes_a_right_answer():
    assert evaluate("step2.center_columns", lambda X: X - X.mean(axis=0)).status == "passed"


def test_center_columns_stub_is_not_attempted():
    assert evaluate("step2.center_columns", stub).status == "not_attempted"


def test_center_columns_wrong_axis_fails():
    expect_failed(evaluate("step2.center_columns", lambda X: X - X.mean(axis=1)), "which axis")


def test_center_columns_rows_centred_fails():
    expect_failed(
        evaluate("step2.center_columns", lambda X: X - X.mean(axis=1, keepdims=True)), "every ROW", "axis=0"
    )


def test_center_columns_overall_mean_fails():
    expect_failed(evaluate("step2.center_columns", lambda X: X - X.mean()), "one overall mean")


def test_center_columns_in_place_fails():
    def in_place(X):
        X -= X.mean(axis=0)
        return X

    expect_failed(evaluate("step2.center_columns", in_place), "in place")


def test_center_columns_standardising_fails():
    expect_failed(
        evaluate("step2.center_columns", lambda X: (X - X.mean(axis=0)) / X.std(axis=0)), "not just shifted"
    )


# ------------------------------------------------------------------------------ central difference


def good_derivative(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_central_difference_passes_a_right_answer():
    r = evaluate("step2.central_difference", good_derivative)
    assert r.status == "passed", r
    assert "slope 2.0" in r.message


def test_central_difference_stub_is_not_attempted():
    assert evaluate("step2.central_difference", stub).status == "not_attempted"


def test_forward_difference_fails():
    expect_failed(evaluate("step2.central_difference", lambda f, x, h=1e-5: (f(x + h) - f(x)) / h), "FORWARD")


def test_backward_difference_fails():
    expect_failed(
        evaluate("step2.central_difference", lambda f, x, h=1e-5: (f(x) - f(x - h)) / h), "BACKWARD"
    )


def test_dividing_by_h_fails():
    expect_failed(
        evaluate("step2.central_difference", lambda f, x, h=1e-5: (f(x + h) - f(x - h)) / h), "divide by 2h"
    )


def test_ignoring_h_fails():
    expect_failed(
        evaluate("step2.central_difference", lambda f, x, h=1e-5: good_derivative(f, x)), "ignore its `h`"
    )


def test_too_small_default_h_fails():
    r = evaluate("step2.central_difference", lambda f, x, h=1e-13: good_derivative(f, x, h))
    expect_failed(r, "default h")


# ------------------------------------------------------------------------------ sigmoid


def good_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def test_sigmoid_passes_a_right_answer():
    assert evaluate("step2.sigmoid", good_sigmoid).status == "passed"


def test_sigmoid_via_tanh_passes():
    assert evaluate("step2.sigmoid", lambda x: 0.5 * (1 + np.tanh(np.asarray(x) / 2))).status == "passed"


def test_sigmoid_stub_is_not_attempted():
    assert evaluate("step2.sigmoid", stub).status == "not_attempted"


def test_sigmoid_sign_flipped_fails():
    expect_failed(evaluate("step2.sigmoid", lambda x: 1 / (1 + np.exp(x))), "sign inside exp")


def test_sigmoid_with_math_exp_fails():
    import math

    expect_failed(evaluate("step2.sigmoid", lambda x: 1 / (1 + math.exp(-x))), "np.exp")


def test_sigmoid_wrong_formula_fails():
    expect_failed(
        evaluate("step2.sigmoid", lambda x: 1 / (1 + np.exp(-2 * x))), "sigmoid(-5)", "expected 0.00669"
    )


def test_sigmoid_flattening_fails():
    expect_failed(evaluate("step2.sigmoid", lambda x: good_sigmoid(np.ravel(x))), "expected (4, 6)")


# ------------------------------------------------------------------------------ sigmoid_prime


def test_sigmoid_prime_passes_a_right_answer():
    r = evaluate("step2.sigmoid_prime", lambda x: good_sigmoid(x) * (1 - good_sigmoid(x)))
    assert r.status == "passed", r


def test_sigmoid_prime_stub_is_not_attempted():
    assert evaluate("step2.sigmoid_prime", stub).status == "not_attempted"


def test_sigmoid_prime_on_x_fails():
    expect_failed(evaluate("step2.sigmoid_prime", lambda x: x * (1 - x)), "expected 0.25", "not to x")


def test_sigmoid_prime_plus_fails():
    expect_failed(evaluate("step2.sigmoid_prime", lambda x: good_sigmoid(x) * (1 + good_sigmoid(x))), "MINUS")


def test_sigmoid_prime_sigma_only_fails():
    expect_failed(evaluate("step2.sigmoid_prime", good_sigmoid), "expected 0.25")


def test_sigmoid_prime_constant_fails():
    expect_failed(
        evaluate("step2.sigmoid_prime", lambda x: 0.25 + 0 * good_sigmoid(x)), "numerical derivative"
    )


# ------------------------------------------------------------------------------ stable_sigmoid


def good_stable_sigmoid(x):
    x = np.asarray(x, dtype=float)
    z = np.exp(-np.abs(x))  # never overflows: the exponent is <= 0
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def masked_stable_sigmoid(x):
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    ez = np.exp(x[~pos])
    out[~pos] = ez / (1 + ez)
    return out


@pytest.mark.parametrize("fn", [good_stable_sigmoid, masked_stable_sigmoid])
def test_stable_sigmoid_passes_right_answers(fn):
    r = evaluate("step2.stable_sigmoid", fn)
    assert r.status == "passed", r


def test_stable_sigmoid_stub_is_not_attempted():
    assert evaluate("step2.stable_sigmoid", stub).status == "not_attempted"


def test_naive_sigmoid_overflows_and_fails():
    r = evaluate("step2.stable_sigmoid", good_sigmoid)
    expect_failed(r, "overflowed", "stable_sigmoid(-1000.0)", "numbers ≤ 0")
    assert "np.where" not in r.message  # the note is only for code that uses np.where


def test_np_where_on_both_branches_fails():
    def where_both(x):
        x = np.asarray(x, dtype=float)
        return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))

    expect_failed(evaluate("step2.stable_sigmoid", where_both), "overflowed", "np.where")


def test_clipping_loses_precision_and_fails():
    expect_failed(
        evaluate("step2.stable_sigmoid", lambda x: good_sigmoid(np.clip(x, -20, 20))),
        "stable_sigmoid(-1000.0)",
        "expected 0",
        "clipping",
    )


def test_one_minus_trick_is_exact_to_1e_16_and_passes():
    # 1 - σ(|x|) loses σ(−30)'s relative precision but not its absolute accuracy, which is all
    # the text asks for; it never overflows.
    def one_minus(x):
        x = np.asarray(x, dtype=float)
        pos = 1 / (1 + np.exp(-np.abs(x)))
        return np.where(x >= 0, pos, 1 - pos)

    assert evaluate("step2.stable_sigmoid", one_minus).status == "passed"


def test_tanh_form_passes():
    r = evaluate("step2.stable_sigmoid", lambda x: 0.5 * (1 + np.tanh(np.asarray(x, dtype=float) / 2)))
    assert r.status == "passed", r


def test_clipping_fails_at_the_extremes():
    def clipped(x):
        return 1 / (1 + np.exp(-np.clip(np.asarray(x, dtype=float), -30, 30)))

    expect_failed(evaluate("step2.stable_sigmoid", clipped), "stable_sigmoid(-1000.0)", "clipping x")


def test_sigmoid_precedence_slip_is_named():
    expect_failed(evaluate("step2.sigmoid", lambda x: 1.0 / 1.0 + np.exp(-x)), "1 / (1 + np.exp(-x))")


def test_central_difference_precedence_slip_is_named():
    r = evaluate("step2.central_difference", lambda f, x, h=1e-5: (f(x + h) - f(x - h)) / 2 * h)
    expect_failed(r, "times h²", "/ (2 * h)")


def test_matvec_with_at_fails_and_one_dot_per_row_passes():
    def at(A, x):
        if A.shape[1] != len(x):
            raise ValueError("shapes")
        return A @ x

    def dot_per_row(A, x):
        if A.shape[1] != len(x):
            raise ValueError("shapes")
        return np.array([np.dot(A[i], x) for i in range(A.shape[0])])

    expect_failed(evaluate("step2.matvec", at), "used @ (np.matmul)", "by hand")
    assert evaluate("step2.matvec", dot_per_row).status == "passed"


def test_matmul_with_np_dot_fails():
    def dot(A, B):
        if A.shape[1] != B.shape[0]:
            raise ValueError("shapes")
        return np.dot(A, B)

    expect_failed(evaluate("step2.matmul", dot), "used np.dot")


def test_transpose_with_dot_t_fails():
    expect_failed(evaluate("step2.transpose", lambda A: A.T.copy()), "used .T", "np.transpose")


def test_silencing_warnings_fails():
    def silenced(x):
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))

    expect_failed(evaluate("step2.stable_sigmoid", silenced), "errstate")


def test_stable_sigmoid_in_place_fails():
    def in_place(x):
        if isinstance(x, np.ndarray):
            x[...] = good_stable_sigmoid(x)
            return x
        return good_stable_sigmoid(x)

    expect_failed(evaluate("step2.stable_sigmoid", in_place), "in place")


def test_stable_sigmoid_nan_fails():
    def nan_at_extremes(x):
        x = np.asarray(x, dtype=float)
        return np.where(np.abs(x) > 500, np.nan, good_stable_sigmoid(x))

    expect_failed(evaluate("step2.stable_sigmoid", nan_at_extremes), "nan")
