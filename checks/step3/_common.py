"""What the step-3 checkers share: a fixed seed, the logistic function, result unpacking."""

from __future__ import annotations

from typing import Any

import numpy as np

from dl7.checks import CheckFailed
from dl7.checks.helpers import as_array, expect_close

SEED = 20150317  # the day Mazur published his example


def seeded_rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


def logistic(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow warnings


def unpack_pair(value: Any, what: str, names: str) -> tuple[Any, Any]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise CheckFailed(f"{what} returned {type(value).__name__}; expected a pair {names}")
    return value[0], value[1]


def expect_scalar(value: Any, what: str) -> float:
    """One number, or a failure that says what came back instead."""
    arr = as_array(value, what)
    if arr.size != 1:
        raise CheckFailed(f"{what} returned an array of shape {arr.shape}; expected a single number")
    return float(arr.reshape(()))


def expect_gradient(got: Any, want: np.ndarray, what: str, hint: str = "") -> None:
    """Compare a gradient with a numerical one, naming the usual slips (sign, transpose)."""
    arr = as_array(got, what)
    if arr.shape != want.shape:
        why = " — the same shape as the weights it belongs to" if arr.shape == want.T.shape else ""
        raise CheckFailed(f"{what} has shape {arr.shape}; expected {want.shape}{why}")
    if np.allclose(arr, -want, atol=1e-7, rtol=1e-4) and not np.allclose(want, 0, atol=1e-7):
        raise CheckFailed(
            f"{what} points the wrong way (it is minus the gradient) — check the sign of the output error"
        )
    if (
        arr.shape == want.shape
        and want.ndim == 2
        and want.shape[0] == want.shape[1]
        and np.allclose(arr, want.T, atol=1e-7, rtol=1e-4)
        and not np.allclose(want, want.T, atol=1e-7)
    ):
        raise CheckFailed(f"{what} is transposed — it must line up entry for entry with its weights")
    expect_close(arr, want, what, atol=1e-7, rtol=1e-5, hint=hint)
