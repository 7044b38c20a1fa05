"""The seven-step course's data sets, as ``data/datasets.py`` declares them.

Loaded exactly as a notebook loads them: ``datasets.load(name)`` in a process whose course is
the seven steps (its manifest names the declarations). The runner's own tests of the API, with
a teacher's course, are in ``tests/test_datasets.py``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dl7 import datasets
from dl7.cli_data import app
from dl7.curriculum import load as load_manifest
from dl7.datasets import DatasetError

from . import COURSE_ROOT

DATA = COURSE_ROOT / "data"


@pytest.fixture(autouse=True)
def seven_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The course is the seven steps, named as `--curriculum` names it; the cache is empty."""
    monkeypatch.setenv("DL7_CURRICULUM", str(COURSE_ROOT / "curriculum.yaml"))
    monkeypatch.delenv(datasets.DATASETS_ENV, raising=False)
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_manifest_names_the_declarations_beside_the_data() -> None:
    assert load_manifest(COURSE_ROOT / "curriculum.yaml").datasets == str(DATA / "datasets.py")
    assert datasets.declarations().spec == str(DATA / "datasets.py")


# The digits: scikit-learn's, with the course's shared 60/20/20 split ---------------------------


def test_digits_load_offline_and_split_is_fixed_and_stratified() -> None:
    data = datasets.load("digits")
    images, labels = data
    assert images.shape == (1797, 8, 8, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert labels.shape == (1797,) and set(labels.tolist()) == set(range(10))
    assert data.num_classes == 10 and len(data) == 1797
    x_train, y_train, x_test, y_test = data.split()
    assert len(x_test) == 359 and len(x_train) == 1438  # 20 % of each class held out
    assert np.bincount(y_test).tolist() == [36, 36, 35, 37, 36, 36, 36, 36, 35, 36]
    again = datasets.load("digits").split()
    np.testing.assert_array_equal(again.y_test, y_test)
    np.testing.assert_array_equal(again.x_train, x_train)
    assert not np.array_equal(data.split(seed=1).y_train, y_train)
    assert len(data.split(test_fraction=0.25).x_test) == sum(round(0.25 * n) for n in np.bincount(labels))
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.split(test_fraction=0.0)


def _positions(data: datasets.Dataset, images: np.ndarray) -> list[int]:
    where = {image.tobytes(): i for i, image in enumerate(data.images)}  # the 1,797 images are distinct
    return [where[image.tobytes()] for image in images]


def test_digits_shared_split3_is_60_20_20_and_its_test_part_is_splits() -> None:
    # Steps 3 to 5 train on x_train, choose on x_val and measure once on x_test; split() callers
    # (step 5 and 7 notebooks) get the same test images, so all their accuracies compare.
    data = datasets.load("digits")
    x_train, y_train, x_val, y_val, x_test, y_test = data.split3()
    assert (len(x_train), len(x_val), len(x_test)) == (1079, 359, 359)
    assert x_train.shape[1:] == (8, 8, 1) and y_train.dtype == np.int64
    assert np.bincount(y_val).tolist() == np.bincount(y_test).tolist()  # as large a share as test
    assert np.all(np.bincount(y_train) >= 104)
    train, val, test = (_positions(data, x) for x in (x_train, x_val, x_test))
    assert sorted(train + val + test) == list(range(1797))  # every image exactly once
    assert all(data.labels[i] == y for i, y in zip(train, y_train, strict=True))
    assert val == sorted(val) and test == sorted(test) and train != sorted(train)
    two = data.split()
    assert test == _positions(data, two.x_test)
    assert sorted(train + val) == sorted(_positions(data, two.x_train))
    # pinned: sha256 ordering, so every machine and NumPy version holds out these very images
    assert test[:5] == [7, 15, 18, 20, 25] and val[:5] == [4, 9, 21, 23, 33] and train[:3] == [1254, 198, 497]
    again = datasets.load("digits").split3(validation_fraction=0.2, test_fraction=0.2, seed=0)
    np.testing.assert_array_equal(again.x_val, x_val)
    tenth = sum(round(0.1 * n) for n in np.bincount(data.labels))
    assert len(data.split3(validation_fraction=0.1).x_val) == tenth
    with pytest.raises(ValueError, match="leave nothing to train on"):
        data.split3(validation_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="validation_fraction must be between 0 and 1"):
        data.split3(validation_fraction=1.5)


def test_registry_lists_builtin_sets_with_checksums(seven_steps: Path) -> None:
    rows = {r.name: r for r in datasets.registry()}
    assert {"digits", "movie-reviews", "mnist", "cifar10"} <= set(rows)
    assert rows["digits"].bundled and rows["digits"].cached
    reviews = rows["movie-reviews"]
    assert reviews.bundled and reviews.cached and reviews.url is None
    for name in ("mnist", "cifar10"):
        row = rows[name]
        assert not row.cached and row.path is None
        assert row.url and row.url.startswith("https://")
        assert row.sha256 and len(row.sha256) == 64 and int(row.sha256, 16) >= 0
        assert row.size_bytes and row.size_bytes > 1_000_000
    assert rows["cifar10"].url == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert not seven_steps.exists()  # listing creates nothing


def test_load_uncached_names_the_fetch_command_and_stays_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("load() must not touch the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(DatasetError, match="`dl7 data fetch mnist`"):
        datasets.load("mnist")
    with pytest.raises(DatasetError, match="`dl7 data fetch cifar10`"):
        datasets.load("cifar10")


def test_unknown_name_is_bad_input() -> None:
    with pytest.raises(DatasetError, match="unknown data set 'mnsit'; known data sets: digits") as info:
        datasets.load("mnsit")
    assert info.value.exit_code == 2
    with pytest.raises(DatasetError):
        datasets.fetch("mnsit")


def test_fetch_of_a_bundled_set_downloads_nothing(seven_steps: Path) -> None:
    assert datasets.fetch("digits") is None
    assert not seven_steps.exists()


# Offline: the movie-review sentences that ship with dl7 ---------------------------------------

MOVIE_README = DATA / "movie-reviews" / "README.md"


def test_movie_reviews_counts_labels_and_text() -> None:
    data = datasets.load("movie-reviews")
    assert isinstance(data, datasets.TextDataset) and data.name == "movie-reviews"
    assert len(data) == 10_568 and len(data.texts) == 10_568 and isinstance(data.texts, tuple)
    assert data.labels.dtype == np.int64 and data.labels.shape == (10_568,)
    assert data.class_names == ("negative", "positive") and data.num_classes == 2
    assert np.bincount(data.labels).tolist() == [5326, 5242]
    # file order: sentence 1 is rated +2.27, sentence 3 ("Effective but too tepid biopic") -0.6
    assert data.texts[0].startswith("The Rock is destined to be the 21st Century's new ''Conan''")
    assert data.texts[2] == "Effective but too tepid biopic" and data.labels[:3].tolist() == [1, 1, 0]
    # sentence 77 (rated exactly 0.0) is one of the 37 neutral ones left out
    assert not any(t.startswith("Absorbing and disturbing") for t in data.texts)


def test_movie_reviews_split_is_stratified_repeatable_and_disjoint() -> None:
    data = datasets.load("movie-reviews")
    split = data.split()
    x_train, y_train, x_test, y_test = split
    assert len(x_test) == 1057 and len(x_train) == 9511  # 10 % of each class held out
    assert np.bincount(y_test).tolist() == [533, 524] and np.bincount(y_train).tolist() == [4793, 4718]
    assert x_train.dtype == object and isinstance(x_train[0], str) and y_train.dtype == np.int64
    index = {t: i for i, t in enumerate(data.texts)}
    train_ids = [index[t] for t in x_train]
    test_ids = [index[t] for t in x_test]
    assert sorted(x_train.tolist() + x_test.tolist()) == sorted(data.texts)  # every sentence once
    assert not set(x_train) & set(x_test)  # disjoint (two sentences occur twice; both copies in train)
    assert all(data.labels[i] == y for i, y in zip(test_ids, y_test, strict=True))
    assert test_ids == sorted(test_ids)  # the test sentences in file order
    assert train_ids != sorted(train_ids)  # the training sentences shuffled
    again = datasets.load("movie-reviews").split(test_fraction=0.1, seed=0)
    assert again.x_test.tolist() == x_test.tolist() and again.x_train.tolist() == x_train.tolist()
    # pinned, so a change to the split (which the checkers share) cannot pass unnoticed
    assert test_ids[:5] == [15, 36, 44, 46, 76] and train_ids[:3] == [5610, 7762, 8723]
    other = data.split(seed=1)
    assert other.x_test.tolist() != x_test.tolist() and len(other.x_test) == 1057
    assert len(data.split(test_fraction=0.25).x_test) == round(0.25 * 5326) + round(0.25 * 5242)
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.split(test_fraction=1.0)


def test_movie_reviews_text_for_character_models() -> None:
    text = datasets.text("movie-reviews")
    lines = text.split("\n")
    assert text.endswith("\n") and "\r" not in text
    assert len(lines) == 10_606 and lines[-1] == ""  # 10,605 sentences, neutral ones included
    assert lines[0].startswith("The Rock is destined") and lines[76].startswith("Absorbing and disturbing")
    assert lines[2] == "Effective but too tepid biopic"
    assert lines[-2].endswith("In this case zero.")


def test_python_stdlib_text_is_this_pythons_source() -> None:
    text = datasets.text("python-stdlib")
    assert "def dedent(text):" in text and "class JSONDecoder" in text and "\r" not in text
    assert text == datasets.text("python-stdlib") and len(text) > 200_000


def test_unknown_text_is_bad_input() -> None:
    with pytest.raises(DatasetError, match="unknown text 'shakespeare'; known texts: movie-reviews") as info:
        datasets.text("shakespeare")
    assert info.value.exit_code == 2


def test_shipped_file_matches_the_readme_checksums() -> None:
    readme = MOVIE_README.read_text(encoding="utf-8")
    shipped = DATA / "movie-reviews" / "movieReviewSnippets_GroundTruth.txt.gz"
    packed = shipped.read_bytes()
    original = gzip.decompress(packed)
    assert f"| `movieReviewSnippets_GroundTruth.txt.gz` (shipped here) | `{_sha(packed)}` |" in readme
    assert f"(the original text) | `{_sha(original)}` |" in readme
    assert _sha(original) == "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350"  # DESIGN.md
    row = {r.name: r for r in datasets.registry()}["movie-reviews"]
    assert row.sha256 == _sha(original) and row.size_bytes == len(packed) and row.path == str(shipped)


def test_a_damaged_bundled_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A damaged install: the course's declarations beside a file that is not the one they pin.
    copy = tmp_path / "data"
    (copy / "movie-reviews").mkdir(parents=True)
    shutil.copyfile(DATA / "datasets.py", copy / "datasets.py")
    (copy / "movie-reviews" / "movieReviewSnippets_GroundTruth.txt.gz").write_bytes(
        gzip.compress(b"1\t1\thi")
    )
    monkeypatch.setenv(datasets.DATASETS_ENV, str(copy / "datasets.py"))
    with pytest.raises(DatasetError, match=r"is damaged .*reinstall dl7"):
        datasets.load("movie-reviews")
    with pytest.raises(DatasetError, match=r"is damaged"):
        datasets.text("movie-reviews")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_cli_lists_the_seven_steps_sets() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for word in ("digits", "movie-reviews", "mnist", "cifar10", "bundled", "storage.googleapis.com"):
        assert word in result.output
    assert "bundled, 558.8 kB" in result.output and "vaderSentiment 3.3.2" in result.output
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["mnist"]["cached"] is False and rows["digits"]["bundled"] is True
    reviews = rows["movie-reviews"]
    assert reviews["bundled"] is True and reviews["cached"] is True and reviews["size_bytes"] == 558_822
    assert reviews["origin"].startswith("ships with dl7") and reviews["path"].endswith(".txt.gz")
    assert rows["mnist"]["sha256"] == "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
