"""What a data set's loader returns, and the one fixed, stratified split every set shares.

:class:`Dataset` (images) and :class:`TextDataset` (sentences) are labelled sets; both split the
same way (:class:`Labelled`): within each class the items are ordered by
``sha256(f"{seed}:{index}")``, the first ones go to test, the next to validation, the rest to
training. Hashing, not a random generator, so a split is the same on every machine and every
NumPy and Python version, and a checker's copy agrees with the learner's.

A set's default held-out share is its own (``test_fraction``, as the course declares it), else
:data:`DEFAULT_TEST_FRACTION`. This module imports numpy only inside the methods that need it,
and nothing of dl7: :mod:`dl7.datasets` builds on it, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

DEFAULT_TEST_FRACTION = 0.2  # of each class, for a set that declares no share and has no official split


@dataclass(frozen=True, eq=False)
class Split:
    """A train/test split; unpacks as ``x_train, y_train, x_test, y_test``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.x_train, self.y_train, self.x_test, self.y_test))


@dataclass(frozen=True, eq=False)
class Split3:
    """A train/validation/test split; unpacks as ``x_train, y_train, x_val, y_val, x_test, y_test``.

    Train on the first pair, make every choice (epochs, sizes, learning rates) by the second,
    and measure the chosen model once on the third.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test))


def _fraction(value: float | None, default: float, name: str) -> float:
    fraction = default if value is None else float(value)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"{name} must be between 0 and 1; got {fraction}")
    return fraction


def _hash_key(seed: int) -> Callable[[int], bytes]:
    """Order indices by ``sha256(f"{seed}:{index}")``: a shuffle that is the same on every
    machine and every NumPy and Python version (a random generator's stream may change)."""
    import hashlib

    def key(i: int) -> bytes:
        return hashlib.sha256(f"{seed}:{i}".encode()).digest()

    return key


class Labelled:
    """The split both kinds of set share; a subclass has ``labels``, ``test_start``,
    ``test_fraction`` and says what its inputs are (:meth:`_inputs`)."""

    labels: np.ndarray
    class_names: tuple[str, ...]
    test_start: int | None
    test_fraction: float | None

    def _inputs(self) -> np.ndarray:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.labels)

    def split(self, test_fraction: float | None = None, seed: int = 0) -> Split:
        """A fixed, stratified train/test split: :meth:`split3` with validation folded into train.

        With no ``test_fraction``, a set published with its own test part (``test_start``) uses it;
        any other set holds out its declared share of each class (20 % unless its course says
        otherwise). The test part is exactly :meth:`split3`'s, so a model trained on
        ``split()`` and one trained on ``split3()`` are measured on the same items. Same
        arguments, same split, everywhere.
        """
        train_idx, _, test_idx = self._indices(test_fraction, None, seed, validation=False)
        x, y = self._inputs(), self.labels
        return Split(x[train_idx], y[train_idx], x[test_idx], y[test_idx])

    def split3(
        self, validation_fraction: float | None = None, test_fraction: float | None = None, seed: int = 0
    ) -> Split3:
        """A fixed, stratified train/validation/test split.

        The test part is :meth:`split`'s. The validation part is ``validation_fraction`` of each
        class (default: as large a share as the test part), taken from what is left; the rest is
        for training. With the default 20 %: 60/20/20 of each class; a set with an official
        test split keeps it (60,000 + 10,000 images: 50,000 / 10,000 / the official 10,000).

        Training items come in the hashed (shuffled) order, validation and test items in the
        set's own order.
        """
        train_idx, val_idx, test_idx = self._indices(
            test_fraction, validation_fraction, seed, validation=True
        )
        x, y = self._inputs(), self.labels
        return Split3(x[train_idx], y[train_idx], x[val_idx], y[val_idx], x[test_idx], y[test_idx])

    def _indices(
        self, test_fraction: float | None, validation_fraction: float | None, seed: int, *, validation: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import numpy as np

        key = _hash_key(seed)
        n = len(self)
        start = self.test_start if test_fraction is None else None
        if start is not None:
            test_share = (n - start) / n
        else:
            default = DEFAULT_TEST_FRACTION if self.test_fraction is None else self.test_fraction
            test_share = _fraction(test_fraction, default, "test_fraction")
        val_share = _fraction(validation_fraction, test_share, "validation_fraction") if validation else 0.0
        if test_share + val_share >= 1.0:
            raise ValueError(
                f"test_fraction {test_share:.3g} and validation_fraction {val_share:.3g} "
                "leave nothing to train on"
            )
        train: list[int] = []
        val: list[int] = []
        test: list[int] = []
        for label in np.unique(self.labels):
            members = np.flatnonzero(self.labels == label).tolist()
            if start is not None:
                test += [i for i in members if i >= start]
                rest = sorted((i for i in members if i < start), key=key)
            else:
                members.sort(key=key)
                k = round(test_share * len(members))
                test += members[:k]
                rest = members[k:]
            v = round(val_share * len(members))
            val += rest[:v]
            train += rest[v:]
        return (
            np.array(sorted(train, key=key), dtype=np.int64),
            np.array(sorted(val), dtype=np.int64),
            np.array(sorted(test), dtype=np.int64),
        )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True, eq=False)
class Dataset(Labelled):
    """Images in NHWC layout, float32 in [0, 1], with integer labels; unpacks as ``images, labels``."""

    name: str
    images: np.ndarray  # (N, H, W, C) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64 class indices
    class_names: tuple[str, ...]
    test_start: int | None = None  # images[test_start:] is the set's official test split, if any
    test_fraction: float | None = field(default=None, kw_only=True)  # default held-out share

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.images, self.labels))

    def _inputs(self) -> np.ndarray:
        return self.images


@dataclass(frozen=True, eq=False)
class TextDataset(Labelled):
    """Sentences with integer labels; a split's ``x_*`` are arrays of ``str`` (dtype object)."""

    name: str
    texts: tuple[str, ...]
    labels: np.ndarray  # (N,) int64 class indices
    class_names: tuple[str, ...]
    test_start: int | None = None
    test_fraction: float | None = field(default=None, kw_only=True)

    def _inputs(self) -> np.ndarray:
        import numpy as np

        return np.array(self.texts, dtype=object)
