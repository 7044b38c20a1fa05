"""The dataset registry: offline sources first, optional downloads with sha256 and a cache.

``load("digits")`` works anywhere: scikit-learn ships those images, and
``load("movie-reviews")`` reads sentences that ship with dl7 itself (:mod:`dl7.textsets`,
which also gives :func:`text` for character models). Larger sets (MNIST,
CIFAR-10) are downloaded only on request: :func:`fetch` (``dl7 data fetch NAME``) streams the
file into a temporary file in the cache, verifies its sha256, extracts archives safely and
moves the finished folder into place with one rename, so the cache never holds half a data
set, whatever goes wrong (Ctrl-C included). Nothing here touches the network unless
:func:`fetch` is called, and this module imports neither typer nor rich.
"""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from dl7.atomic import new_file, new_folder
from dl7.download import Progress, download, extract_tar, install
from dl7.errors import DatasetError as DatasetError  # re-exported: notebooks catch it here
from dl7.errors import ExitCode, os_error
from dl7.textsets import MOVIE_REVIEWS_FILE, MOVIE_REVIEWS_SHA256, data_root, load_movie_reviews
from dl7.textsets import TextDataset as TextDataset  # re-exported: the public API is dl7.datasets
from dl7.textsets import text as text

if TYPE_CHECKING:
    import numpy as np

DATA_ENV = "DL7_DATA"
DEFAULT_TEST_FRACTION = 0.2  # of each class, for a set without an official test split
# The digits' shared split (steps 3 to 5, and whatever else calls split() or split3()):
# 60 % train, 20 % validation, 20 % test of each class, fixed by hashing, not by a generator.


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


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images in NHWC layout, float32 in [0, 1], with integer labels; unpacks as ``images, labels``."""

    name: str
    images: np.ndarray  # (N, H, W, C) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64 class indices
    class_names: tuple[str, ...]
    test_start: int | None = None  # images[test_start:] is the set's official test split, if any

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.images, self.labels))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, test_fraction: float | None = None, seed: int = 0) -> Split:
        """A fixed, stratified train/test split: :meth:`split3` with validation folded into train.

        With no ``test_fraction``, a set with an official test split (MNIST, CIFAR-10) uses it;
        any other set holds out 20 % of each class (the digits: 359 of 1,797). The test part is
        exactly :meth:`split3`'s, so a model trained on ``split()`` and one trained on
        ``split3()`` are measured on the same images. Same arguments, same split, everywhere.
        """
        train_idx, val_idx, test_idx = self._indices(test_fraction, None, seed, validation=False)
        del val_idx  # empty
        return Split(
            self.images[train_idx], self.labels[train_idx], self.images[test_idx], self.labels[test_idx]
        )

    def split3(
        self, validation_fraction: float | None = None, test_fraction: float | None = None, seed: int = 0
    ) -> Split3:
        """A fixed, stratified train/validation/test split.

        The test part is :meth:`split`'s. The validation part is ``validation_fraction`` of each
        class (default: as large a share as the test part), taken from what is left; the rest is
        for training. The digits by default: 1,079 train, 359 validation, 359 test (60/20/20),
        the split steps 3 to 5 share; MNIST: 50,000 / 10,000 / its official 10,000.

        Within each class the images are ordered by ``sha256(f"{seed}:{index}")``: the first ones
        go to test, the next to validation. Training images come in that hashed (shuffled) order,
        validation and test images in the set's own order.
        """
        train_idx, val_idx, test_idx = self._indices(
            test_fraction, validation_fraction, seed, validation=True
        )
        im, lab = self.images, self.labels
        return Split3(im[train_idx], lab[train_idx], im[val_idx], lab[val_idx], im[test_idx], lab[test_idx])

    def _indices(
        self, test_fraction: float | None, validation_fraction: float | None, seed: int, *, validation: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import numpy as np

        key = _hash_key(seed)
        n = len(self)
        official = test_fraction is None and self.test_start is not None
        if official:
            assert self.test_start is not None
            test_share = (n - self.test_start) / n
        else:
            test_share = _fraction(test_fraction, DEFAULT_TEST_FRACTION, "test_fraction")
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
            if official:
                assert self.test_start is not None
                test += [i for i in members if i >= self.test_start]
                rest = sorted((i for i in members if i < self.test_start), key=key)
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


@dataclass(frozen=True)
class Source:
    """A registry entry. ``url is None`` means the data ships with an installed package."""

    name: str
    description: str
    loader: Callable[[Path | None], Dataset | TextDataset]  # gets the cached file (or folder)
    url: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None  # of the download
    filename: str | None = None  # the downloaded file's name inside the data set's folder
    extract: bool = False  # the download is a tar archive to unpack
    homepage: str = ""
    notes: str = ""
    bundled_file: str | None = None  # a bundled set's file, relative to dl7's data folder
    origin: str = ""  # where a bundled set comes from, for `dl7 data list`


@dataclass(frozen=True)
class DatasetInfo:
    """One row of :func:`registry`."""

    name: str
    description: str
    size_bytes: int | None
    url: str | None
    sha256: str | None
    bundled: bool
    cached: bool
    path: str | None
    origin: str

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# Registry -------------------------------------------------------------------------------

_SOURCES: dict[str, Source] = {}


def register(source: Source, *, replace_existing: bool = False) -> Source:
    """Add a data set (a course may bring its own); a name is registered once."""
    if source.name in _SOURCES and not replace_existing:
        raise ValueError(f"a data set named {source.name!r} is already registered")
    if source.url is not None and not (source.sha256 and source.filename):
        raise ValueError(f"{source.name}: a downloadable data set needs sha256 and filename")
    _SOURCES[source.name] = source
    return source


def unregister(name: str) -> None:
    _SOURCES.pop(name, None)


def names() -> list[str]:
    return list(_SOURCES)


def cache_dir() -> Path:
    """``$DL7_DATA`` if set, else the per-user cache (platformdirs) ``.../dl7/datasets``."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("dl7")) / "datasets"


