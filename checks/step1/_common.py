"""Shared facts and helpers of the step1 checkers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed
from dl7.checks.helpers import as_array

_RNG_SEED = 20160101

X_BOOL = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)  # (4, 2) rows of a truth table
Y_AND = np.array([0, 0, 0, 1])
Y_OR = np.array([0, 1, 1, 1])
Y_XOR = np.array([0, 1, 1, 0])
XOR_TABLES = {(0, 1, 1, 0), (1, 0, 0, 1)}  # XOR and XNOR: the two 2-input tables no perceptron computes
# Linearly separable Boolean functions of n inputs: 2, 4, 14, 104, 1882, ... (OEIS A000609).
SEPARABLE_3 = 104


def _rng(offset: int = 0) -> np.random.Generator:
    return np.random.default_rng(_RNG_SEED + offset)


def _step(z: np.ndarray) -> np.ndarray:
    """The perceptron's activation, from the definition: 1 where z > 0, else 0."""
    return (np.asarray(z) > 0).astype(int)


def _sigma(z: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def _fmt(v: Iterable[Any]) -> str:
    return "(" + ", ".join(f"{float(x):g}" for x in v) + ")"


def _scalar(value: Any, what: str) -> float:
    arr = as_array(value, what)
    if arr.size != 1:
        raise CheckFailed(f"{what} has shape {arr.shape}; expected a single number")
    return float(arr.reshape(()))


def _binary_outputs(value: Any, n: int, what: str) -> np.ndarray:
    """``value`` as a (n,) array of 0s and 1s, or a failure that says what is off."""
    arr = as_array(value, what)
    if arr.shape != (n,):
        extra = " — return one number per row of X (try `.ravel()`)" if arr.size == n else ""
        raise CheckFailed(f"{what} has shape {arr.shape}; expected ({n},){extra}")
    bad = sorted({float(v) for v in arr if v not in (0.0, 1.0)}, key=str)
    if bad:
        if bad == [-1.0]:
            raise CheckFailed(
                f"{what} contains -1; in Nielsen's convention a perceptron outputs 0 or 1 "
                "(0 when w·x + b ≤ 0), not the sign of w·x + b"
            )
        raise CheckFailed(f"{what} contains {bad[0]:g}; a perceptron outputs only 0 or 1")
    return arr
