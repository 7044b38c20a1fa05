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


class Watched(np.ndarray):
    """A matrix that notes the whole-matrix shortcuts an exercise forbids (``@``, ``np.dot``,
    ``.T``, ...), so a check can enforce "by hand" instead of trusting the learner.

    Rows, columns and single entries taken from it are plain to use: only operations applied to
    the 2-D matrix itself are noted. ``used`` is shared by every view of one watched matrix.
    """

    used: set[str]

    def __array_finalize__(self, obj: Any) -> None:
        self.used = getattr(obj, "used", set())

    def _note(self, name: str) -> None:
        if self.ndim == 2:
            self.used.add(name)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if ufunc is np.matmul:
            for a in inputs:
                if isinstance(a, Watched):
                    a._note("@ (np.matmul)")
        args = [np.asarray(a) if isinstance(a, Watched) else a for a in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(np.asarray(o) if isinstance(o, Watched) else o for o in kwargs["out"])
        return getattr(ufunc, method)(*args, **kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        names = {
            np.dot: "np.dot",
            np.matmul: "np.matmul",
            np.inner: "np.inner",
            np.tensordot: "np.tensordot",
            np.einsum: "np.einsum",
            np.transpose: "np.transpose",
            np.swapaxes: "np.swapaxes",
            np.moveaxis: "np.moveaxis",
            np.linalg.multi_dot: "np.linalg.multi_dot",
        }
        if func in names:
            for a in list(args) + list(kwargs.values()):
                if isinstance(a, Watched):
                    a._note(names[func])
        plain = tuple(np.asarray(a) if isinstance(a, Watched) else a for a in args)
        return func(*plain, **kwargs)

    def dot(self, *args: Any, **kwargs: Any) -> Any:
        self._note(".dot")
        return np.asarray(self).dot(*args, **kwargs)

    def transpose(self, *axes: Any) -> Any:
        self._note(".transpose()")
        return np.asarray(self).transpose(*axes)

    def swapaxes(self, *args: Any) -> Any:
        self._note(".swapaxes()")
        return np.asarray(self).swapaxes(*args)

    @property
    def T(self) -> Any:
        self._note(".T")
        return np.asarray(self).T


def watched(a: np.ndarray) -> Watched:
    """A watched copy of ``a``."""
    w = np.array(a, copy=True).view(Watched)
    w.used = set()
    return w


def expect_by_hand(a: Watched, what: str, forbidden: str) -> None:
    """Fail when the learner's code applied a forbidden whole-matrix operation to ``a``."""
    if a.used:
        raise CheckFailed(
            f"{what} used {', '.join(sorted(a.used))} on the whole matrix; the exercise asks for it by hand, "
            f"without {forbidden}: the point is to see which numbers are multiplied together"
        )