def dataset_dir(name: str) -> Path:
    return cache_dir() / name


def registry() -> list[DatasetInfo]:
    """Every registered data set and whether it is available offline now."""
    rows = []
    for s in _SOURCES.values():
        bundled = s.url is None
        folder = dataset_dir(s.name)
        cached = bundled or folder.is_dir()
        path = str(folder) if (cached and not bundled) else None
        size = s.size_bytes
        if s.bundled_file is not None:
            file = data_root() / s.bundled_file
            path, size = str(file), (file.stat().st_size if file.is_file() else None)
        info = DatasetInfo(s.name, s.description, size, s.url, s.sha256, bundled, cached, path, s.origin)
        rows.append(info)
    return rows


def _source(name: str) -> Source:
    try:
        return _SOURCES[name]
    except KeyError:
        known = ", ".join(_SOURCES)
        raise DatasetError(
            f"unknown data set {name!r}; known data sets: {known}", exit_code=ExitCode.BAD_INPUT
        ) from None


def _megabytes(n: int | None) -> str:
    return "" if n is None else f" ({n / 1e6:.0f} MB)"


# Loading ------------------------------------------------------------------------------------


@overload
def load(name: Literal["movie-reviews"]) -> TextDataset: ...  # type: ignore[overload-overlap]
@overload
def load(name: str) -> Dataset: ...
def load(name: str) -> Dataset | TextDataset:
    """Load a data set: bundled ones always, downloaded ones once ``dl7 data fetch NAME`` ran."""
    source = _source(name)
    if source.url is None:
        return replace(source.loader(None), name=name)
    folder = dataset_dir(name)
    if not folder.is_dir():
        raise DatasetError(
            f"the {name} data set is not downloaded yet{_megabytes(source.size_bytes)}; "
            f"run `dl7 data fetch {name}` once while online, then try again"
        )
    target = folder if source.extract else folder / str(source.filename)
    try:
        data = source.loader(target)
    except (OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as exc:
        raise DatasetError(
            f"the cached {name} data set in {folder} could not be read ({exc}); "
            f"run `dl7 data fetch {name} --force` to download it again"
        ) from exc
    return replace(data, name=name)


def _digits(_: Path | None) -> Dataset:
    import numpy as np
    from sklearn.datasets import load_digits  # 0.8 s to import, so only when asked

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[..., None]  # (1797, 8, 8, 1) in [0, 1]
    return Dataset("digits", images, bunch.target.astype(np.int64), tuple(str(d) for d in range(10)))


def load_npz_images(path: Path | None) -> Dataset:
    """An ``.npz`` with ``x_train, y_train, x_test, y_test`` (the layout of Keras's mnist.npz)."""
    import numpy as np

    assert path is not None
    with np.load(path, allow_pickle=False) as f:
        x_train, y_train, x_test, y_test = (f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    x = np.concatenate([x_train, x_test])
    images = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    if images.ndim == 3:
        images = images[..., None]  # (N, H, W) -> (N, H, W, 1)
    labels = np.concatenate([y_train, y_test]).astype(np.int64).ravel()
    classes = tuple(str(i) for i in range(int(labels.max()) + 1))
    return Dataset(path.stem, images, labels, classes, test_start=len(x_train))


def _cifar10(folder: Path | None) -> Dataset:
    import numpy as np

    assert folder is not None
    base = folder / "cifar-10-batches-py"

    def batch(name: str) -> dict[bytes, Any]:
        # pickle is safe enough here: the archive's sha256 was verified before extraction.
        with open(base / name, "rb") as f:
            return dict(pickle.load(f, encoding="bytes"))

    parts = [batch(f"data_batch_{i}") for i in range(1, 6)] + [batch("test_batch")]
    x = np.concatenate([p[b"data"] for p in parts]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    labels = np.concatenate([np.asarray(p[b"labels"]) for p in parts]).astype(np.int64)
    meta = batch("batches.meta")
    classes = tuple(n.decode() for n in meta[b"label_names"])
    return Dataset("cifar10", x.astype(np.float32) / 255.0, labels, classes, test_start=50_000)


register(
    Source(
        name="digits",
        description="Handwritten digits, 1,797 images of 8×8 pixels (UCI), bundled with scikit-learn",
        loader=_digits,
        origin="scikit-learn (no download)",
        homepage="https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits",
    )
)
register(
    Source(
        name="movie-reviews",
        description="Movie-review sentences, 10,568 rated positive or negative by people (Pang & Lee; "
        "Hutto & Gilbert 2014)",
        loader=load_movie_reviews,
        homepage="https://github.com/cjhutto/vaderSentiment",
        sha256=MOVIE_REVIEWS_SHA256,
        notes="From the vaderSentiment 3.3.2 sdist (MIT); sha256 is the original text file's; "
        "provenance in data/movie-reviews/README.md.",
        bundled_file=MOVIE_REVIEWS_FILE,
        origin="ships with dl7 (vaderSentiment 3.3.2 sdist, MIT)",
    )
)
register(
    Source(
        name="mnist",
        description="MNIST handwritten digits, 70,000 images of 28×28 (60,000 train + 10,000 test)",
        loader=load_npz_images,
        url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
        size_bytes=11_490_434,
        filename="mnist.npz",
        homepage="http://yann.lecun.com/exdb/mnist/",
        notes="The file Keras's mnist.load_data() downloads; sha256 as pinned in keras.datasets.mnist.",
    )
)
register(
    Source(
        name="cifar10",
        description="CIFAR-10, 60,000 colour images of 32×32 in 10 classes (50,000 train + 10,000 test)",
        loader=_cifar10,
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        size_bytes=170_498_071,
        filename="cifar-10-python.tar.gz",
        extract=True,
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        notes="Published md5 c58f30108f718f92721af3b95e74349a; sha256 as pinned in keras.datasets.cifar10. "
        "Loaded as float32, about 740 MB in memory.",
    )
)


# Fetching -----------------------------------------------------------------------------------


def fetch(name: str, *, progress: Progress | None = None, force: bool = False) -> Path | None:
    """Download, verify and install a data set into the cache; return its folder.

    Returns ``None`` for a bundled set (nothing to download) and the existing folder when the
    set is cached already (unless ``force``). On any failure, Ctrl-C included, the temporary
    files are removed and the cache is left as it was.
    """
    source = _source(name)
    if source.url is None:
        return None
    final = dataset_dir(name)
    if final.is_dir() and not force:
        return final
    root = cache_dir()
    part: Path | None = None
    staging: Path | None = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        # not mkstemp/mkdtemp: their owner-only modes would stick to the cached files
        fd, part = new_file(root, f".{name}-", ".part")
        with os.fdopen(fd, "wb") as out:
            digest = download(
                str(source.url), out, name=source.name, size_hint=source.size_bytes, progress=progress
            )
            out.flush()
            os.fsync(out.fileno())
        if digest != source.sha256:
            raise DatasetError(
                f"the download of {name} is corrupt: its sha256 is {digest}, expected {source.sha256}; "
                "the file was deleted. Try again; if it keeps happening the file on the server has changed"
            )
        staging = new_folder(root, f".{name}-", ".staging")
        if source.extract:
            extract_tar(part, staging, label=source.filename)
        else:
            os.replace(part, staging / str(source.filename))
            part = None
        install(staging, final)
        staging = None
        return final
    except OSError as exc:  # a full, read-only or forbidden cache: one line, nothing kept
        error = os_error(exc, f"cannot save the data set {name} in", root, env=DATA_ENV)
        raise DatasetError(error.message, hint=error.hint, exit_code=ExitCode.BAD_INPUT) from None
    finally:  # runs on errors and on KeyboardInterrupt alike: never leave half a file behind
        if part is not None:
            part.unlink(missing_ok=True)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
