"""The seven-step course's data sets, declared for ``dl7.datasets``.

``curriculum.yaml`` names this file (``datasets: data/datasets.py``); a notebook or a checker
calls ``datasets.load("digits")`` or ``datasets.text("movie-reviews")`` and dl7 finds the set
here. It sits beside the files it declares, so ``HERE`` is the course's ``data/`` folder both in
a checkout and in an installed wheel (``dl7/course/data``).

Offline, always: scikit-learn's digits, the movie-review sentences shipped in
``movie-reviews/`` (provenance, licence and checksums in its README; ``build.py`` rebuilds the
file from the vaderSentiment sdist) and two plain texts for character models. Online, on
request (``dl7 data fetch NAME``): MNIST and CIFAR-10, sha256-pinned.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import sys
import sysconfig
from pathlib import Path
from typing import Any

from dl7.datasets import Dataset, DatasetError, Source, Text, TextDataset, load_npz_images, read_verified

HERE = Path(__file__).resolve().parent

# The digits' shared split (steps 3 to 5, and every notebook that calls split() or split3()):
# 20 % of each class for test, as much again for validation, the rest (60 %) for training.
DIGITS_TEST_FRACTION = 0.2
# The movie-review sentences: Kim (2014) and Britz hold out 10 % of them.
MOVIE_REVIEWS_TEST_FRACTION = 0.1

MOVIE_REVIEWS_FILE = HERE / "movie-reviews" / "movieReviewSnippets_GroundTruth.txt.gz"
# sha256 of the original text file (decompressed), as published in the vaderSentiment 3.3.2 sdist
MOVIE_REVIEWS_SHA256 = "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350"


# Images -------------------------------------------------------------------------------------


def _digits(_: Path | None) -> Dataset:
    import numpy as np
    from sklearn.datasets import load_digits  # 0.8 s to import, so only when asked

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[..., None]  # (1797, 8, 8, 1) in [0, 1]
    return Dataset("digits", images, bunch.target.astype(np.int64), tuple(str(d) for d in range(10)))


def _cifar10(folder: Path | None) -> Dataset:
    import numpy as np

    assert folder is not None
    base = folder / "cifar-10-batches-py"

    def batch(name: str) -> dict[bytes, Any]:
        # Unpickling runs code, and the cache may have changed since the archive was verified:
        # only bytes whose sha256 matches the record fetch made from that archive are unpickled.
        return dict(pickle.loads(read_verified(folder, f"{base.name}/{name}"), encoding="bytes"))

    parts = [batch(f"data_batch_{i}") for i in range(1, 6)] + [batch("test_batch")]
    x = np.concatenate([p[b"data"] for p in parts]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    labels = np.concatenate([np.asarray(p[b"labels"]) for p in parts]).astype(np.int64)
    meta = batch("batches.meta")
    classes = tuple(n.decode() for n in meta[b"label_names"])
    return Dataset("cifar10", x.astype(np.float32) / 255.0, labels, classes, test_start=50_000)


# The movie-review sentences -------------------------------------------------------------------


def _movie_review_rows(path: Path = MOVIE_REVIEWS_FILE) -> list[tuple[float, str]]:
    """``(mean rating, sentence)`` for all 10,605 rows, in file order, checksum verified."""
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


def _movie_reviews(path: Path | None) -> TextDataset:
    """The 10,568 sentences rated positive (mean > 0) or negative (mean < 0); the 37 neutral are left out."""
    import numpy as np

    rated = [(rating, s) for rating, s in _movie_review_rows(path or MOVIE_REVIEWS_FILE) if rating != 0.0]
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


# The declarations dl7 reads -------------------------------------------------------------------

SOURCES = (
    Source(
        name="digits",
        description="Handwritten digits, 1,797 images of 8×8 pixels (UCI), bundled with scikit-learn",
        loader=_digits,
        origin="scikit-learn (no download)",
        homepage="https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits",
        test_fraction=DIGITS_TEST_FRACTION,
    ),
    Source(
        name="movie-reviews",
        description="Movie-review sentences, 10,568 rated positive or negative by people (Pang & Lee; "
        "Hutto & Gilbert 2014)",
        loader=_movie_reviews,
        homepage="https://github.com/cjhutto/vaderSentiment",
        sha256=MOVIE_REVIEWS_SHA256,
        notes="From the vaderSentiment 3.3.2 sdist (MIT); sha256 is the original text file's; "
        "provenance in data/movie-reviews/README.md.",
        bundled_file=MOVIE_REVIEWS_FILE,
        origin="ships with dl7 (vaderSentiment 3.3.2 sdist, MIT)",
        test_fraction=MOVIE_REVIEWS_TEST_FRACTION,
    ),
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
    ),
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
    ),
)

TEXTS = (
    Text(
        "movie-reviews",
        "all 10,605 movie-review sentences, neutral ones included, one per line in file order",
        _movie_review_text,
    ),
    Text(
        "python-stdlib",
        f"the source of {len(STDLIB_MODULES)} standard-library modules of this Python "
        f"({sys.version_info.major}.{sys.version_info.minor}; differs between versions)",
        _python_stdlib_text,
    ),
)
