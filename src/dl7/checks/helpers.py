"""Assertions for checker authors: compare with facts and say precisely what is off.

Every helper raises :class:`dl7.checks.CheckFailed` with a message a beginner can act on
(what was called, what came back, what was expected) and never reveals a whole solution.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed


def as_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a float array, or a failure that names ``what``."""
    if value is None:
        raise CheckFailed(f"{what} returned None; did you forget a `return`?")
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} returned {type(value).__name__}; expected numbers") from None


def expect_shape(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    arr = as_array(value, what)
    if arr.shape != tuple(shape):
        raise CheckFailed(f"{what} has shape {arr.shape}; expected {tuple(shape)}")
    return arr


def expect_close(
    actual: Any,
    expected: Any,
    what: str,
    *,
    atol: float = 1e-6,
    rtol: float = 1e-6,
    hint: str = "",
) -> np.ndarray:
    """Fail unless ``actual`` matches ``expected`` (shape and values) within tolerance."""
    arr = as_array(actual, what)
    want = np.asarray(expected, dtype=float)
    if arr.shape != want.shape:
        raise CheckFailed(f"{what} has shape {arr.shape}; expected {want.shape}")
    suffix = f" — {hint}" if hint else ""
    if not np.all(np.isfinite(arr)) and np.all(np.isfinite(want)):
        bad = arr.flat[int(np.flatnonzero(~np.isfinite(arr))[0])]
        raise CheckFailed(f"{what} contains {bad}; expected finite values{suffix}")
    if not np.allclose(arr, want, atol=atol, rtol=rtol):
        if arr.ndim == 0:
            raise CheckFailed(f"{what} returned {float(arr):.6g}; expected {float(want):.6g}{suffix}")
        i = int(np.argmax(np.abs(arr - want)))
        idx = np.unravel_index(i, arr.shape)
        raise CheckFailed(
            f"{what} is off at index {tuple(int(k) for k in idx)}: "
            f"got {arr[idx]:.6g}, expected {want[idx]:.6g}{suffix}"
        )
    return arr


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of a scalar function ``f`` at ``x`` (``x`` is not modified)."""
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = float(f(x))
        x[i] = old - eps
        minus = float(f(x))
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def expect_callable(obj: Any, what: str) -> None:
    if not callable(obj):
        raise CheckFailed(f"{what} should be a function; got {type(obj).__name__}")


def all_layers(model: Any) -> list[Any]:
    """Every layer of a Keras model, nested models' layers included (a Sequential inside a model)."""
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        if hasattr(layer, "layers"):
            found.extend(all_layers(layer))
    return found


def expect_formula(got: Any, exact: Any, what: str) -> None:
    """An exercise that asks for a derivative *by the chain rule*: ``got`` already agrees with
    central differences (checked before this), and must also agree with the exact derivative
    to rounding. A formula does (about 1e-15); a difference quotient with a step of 1e-5 is
    off by about 1e-11, and a larger step by more."""
    g, e = np.asarray(got, dtype=float), np.asarray(exact, dtype=float)
    error = float(np.max(np.abs(g - e)))
    if np.allclose(g, e, rtol=1e-11, atol=1e-13):
        return
    raise CheckFailed(
        f"{what} agrees with the exact derivative only to {error:.1g}, the error of a difference "
        "quotient: this exercise asks for the formula the chain rule gives (exact to about 1e-15), "
        "written from the local derivatives, not computed from f(x + h) - f(x - h)"
    )
