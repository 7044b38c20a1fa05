"""Shared facts and helpers of the step2 checkers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dl7.checks import CheckFailed

_RNG_SEED = 20160102


def _rng() -> np.random.Generator:
    return np.random.default_rng(_RNG_SEED)


def _shape(a: np.ndarray) -> str:
    return str(tuple(a.shape))


def _expect_value_error(call: Callable[[], Any], what: str, why: str) -> None:
    """The learner's function must refuse incompatible shapes with a ValueError."""
    try:
        call()
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as exc:  # any other exception from the learner's code is the wrong kind
        raise CheckFailed(
            f"{what} raised {type(exc).__name__}; expected ValueError because {why} — "
            "check the shapes first and `raise ValueError(...)` with a clear message"
        ) from None
    raise CheckFailed(
        f"{what} returned a result; expected ValueError because {why} — "
        "a product of incompatible shapes is undefined, so refuse it"
    )


def _compatible_call(
    fn: Callable[[np.ndarray, np.ndarray], Any], a: np.ndarray, b: np.ndarray, what: str, why: str
) -> Any:
    """Call ``fn`` on copies of compatible operands; a ValueError here is the learner's mistake."""
    try:
        return fn(a.copy(), b.copy())
    except ValueError as exc:
        raise CheckFailed(
            f"{what} raised ValueError ({exc}) although these shapes fit: {why}. "
            "(Note that `*` multiplies element by element, which is not a matrix product.)"
        ) from None
