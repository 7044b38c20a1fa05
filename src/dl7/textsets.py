"""Text data sets that ship with dl7: labelled sentences and plain text for character models.

The movie-review sentences live in the repository's top-level ``data/`` folder, which the
wheel carries as ``dl7/course/data`` (see ``pyproject.toml``), so they load offline after a
plain ``pip install``. Their provenance, licence and checksums are in
``data/movie-reviews/README.md``; ``data/movie-reviews/build.py`` rebuilds the file from the
vaderSentiment sdist. The registry entry itself is in :mod:`dl7.datasets`.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dl7.errors import DatasetError, ExitCode

if TYPE_CHECKING:
    import numpy as np

    from dl7.datasets import Split

DEFAULT_TEST_FRACTION = 0.1  # Kim (2014) and Britz hold out 10 % of the sentences

MOVIE_REVIEWS_FILE = "movie-reviews/movieReviewSnippets_GroundTruth.txt.gz"
# sha256 of the original text file (decompressed), as published in the vaderSentiment 3.3.2 sdist
MOVIE_REVIEWS_SHA256 = "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350"


def data_root() -> Path:
    """The bundled ``data/`` folder: inside the installed package, or the source checkout's root."""
    packaged = Path(__file__).resolve().parent / "course" / "data"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "data"


@dataclass(frozen=True, eq=False)
class TextDataset:
    """Sentences with integer labels."""

    name: str
    texts: tuple[str, ...]
    labels: np.ndarray  # (N,) int64 class indices
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, test_fraction: float | None = None, seed: int = 0) -> Split:
        """A fixed, stratified train/test split of the sentences (default: 10 % held out).

        Within each class the sentences are ordered by ``sha256(f"{seed}:{index}")`` and the
        first ``round(fraction * count)`` are held out. Hashing, not a random generator, so
        the split is the same on every machine and every NumPy and Python version, and the
        checker's copy agrees with the learner's. ``x_*`` are arrays of ``str`` (dtype object);
        the training sentences come in that hashed (shuffled) order, the test ones in file order.
        """
        import numpy as np

        from dl7.datasets import Split

        fraction = DEFAULT_TEST_FRACTION if test_fraction is None else float(test_fraction)
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"test_fraction must be between 0 and 1; got {fraction}")

        def key(i: int) -> bytes:
            return hashlib.sha256(f"{seed}:{i}".encode()).digest()

        train: list[int] = []
        test: list[int] = []
        for label in sorted(set(self.labels.tolist())):
            members = sorted(np.flatnonzero(self.labels == label).tolist(), key=key)
            k = round(fraction * len(members))
            test += members[:k]
            train += members[k:]
        train_idx = np.array(sorted(train, key=key), dtype=np.int64)
        test_idx = np.array(sorted(test), dtype=np.int64)
        texts = np.array(self.texts, dtype=object)
        return Split(texts[train_idx], self.labels[train_idx], texts[test_idx], self.labels[test_idx])


# The movie-review sentences -----------------------------------------------------------------


def _movie_review_rows() -> list[tuple[float, str]]:
    """``(mean rating, sentence)`` for all 10,605 rows, in file order, checksum verified."""
    path = data_root() / MOVIE_REVIEWS_FILE
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise DatasetError(f"the bundled file {path} could not be read ({exc}); reinstall dl7") from exc
    if hashlib.sha256(raw).hexdigest() != MOVIE_REVIEWS_SHA256:
        raise DatasetError(f"the bundled file {path} is damaged (its sha256 differs); reinstall dl7")
    rows = []
    for line in raw.decode("utf-8").split("\r\n"):  # id <TAB> mean rating in [-4, 4] <TAB> sentence
        _, rating, sentence = line.split("\t")
        rows.append((float(rating), sentence))
    return rows


def load_movie_reviews(_: Path | None = None) -> TextDataset:
    """The 10,568 sentences rated positive (mean > 0) or negative (mean < 0); the 37 neutral are left out."""
    import numpy as np

    rated = [(rating, s) for rating, s in _movie_review_rows() if rating != 0.0]
    labels = np.array([1 if rating > 0 else 0 for rating, _ in rated], dtype=np.int64)
    return TextDataset("movie-reviews", tuple(s for _, s in rated), labels, ("negative", "positive"))


def _movie_review_text() -> str:
    return "".join(sentence + "\n" for _, sentence in _movie_review_rows())


# Python's own standard library, as Karpathy trained on the Linux source ----------------------

# Pure-Python modules present in every CPython 3.11-3.13; their text changes between versions.
STDLIB_MODULES = (
    "abc.py",
    "bisect.py",
    "calendar.py",
    "colorsys.py",
    "contextlib.py",
    "copy.py",
    "dataclasses.py",
    "difflib.py",
    "fractions.py",
    "functools.py",
    "heapq.py",
    "json/decoder.py",
    "json/encoder.py",
    "shlex.py",
    "statistics.py",
    "string.py",
    "textwrap.py",
)


def _python_stdlib_text() -> str:
    folder = Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for name in STDLIB_MODULES:
        try:
            parts.append((folder / name).read_text(encoding="utf-8"))
        except OSError as exc:
            raise DatasetError(f"python-stdlib: cannot read {folder / name} ({exc})") from exc
    return "".join(p if p.endswith("\n") else p + "\n" for p in parts).replace("\r\n", "\n")


TEXTS: dict[str, tuple[str, Callable[[], str]]] = {
    "movie-reviews": (
        "all 10,605 movie-review sentences, neutral ones included, one per line in file order",
        _movie_review_text,
    ),
    "python-stdlib": (
        f"the source of {len(STDLIB_MODULES)} standard-library modules of this Python "
        f"({sys.version_info.major}.{sys.version_info.minor}; differs between versions)",
        _python_stdlib_text,
    ),
}


def text(name: str) -> str:
    """Plain text for character-level models, available offline; lines end in ``"\\n"``."""
    try:
        _, read = TEXTS[name]
    except KeyError:
        message = f"unknown text {name!r}; known texts: {', '.join(TEXTS)}"
        raise DatasetError(message, exit_code=ExitCode.BAD_INPUT) from None
    return read()
