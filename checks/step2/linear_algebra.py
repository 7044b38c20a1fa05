"""Checkers for notebook 01: vectors, matrices and broadcasting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed, checker
from dl7.checks.helpers import as_array, expect_callable, expect_close, expect_shape

from ._common import _compatible_call, _expect_value_error, _rng, expect_by_hand, watched

# ------------------------------------------------------------------------------ linear algebra


@checker("step2.matvec")
def check_matvec(matvec: Callable[[np.ndarray, np.ndarray], Any]) -> str:
    expect_callable(matvec, "matvec")
    rng = _rng()
    for m, n in [(3, 4), (4, 3), (1, 5), (5, 1), (4, 4)]:
        A = rng.normal(size=(m, n))  # (m, n)
        x = rng.normal(size=n)  # (n,)
        what = f"matvec(A of shape {(m, n)}, x of shape {(n,)})"
        got = as_array(_compatible_call(matvec, A, x, what, f"A has {n} columns and x has {n} entries"), what)
        if got.shape == (m, n):
            raise CheckFailed(
                f"{what} has shape {got.shape}; expected {(m,)} — you kept every product A[i, j] * x[j]; "
                "each entry of the answer is the SUM over one row"
            )
        expect_shape(got, (m,), what)
        want = np.matmul(A, x)  # (m,)
        expect_close(got, want, what, hint="entry i is the dot product of row i of A with x")
    _expect_value_error(
        lambda: matvec(np.ones((3, 4)), np.ones(3)),
        "matvec(A of shape (3, 4), x of shape (3,))",
        "A has 4 columns but x has 3 entries",
    )
    _expect_value_error(
        lambda: matvec(np.ones((3, 4)), np.ones(5)),
        "matvec(A of shape (3, 4), x of shape (5,))",
        "A has 4 columns but x has 5 entries",
    )
    A = watched(rng.normal(size=(3, 4)))  # (3, 4)
    matvec(A, rng.normal(size=4))
    expect_by_hand(A, "matvec(A, x)", "A @ x, np.dot(A, x) or np.matmul (one dot product per row is fine)")
    return "matches np.matmul on 5 shapes (square and not) and refuses mismatched shapes"


@checker("step2.matmul")
def check_matmul(matmul: Callable[[np.ndarray, np.ndarray], Any]) -> str:
    expect_callable(matmul, "matmul")
    rng = _rng()
    for m, k, n in [(2, 3, 4), (4, 3, 2), (1, 3, 1), (3, 1, 2), (4, 4, 4)]:
        A = rng.normal(size=(m, k))  # (m, k)
        B = rng.normal(size=(k, n))  # (k, n)
        what = f"matmul(A of shape {(m, k)}, B of shape {(k, n)})"
        got = as_array(_compatible_call(matmul, A, B, what, f"A has {k} columns and B has {k} rows"), what)
        want = np.matmul(A, B)  # (m, n)
        if got.shape == (n, m) and m != n:
            raise CheckFailed(
                f"{what} has shape {got.shape}; expected {(m, n)} — the result has one row per row of A "
                "and one column per column of B (did you build it transposed?)"
            )
        expect_shape(got, (m, n), what)
        right = np.allclose(got, want)
        if m == k == n and not right and np.allclose(got, A * B):
            raise CheckFailed(
                f"{what} equals the element-wise product A * B; a matrix product combines row i of A "
                "with column j of B"
            )
        if m == n and not right and np.allclose(got, want.T):
            raise CheckFailed(f"{what} is the transpose of the right answer — swap the roles of i and j")
        expect_close(got, want, what, hint="entry [i, j] is the dot product of row i of A with column j of B")
    _expect_value_error(
        lambda: matmul(np.ones((2, 3)), np.ones((2, 3))),
        "matmul(A of shape (2, 3), B of shape (2, 3))",
        "A has 3 columns but B has 2 rows",
    )
    _expect_value_error(
        lambda: matmul(np.ones((3, 2)), np.ones((3, 2))),
        "matmul(A of shape (3, 2), B of shape (3, 2))",
        "A has 2 columns but B has 3 rows",
    )
    A, B = watched(rng.normal(size=(2, 3))), watched(rng.normal(size=(3, 4)))
    matmul(A, B)
    A.used |= B.used
    expect_by_hand(A, "matmul(A, B)", "@, np.dot or np.matmul")
    return "matches np.matmul on 5 shape combinations, outer product included, and refuses mismatches"


@checker("step2.transpose")
def check_transpose(transpose: Callable[[np.ndarray], Any]) -> str:
    expect_callable(transpose, "transpose")
    rng = _rng()
    for shape in [(2, 3), (3, 2), (1, 4), (4, 1), (3, 3)]:
        A = rng.normal(size=shape)
        what = f"transpose(A of shape {shape})"
        got = as_array(transpose(A.copy()), what)
        want_shape = (shape[1], shape[0])
        expect_shape(got, want_shape, what)
        if shape[0] == shape[1] and np.allclose(got, A):
            raise CheckFailed(f"{what} returned the matrix unchanged; row i should become column i")
        if min(shape) > 1 and np.allclose(got, A.reshape(want_shape)):
            raise CheckFailed(
                f"{what} has the right shape but is a reshape: the numbers are still in row-by-row "
                "order. A transpose turns row i into column i"
            )
        expect_close(got, A.T, what, hint="entry [j, i] of the result is entry [i, j] of A")
    A = watched(rng.normal(size=(3, 2)))
    transpose(A)
    expect_by_hand(A, "transpose(A)", ".T or np.transpose")
    A = rng.normal(size=(2, 3))
    B = rng.normal(size=(3, 4))
    lhs = as_array(transpose(A @ B), "transpose(A @ B)")
    expect_close(lhs, B.T @ A.T, "transpose(A @ B)", hint="(AB)ᵀ should equal BᵀAᵀ")
    return "right on 5 shapes, and (AB)ᵀ = BᵀAᵀ holds"


@checker("step2.center_columns")
def check_center_columns(center_columns: Callable[[np.ndarray], Any]) -> str:
    expect_callable(center_columns, "center_columns")
    rng = _rng()
    for n, d in [(6, 3), (4, 4), (2, 5)]:
        X = rng.normal(size=(n, d)) + rng.uniform(-10, 10, size=d)  # (n, d), columns far from 0
        original = X.copy()
        what = f"center_columns(X of shape {(n, d)})"
        try:
            got = as_array(center_columns(X), what)
        except ValueError as exc:
            raise CheckFailed(
                f"{what} raised ValueError ({exc}); the column means have shape ({d},) and must line up "
                "with the last axis of X — which axis did you average over?"
            ) from None
        if not np.array_equal(X, original):
            raise CheckFailed(f"{what} changed X in place; return a new array and leave the data alone")
        expect_shape(got, (n, d), what)
        col_means = got.mean(axis=0)  # (d,)
        if not np.allclose(col_means, 0.0, atol=1e-9):
            j = int(np.argmax(np.abs(col_means)))
            if np.allclose(got.mean(axis=1), 0.0, atol=1e-9):
                raise CheckFailed(
                    f"{what}: every ROW now has mean 0, but column {j} has mean {col_means[j]:.4g}; "
                    "centre each column (average down the rows, axis=0)"
                )
            if np.allclose(got, X - X.mean()):
                raise CheckFailed(
                    f"{what}: you subtracted one overall mean; each column needs its own mean "
                    f"(column {j} still has mean {col_means[j]:.4g})"
                )
            raise CheckFailed(f"{what}: column {j} has mean {col_means[j]:.4g}; expected 0 for every column")
        shift = got - X  # (n, d): must be the same row vector in every row
        if not np.allclose(shift, shift[0], atol=1e-9):
            raise CheckFailed(
                f"{what}: the columns have mean 0, but the values were not just shifted; "
                "subtract the same number from every entry of a column"
            )
    return "every column ends with mean 0, only shifted, X untouched (square and non-square)"
