"""The dataset registry: offline loading, and fetch() against a local HTTP server.

Every download is served by a ``http.server`` on 127.0.0.1 from bytes the test made; nothing
here touches the internet.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import socket
import stat
import tarfile
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dl7 import datasets
from dl7.cli_data import app
from dl7.datasets import DatasetError, Source

# A tiny local file server -------------------------------------------------------------------

ROUTES: dict[str, bytes] = {}
SHORT: set[str] = set()  # paths whose response stops halfway (announced length, half the bytes)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = ROUTES.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in SHORT:
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(datasets.DATA_ENV, str(folder))
    return folder


@pytest.fixture
def entries() -> Iterator[list[str]]:
    """Names registered by a test; unregistered afterwards."""
    added: list[str] = []
    yield added
    for name in added:
        datasets.unregister(name)
    ROUTES.clear()
    SHORT.clear()


def _serve(server: str, entries: list[str], name: str, body: bytes, **kw: object) -> Source:
    path = kw.pop("path", f"/{name}.bin")
    ROUTES[str(path)] = body
    fields: dict[str, object] = {
        "name": name,
        "description": f"test set {name}",
        "loader": datasets.load_npz_images,
        "url": server + str(path),
        "sha256": hashlib.sha256(body).hexdigest(),
        "size_bytes": len(body),
        "filename": f"{name}.npz",
    }
    fields.update(kw)
    source = datasets.register(Source(**fields))  # type: ignore[arg-type]
    entries.append(name)
    return source


def _npz_bytes() -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    np.savez(
        buf,
        x_train=rng.integers(0, 256, (6, 5, 5), dtype=np.uint8),
        y_train=np.array([0, 1, 2, 0, 1, 2]),
        x_test=rng.integers(0, 256, (3, 5, 5), dtype=np.uint8),
        y_test=np.array([2, 1, 0]),
    )
    return buf.getvalue()


def _tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# Offline: the bundled digits ----------------------------------------------------------------


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


def test_split3_of_a_set_with_an_official_test_split_keeps_it() -> None:
    labels = np.array([0, 1] * 10 + [0, 1] * 2, dtype=np.int64)  # 20 train, 4 official test
    images = np.arange(24, dtype=np.float32).reshape(24, 1, 1, 1)
    data = datasets.Dataset("tiny", images, labels, ("a", "b"), test_start=20)
    x_train, _, x_val, _, x_test, y_test = data.split3()
    assert x_test.ravel().tolist() == [20, 21, 22, 23] and y_test.tolist() == [0, 1, 0, 1]
    assert len(x_val) == 4 and len(x_train) == 16  # validation as large a share as the test part
    assert not set(x_val.ravel().tolist()) & {20.0, 21.0, 22.0, 23.0}
    assert data.split().x_test.ravel().tolist() == [20, 21, 22, 23] and len(data.split().x_train) == 20


def test_registry_lists_builtin_sets_with_checksums(data_dir: Path) -> None:
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
    assert not data_dir.exists()  # listing creates nothing


def test_cache_dir_defaults_to_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv(datasets.DATA_ENV)
    assert datasets.cache_dir() == Path(platformdirs.user_cache_dir("dl7")) / "datasets"


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


def test_fetch_of_a_bundled_set_downloads_nothing(data_dir: Path) -> None:
    assert datasets.fetch("digits") is None
    assert not data_dir.exists()


# Offline: the movie-review sentences that ship with dl7 ---------------------------------------

MOVIE_README = datasets.data_root() / "movie-reviews" / "README.md"


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
    shipped = datasets.data_root() / "movie-reviews" / "movieReviewSnippets_GroundTruth.txt.gz"
    packed = shipped.read_bytes()
    original = gzip.decompress(packed)
    assert f"| `movieReviewSnippets_GroundTruth.txt.gz` (shipped here) | `{_sha(packed)}` |" in readme
    assert f"(the original text) | `{_sha(original)}` |" in readme
    assert _sha(original) == "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350"  # DESIGN.md
    row = {r.name: r for r in datasets.registry()}["movie-reviews"]
    assert row.sha256 == _sha(original) and row.size_bytes == len(packed) and row.path == str(shipped)


def test_a_damaged_bundled_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dl7 import textsets

    (tmp_path / "movie-reviews").mkdir()
    damaged = tmp_path / "movie-reviews" / "movieReviewSnippets_GroundTruth.txt.gz"
    damaged.write_bytes(gzip.compress(b"1\t1\thi"))
    monkeypatch.setattr(textsets, "data_root", lambda: tmp_path)
    with pytest.raises(DatasetError, match=r"is damaged .*reinstall dl7"):
        datasets.load("movie-reviews")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# fetch() against the local server -----------------------------------------------------------


def test_fetch_npz_verifies_installs_and_loads(server: str, entries: list[str], data_dir: Path) -> None:
    _serve(server, entries, "tiny", _npz_bytes())
    calls: list[tuple[int, int | None]] = []
    folder = datasets.fetch("tiny", progress=lambda done, total: calls.append((done, total)))
    assert folder == data_dir / "tiny"
    assert _leftovers(data_dir) == ["tiny"] and _leftovers(folder) == ["tiny.npz"]
    size = len(ROUTES["/tiny.bin"])
    assert calls[0] == (0, size) and calls[-1] == (size, size)
    assert {r.name: r for r in datasets.registry()}["tiny"].cached
    data = datasets.load("tiny")
    assert data.name == "tiny" and data.images.shape == (9, 5, 5, 1) and data.test_start == 6
    split = data.split()  # the official split
    assert len(split.x_train) == 6 and list(split.y_test) == [2, 1, 0]
    # cached now: a second fetch does not download
    ROUTES.clear()
    assert datasets.fetch("tiny") == folder


def test_a_fetched_set_gets_the_umask_modes_not_owner_only(
    server: str, entries: list[str], data_dir: Path
) -> None:
    # Before: mkstemp/mkdtemp left the cached file 0o600 and its folder 0o700.
    _serve(server, entries, "tiny", _npz_bytes())
    old = os.umask(0o022)
    try:
        folder = datasets.fetch("tiny")
    finally:
        os.umask(old)
    assert folder is not None
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "tiny.npz").stat().st_mode) == 0o644


def test_fetch_force_replaces_the_cached_copy(server: str, entries: list[str], data_dir: Path) -> None:
    _serve(server, entries, "tiny", _npz_bytes())
    folder = datasets.fetch("tiny")
    assert folder is not None
    (folder / "stale.txt").write_text("old")
    assert datasets.fetch("tiny", force=True) == folder
    assert _leftovers(folder) == ["tiny.npz"] and _leftovers(data_dir) == ["tiny"]


def test_fetch_tar_extracts_into_the_cache(server: str, entries: list[str], data_dir: Path) -> None:
    body = _tar_bytes(
        [
            _file("set/a.txt", b"alpha"),
            _file("set/sub/b.txt", b"beta"),
            _link("set/c.txt", "a.txt"),
        ]
    )
    _serve(server, entries, "tarred", body, filename="tarred.tar.gz", extract=True)
    folder = datasets.fetch("tarred")
    assert folder is not None
    assert (folder / "set" / "a.txt").read_bytes() == b"alpha"
    assert (folder / "set" / "sub" / "b.txt").read_bytes() == b"beta"
    assert (folder / "set" / "c.txt").read_bytes() == b"alpha"
    assert _leftovers(data_dir) == ["tarred"]


def test_checksum_mismatch_removes_the_download(server: str, entries: list[str], data_dir: Path) -> None:
    _serve(server, entries, "bad", _npz_bytes(), sha256="0" * 64)
    with pytest.raises(DatasetError, match=r"corrupt: its sha256 is [0-9a-f]{64}, expected 0{64}"):
        datasets.fetch("bad")
    assert _leftovers(data_dir) == []
    with pytest.raises(DatasetError, match="not downloaded yet"):
        datasets.load("bad")


def test_interrupted_download_leaves_no_half_file(server: str, entries: list[str], data_dir: Path) -> None:
    _serve(server, entries, "short", _npz_bytes())
    SHORT.add("/short.bin")
    with pytest.raises(DatasetError, match=r"interrupted: got .* bytes; nothing was kept") as info:
        datasets.fetch("short")
    assert "dl7 data fetch short" in str(info.value)
    assert _leftovers(data_dir) == []


def test_ctrl_c_during_download_leaves_no_half_file(server: str, entries: list[str], data_dir: Path) -> None:
    _serve(server, entries, "big", b"x" * 300_000)

    def interrupt(done: int, total: int | None) -> None:
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        datasets.fetch("big", progress=interrupt)
    assert _leftovers(data_dir) == []


def test_offline_gives_a_clear_message(entries: list[str], data_dir: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    datasets.register(
        Source(
            "away",
            "unreachable",
            datasets.load_npz_images,
            f"http://127.0.0.1:{port}/x",
            "0" * 64,
            10,
            "x.npz",
        )
    )
    entries.append("away")
    with pytest.raises(
        DatasetError, match=r"could not reach 127\.0\.0\.1:\d+ to download away .*are you online\?"
    ):
        datasets.fetch("away")
    assert _leftovers(data_dir) == []


def test_http_error_is_reported(server: str, entries: list[str], data_dir: Path) -> None:
    _serve(server, entries, "gone", b"data")
    ROUTES.clear()
    with pytest.raises(DatasetError, match="answered HTTP 404"):
        datasets.fetch("gone")
    assert _leftovers(data_dir) == []


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (_file("/abs.txt", b"x"), "absolute path"),
        (_file("set/../../evil.txt", b"x"), "'..'"),
        (_link("set/link", "/etc/passwd"), "outside"),
        (_link("set/link", "../../outside"), "outside"),
        (_link("set/hard", "../outside", tarfile.LNKTYPE), "outside"),
        ((lambda i: (setattr(i, "type", tarfile.CHRTYPE), i)[1])(tarfile.TarInfo("set/dev")), "special file"),
    ],
)
def test_unsafe_tar_members_are_rejected(
    server: str, entries: list[str], data_dir: Path, member: object, why: str
) -> None:
    info_data = member if isinstance(member, tuple) else (member, None)
    body = _tar_bytes([_file("set/ok.txt", b"fine"), info_data])  # type: ignore[list-item]
    _serve(server, entries, "evil", body, filename="evil.tar.gz", extract=True)
    with pytest.raises(DatasetError, match=f"refusing to extract evil.tar.gz: member .*{why}"):
        datasets.fetch("evil")
    assert _leftovers(data_dir) == []
    assert not (data_dir.parent / "evil.txt").exists()


def test_register_rejects_downloads_without_checksum() -> None:
    with pytest.raises(ValueError, match="sha256"):
        datasets.register(Source("nosum", "no checksum", datasets.load_npz_images, "http://x/y"))
    with pytest.raises(ValueError, match="already registered"):
        datasets.register(Source("digits", "again", datasets.load_npz_images))


# The CLI ------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_list_table_and_json() -> None:
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


def test_cli_fetch_success(server: str, entries: list[str], data_dir: Path) -> None:
    _serve(server, entries, "tiny", _npz_bytes())
    result = runner.invoke(app, ["fetch", "tiny"])
    assert result.exit_code == 0, result.output
    assert "tiny is ready in" in result.stdout
    assert (data_dir / "tiny" / "tiny.npz").is_file()


def test_cli_fetch_unknown_name_exits_2_with_one_line() -> None:
    result = runner.invoke(app, ["fetch", "mnsit"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "unknown data set 'mnsit'" in result.stderr and "Traceback" not in result.output


def test_cli_fetch_failure_exits_1(server: str, entries: list[str], data_dir: Path) -> None:
    _serve(server, entries, "bad", _npz_bytes(), sha256="f" * 64)
    result = runner.invoke(app, ["fetch", "bad"])
    assert result.exit_code == 1
    assert "error: the download of bad is corrupt" in result.stderr
    assert "Traceback" not in result.output
    assert _leftovers(data_dir) == []


def test_cli_fetch_bundled_says_nothing_to_do() -> None:
    result = runner.invoke(app, ["fetch", "digits"])
    assert result.exit_code == 0 and "nothing to download" in result.stdout
