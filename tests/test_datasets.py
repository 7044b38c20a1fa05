"""The data-set API: a course's own declarations, offline loading, the one split, and fetch()
against a local HTTP server.

The sets here are a teacher's, declared by a tiny course each test writes; the seven-step
course's own sets are tested with the course (``tests/course/test_datasets.py``). Every
download is served by a ``http.server`` on 127.0.0.1 from bytes the test made; nothing here
touches the internet.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import socket
import stat
import subprocess
import sys
import tarfile
import textwrap
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dl7 import datasets, splits
from dl7.cli_data import app
from dl7.datasets import DatasetError, Source
from dl7.errors import ManifestError

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


# A teacher's course that declares its own data sets ------------------------------------------

TEACHER_SETS = """
# A teacher's data sets: one made in memory, one bundled file, one download, one text.
from pathlib import Path

import numpy as np

from dl7.datasets import Dataset, Source, Text, TextDataset, load_npz_images

HERE = Path(__file__).resolve().parent


def _squares(_):
    labels = np.array([0, 1, 2, 3] * 5, dtype=np.int64)
    return Dataset("anything", np.arange(20, dtype=np.float32).reshape(20, 1, 1, 1), labels, tuple("abcd"))


def _notes(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    labels = np.array([int(line[0]) for line in lines], dtype=np.int64)
    return TextDataset("notes", tuple(line[2:] for line in lines), labels, ("low", "high"))


SOURCES = [
    Source("squares", "twenty grey squares", _squares, origin="made by the test", test_fraction=0.4),
    Source("notes", "labelled notes", _notes, bundled_file=HERE / "notes.txt",
           origin="ships with the course"),
    Source("big", "a download", load_npz_images, "https://example.invalid/big.npz", "a" * 64, 2_000_000,
           "b.npz"),
]
TEXTS = [Text("poem", "a short poem", lambda: "roses are red\\n")]
"""

MANIFEST = """format: 1
id: {id}
title: A teacher's course
{datasets}steps:
- id: one
  title: One
  summary: The only step.
"""


def _course(folder: Path, sets: str | None = TEACHER_SETS, name: str = "sets.py") -> Path:
    """A course folder: a manifest naming ``name`` (when ``sets`` is given) and that module."""
    (folder / "notebooks").mkdir(parents=True)
    if sets is not None:
        (folder / name).write_text(textwrap.dedent(sets), encoding="utf-8")
    (folder / "notes.txt").write_text("".join(f"{i % 2} note {i}\n" for i in range(10)), encoding="utf-8")
    declared = f"datasets: {name}\n" if sets is not None else ""
    manifest = folder / "curriculum.yaml"
    manifest.write_text(MANIFEST.format(id=folder.name, datasets=declared), encoding="utf-8")
    return manifest


@pytest.fixture(autouse=True)
def teacher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The course dl7 uses in these tests is a teacher's (as `--curriculum` would name it), and
    the test runs outside any course or workspace folder."""
    course = tmp_path / "teacher"
    monkeypatch.setenv("DL7_CURRICULUM", str(_course(course)))
    monkeypatch.delenv(datasets.DATASETS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    return course


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


def test_a_teachers_course_declares_its_own_sets(teacher: Path, data_dir: Path) -> None:
    rows = {r.name: r for r in datasets.registry()}
    assert list(rows) == ["squares", "notes", "big"]
    notes = rows["notes"]
    assert notes.bundled and notes.cached and notes.path == str(teacher / "notes.txt")
    assert (
        notes.size_bytes == (teacher / "notes.txt").stat().st_size and notes.origin == "ships with the course"
    )
    assert not rows["big"].cached and rows["big"].url == "https://example.invalid/big.npz"
    assert not data_dir.exists()  # listing creates nothing
    squares = datasets.load("squares")
    assert isinstance(squares, datasets.Dataset) and squares.name == "squares"  # named as declared
    # the course declares 40 % held out: 2 of each class's 5 for test, as many for validation
    assert squares.test_fraction == 0.4 and len(squares.split().x_test) == 8
    assert [len(part) for part in list(squares.split3())[::2]] == [4, 8, 8]
    assert len(squares.split(test_fraction=0.2).x_test) == 4  # an explicit share still wins
    texts = datasets.load("notes")
    assert isinstance(texts, datasets.TextDataset) and texts.texts[1] == "note 1"
    x_test, y_test = texts.split().x_test, texts.split().y_test  # no share declared: the runner's 20 %
    assert len(x_test) == 2 and sorted(y_test.tolist()) == [0, 1] and x_test.dtype == object
    assert datasets.text("poem") == "roses are red\n"


def test_an_undeclared_name_is_bad_input_naming_the_known_ones() -> None:
    with pytest.raises(
        DatasetError, match="unknown data set 'digits'; known data sets: squares, notes, big"
    ) as info:
        datasets.load("digits")
    assert info.value.exit_code == 2
    with pytest.raises(DatasetError, match="unknown data set 'mnist'"):
        datasets.fetch("mnist")
    with pytest.raises(DatasetError, match="unknown text 'movie-reviews'; known texts: poem") as info:
        datasets.text("movie-reviews")
    assert info.value.exit_code == 2


def test_a_course_that_declares_no_sets_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DL7_CURRICULUM", str(_course(tmp_path / "bare", sets=None)))
    with pytest.raises(DatasetError, match="unknown data set 'digits': this course declares no data sets"):
        datasets.load("digits")
    assert datasets.registry() == []


def test_the_runner_names_the_declarations_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.py"
    other.write_text("from dl7.datasets import Text\nTEXTS = [Text('other', 'x', lambda: 'other')]\n")
    monkeypatch.setenv(datasets.DATASETS_ENV, str(other))  # wins over the course DL7_CURRICULUM names
    assert datasets.text("other") == "other"
    with pytest.raises(DatasetError, match="unknown data set 'squares'"):
        datasets.load("squares")
    monkeypatch.setenv(datasets.DATASETS_ENV, "")  # the runner's word for "this course declares none"
    with pytest.raises(DatasetError, match="declares no data sets"):
        datasets.load("squares")


def test_in_jupyter_the_workspace_names_the_courses_sets(
    teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dl7.curriculum import load
    from dl7.workspace import open_workspace

    workspace = tmp_path / "ws"
    open_workspace(load(teacher / "curriculum.yaml"), workspace)
    info = json.loads((workspace / ".dl7" / "workspace.json").read_text(encoding="utf-8"))
    assert info["datasets"] == str(teacher / "sets.py")
    # A kernel JupyterLab started in the workspace: no variable from the runner, and the course
    # dl7 would use by default is the seven steps, which have no "squares".
    monkeypatch.delenv("DL7_CURRICULUM")
    (workspace / "notebooks").mkdir(exist_ok=True)
    monkeypatch.chdir(workspace / "notebooks")
    assert datasets.load("squares").name == "squares"
    # A workspace made before dl7 recorded the data sets: its recorded course names them.
    del info["datasets"]
    (workspace / ".dl7" / "workspace.json").write_text(json.dumps(info), encoding="utf-8")
    assert datasets.text("poem") == "roses are red\n"


def test_an_author_in_the_course_folder_gets_its_sets(teacher: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DL7_CURRICULUM")
    monkeypatch.chdir(teacher / "notebooks")  # previewing a source notebook in JupyterLab
    assert datasets.load("squares").name == "squares"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("SOURCES = [\n", r"sets\.py cannot be loaded \(SyntaxError"),
        ("\n\nraise RuntimeError('boom')\n", r"cannot be loaded \(RuntimeError: boom at .*sets\.py:3\)"),
        ("SOURCE = []\n", "declares no data sets: it defines neither SOURCES nor TEXTS"),
        ("SOURCES = ['digits']\n", r"SOURCES\[0\] is a str, not a dl7\.datasets\.Source"),
        ("TEXTS = 'poem'\n", "TEXTS must be a list of Text"),
        (
            "from dl7.datasets import Text\nTEXTS = [Text('a', '', str), Text('a', '', str)]\n",
            "TEXTS names 'a' twice",
        ),
        (
            "from dl7.datasets import Source\nSOURCES = [Source('x', '', print, 'https://e.invalid/x')]\n",
            "x: a downloadable data set needs sha256 and filename",
        ),
        (
            "from dl7.datasets import Source\nSOURCES = [Source('x', '', print, test_fraction=1.5)]\n",
            "test_fraction must be between 0 and 1",
        ),
    ],
)
def test_broken_declarations_are_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, problem: str
) -> None:
    monkeypatch.setenv("DL7_CURRICULUM", str(_course(tmp_path / "broken", sets=body)))
    with pytest.raises(DatasetError, match=problem) as info:
        datasets.load("x")
    assert info.value.exit_code == 2 and "\n" not in info.value.message


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("nowhere.py", "datasets: data-set declarations not found"),
        ("../outside.py", "points outside the course folder"),
        ("not a module", "is neither a .py file in the course nor a dotted module name"),
        ("[1]", "datasets: expected a str, got a list"),
    ],
)
def test_the_manifest_checks_its_datasets_key(tmp_path: Path, value: str, problem: str) -> None:
    from dl7.curriculum import load

    manifest = _course(tmp_path / "course")
    text = manifest.read_text(encoding="utf-8").replace("datasets: sets.py", f"datasets: {value}")
    manifest.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError, match=problem):
        load(manifest)


def test_a_broken_manifest_is_a_dataset_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _course(tmp_path / "course")
    manifest.write_text(manifest.read_text(encoding="utf-8") + "colour: blue\n", encoding="utf-8")
    monkeypatch.setenv("DL7_CURRICULUM", str(manifest))
    with pytest.raises(
        DatasetError, match=r"cannot tell which data sets the course declares: .*curriculum\.yaml"
    ):
        datasets.load("squares")


# One split, no circle -------------------------------------------------------------------------


def test_images_and_sentences_split_by_the_one_definition() -> None:
    labels = np.array([0, 1, 1, 2, 0, 2, 1, 0, 2, 1] * 3, dtype=np.int64)
    images = datasets.Dataset("i", np.arange(30, dtype=np.float32).reshape(30, 1, 1, 1), labels, tuple("abc"))
    sentences = datasets.TextDataset("t", tuple(str(i) for i in range(30)), labels, tuple("abc"))
    assert datasets.TextDataset.split is datasets.Dataset.split is splits.Labelled.split
    for a, b in zip(images.split3(seed=3), sentences.split3(seed=3), strict=True):
        if a.dtype == np.int64:
            assert a.tolist() == b.tolist()
        else:
            assert [str(int(v)) for v in a.ravel()] == b.tolist()
    assert images.split().x_test.size == 6  # the runner's one default, 20 % of each class


def test_split3_of_a_set_with_an_official_test_split_keeps_it() -> None:
    labels = np.array([0, 1] * 10 + [0, 1] * 2, dtype=np.int64)  # 20 train, 4 official test
    images = np.arange(24, dtype=np.float32).reshape(24, 1, 1, 1)
    data = datasets.Dataset("tiny", images, labels, ("a", "b"), test_start=20)
    x_train, _, x_val, _, x_test, y_test = data.split3()
    assert x_test.ravel().tolist() == [20, 21, 22, 23] and y_test.tolist() == [0, 1, 0, 1]
    assert len(x_val) == 4 and len(x_train) == 16  # validation as large a share as the test part
    assert not set(x_val.ravel().tolist()) & {20.0, 21.0, 22.0, 23.0}
    assert data.split().x_test.ravel().tolist() == [20, 21, 22, 23] and len(data.split().x_train) == 20
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.split(test_fraction=0.0)
    with pytest.raises(ValueError, match="leave nothing to train on"):
        data.split3(validation_fraction=0.5, test_fraction=0.5)


def test_the_split_module_stands_alone_and_the_circle_is_gone() -> None:
    # Before: dl7.datasets imported dl7.textsets, whose split imported dl7.datasets back.
    source = Path(splits.__file__).read_text(encoding="utf-8")
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {m for m in imported if m == "dl7" or m.startswith("dl7.")}
    probe = (
        "import sys, importlib.util\n"
        "import dl7.splits\n"
        "assert 'dl7.datasets' not in sys.modules\n"
        "assert importlib.util.find_spec('dl7.textsets') is None\n"
        "import dl7.datasets\n"
        "heavy = {'numpy', 'sklearn', 'yaml', 'urllib.request', 'dl7.download', 'dl7.checks'}\n"
        "heavy |= {'dl7.curriculum'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_cache_dir_defaults_to_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv(datasets.DATA_ENV)
    assert datasets.cache_dir() == Path(platformdirs.user_cache_dir("dl7")) / "datasets"


def test_load_uncached_names_the_fetch_command_and_stays_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("load() must not touch the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(DatasetError, match=r"not downloaded yet \(2 MB\); run `dl7 data fetch big`"):
        datasets.load("big")


def test_fetch_of_an_offline_set_downloads_nothing(data_dir: Path) -> None:
    assert datasets.fetch("squares") is None and datasets.fetch("notes") is None
    assert not data_dir.exists()


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
    _serve(server, entries, "huge", b"x" * 300_000)

    def interrupt(done: int, total: int | None) -> None:
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        datasets.fetch("huge", progress=interrupt)
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
        datasets.register(Source("squares", "again", datasets.load_npz_images))  # the course's


# The CLI ------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_list_table_and_json_show_the_courses_sets(teacher: Path) -> None:
    result = runner.invoke(app, ["list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for word in ("squares", "notes", "big", "bundled", "example.invalid", "ships with the course"):
        assert word in result.output
    assert "digits" not in result.output  # the seven steps' sets are not this course's
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert list(rows) == ["squares", "notes", "big"]
    assert rows["big"]["cached"] is False and rows["notes"]["bundled"] is True
    assert rows["notes"]["path"] == str(teacher / "notes.txt")


def test_cli_fetch_success(server: str, entries: list[str], data_dir: Path) -> None:
    _serve(server, entries, "tiny", _npz_bytes())
    result = runner.invoke(app, ["fetch", "tiny"])
    assert result.exit_code == 0, result.output
    assert "tiny is ready in" in result.stdout
    assert (data_dir / "tiny" / "tiny.npz").is_file()


def test_cli_fetch_unknown_name_exits_2_with_one_line() -> None:
    result = runner.invoke(app, ["fetch", "mnsit"])
    assert result.exit_code == 2
    assert "unknown data set 'mnsit'; known data sets: squares, notes, big" in result.stderr
    assert "Traceback" not in result.output


def test_cli_fetch_failure_exits_1(server: str, entries: list[str], data_dir: Path) -> None:
    _serve(server, entries, "bad", _npz_bytes(), sha256="f" * 64)
    result = runner.invoke(app, ["fetch", "bad"])
    assert result.exit_code == 1
    assert "error: the download of bad is corrupt" in result.stderr
    assert "Traceback" not in result.output
    assert _leftovers(data_dir) == []


def test_cli_fetch_offline_set_says_nothing_to_do() -> None:
    result = runner.invoke(app, ["fetch", "squares"])
    assert result.exit_code == 0 and "nothing to download" in result.stdout


def test_cli_lists_the_course_named_with_curriculum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dl7.cli import app as dl7
    from dl7.cli_common import state

    for name in ("curriculum_path", "curriculum_named"):  # the option sets them for the process
        monkeypatch.setattr(state, name, getattr(state, name))
    other = _course(
        tmp_path / "other", sets="from dl7.datasets import Source\nSOURCES = [Source('own', 'x', print)]\n"
    )
    result = runner.invoke(dl7, ["--curriculum", str(other), "data", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert [r["name"] for r in json.loads(result.stdout)] == ["own"]


@pytest.mark.kernel
def test_a_kernel_the_runner_starts_finds_the_courses_sets(
    teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dl7.curriculum import load
    from dl7.execute import execute

    curriculum = load(teacher / "curriculum.yaml")
    # Outside the course and any workspace, with no course named: only the runner's word
    # (DL7_DATASETS) leads the kernel to this course's sets, not to the seven steps'.
    monkeypatch.delenv("DL7_CURRICULUM")
    source = "from dl7 import datasets\nprint(datasets.text('poem'), datasets.load('squares').name)"
    cell = {"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    execution = execute(nb, tmp_path, cell_timeout=60, budget=120, datasets=curriculum.datasets)
    assert execution.outcome == "completed", execution.message
    outputs = execution.nb.cells[0].outputs
    assert [o.get("text") for o in outputs] == ["roses are red\n squares\n"], outputs


def test_doctor_reports_the_courses_sets_and_a_broken_declaration(teacher: Path, tmp_path: Path) -> None:
    from dl7 import doctor
    from dl7.curriculum import load

    found = doctor.datasets(load(teacher / "curriculum.yaml"))
    assert found.ok and found.detail.startswith("present: squares, notes; optional, not fetched: big")
    broken = load(_course(tmp_path / "broken", sets="SOURCES = [1]\n"))
    found = doctor.datasets(broken)
    assert not found.ok and "SOURCES[0] is a int, not a dl7.datasets.Source" in found.detail


# A cached archive is checked again when it is read: nothing unverified is unpickled -----------

COURSE_SETS = Path(__file__).resolve().parents[1] / "data" / "datasets.py"
CIFAR_FILES = [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]


class _Payload:
    """A pickle that, when loaded, creates ``marker``: what a planted batch would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def _batch(seed: int) -> bytes:
    import pickle

    labels = [seed % 10, (seed + 1) % 10]
    data = (np.arange(2 * 3072) % 256).astype(np.uint8).reshape(2, 3072)
    return pickle.dumps({b"batch_label": b"tiny", b"labels": labels, b"data": data}, protocol=2)


@pytest.fixture
def tiny_cifar(server: str, entries: list[str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The seven steps' CIFAR-10 loader, fetching a tiny archive of the same layout from the
    local server (2 images per batch) as the data set ``tinycifar``."""
    import pickle
    from dataclasses import replace

    monkeypatch.setenv(datasets.DATASETS_ENV, str(COURSE_SETS))
    declared = {s.name: s for s in datasets.declarations().sources}["cifar10"]
    meta = pickle.dumps({b"label_names": [f"class{i}".encode() for i in range(10)]}, protocol=2)
    members = [_file(f"cifar-10-batches-py/{n}", _batch(i)) for i, n in enumerate(CIFAR_FILES)]
    body = _tar_bytes([*members, _file("cifar-10-batches-py/batches.meta", meta)])
    ROUTES["/tiny-cifar.tar.gz"] = body
    tiny = replace(
        declared,
        name="tinycifar",
        url=server + "/tiny-cifar.tar.gz",
        sha256=hashlib.sha256(body).hexdigest(),
        size_bytes=len(body),
        filename="tiny-cifar.tar.gz",
    )
    datasets.register(tiny)
    entries.append("tinycifar")
    return "tinycifar"


def test_a_tampered_cached_cifar_batch_is_refused_and_never_unpickled(
    tiny_cifar: str, data_dir: Path, tmp_path: Path
) -> None:
    datasets.fetch(tiny_cifar)
    data = datasets.load(tiny_cifar)
    assert data.images.shape == (12, 32, 32, 3) and data.class_names[:2] == ("class0", "class1")
    marker = tmp_path / "ran"
    import pickle

    batch = data_dir / tiny_cifar / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(pickle.dumps(_Payload(marker)))  # someone who can write the cache
    with pytest.raises(DatasetError, match=r"data_batch_3 was changed after it was downloaded .*--force"):
        datasets.load(tiny_cifar)
    assert not marker.exists(), "the planted pickle ran"
    datasets.fetch(tiny_cifar, force=True)  # the fix the message names
    assert datasets.load(tiny_cifar).images.shape == (12, 32, 32, 3)


def test_a_cifar_folder_not_fetched_by_dl7_is_refused_and_never_unpickled(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pickle

    monkeypatch.setenv(datasets.DATASETS_ENV, str(COURSE_SETS))
    marker = tmp_path / "ran"
    base = data_dir / "cifar10" / "cifar-10-batches-py"  # made by hand (or by an older dl7)
    base.mkdir(parents=True)
    for name in [*CIFAR_FILES, "batches.meta"]:
        (base / name).write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(DatasetError, match=r"cifar10 data set in .* has no record of its files' sha256"):
        datasets.load("cifar10")
    assert not marker.exists(), "the planted pickle ran"


def test_a_digest_record_another_user_could_have_written_is_not_believed(
    tiny_cifar: str, data_dir: Path, tmp_path: Path
) -> None:
    import pickle
    import pwd

    old = os.umask(0o002)  # a group-writable umask: the record is still written 0o644
    try:
        datasets.fetch(tiny_cifar)
    finally:
        os.umask(old)
    folder = data_dir / tiny_cifar
    record = folder / datasets.DIGESTS_FILE
    assert stat.S_IMODE(record.stat().st_mode) == 0o644
    marker = tmp_path / "ran"
    evil = pickle.dumps(_Payload(marker))
    (folder / "cifar-10-batches-py" / "test_batch").write_bytes(evil)
    forged = record.read_text().splitlines()
    forged = [
        f"{hashlib.sha256(evil).hexdigest()}  {line[66:]}" if line.endswith("/test_batch") else line
        for line in forged
    ]
    record.write_text("\n".join(forged) + "\n")  # the record rewritten to match, by another user
    nobody = pwd.getpwnam("nobody")
    os.chown(record, nobody.pw_uid, nobody.pw_gid)
    with pytest.raises(DatasetError, match="is not yours or others can write it"):
        datasets.load(tiny_cifar)
    os.chown(record, os.getuid(), os.getgid())
    record.chmod(0o666)
    with pytest.raises(DatasetError, match="is not yours or others can write it"):
        datasets.load(tiny_cifar)
    assert not marker.exists(), "the planted pickle ran"


# Extracting on a Python older than 3.11.4 (no tarfile filters) ----------------------------------

_EXTRACT_ON_ANY_PYTHON = r"""
import io, json, os, stat, sys, tarfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from dl7.download import extract_tar
from dl7.errors import DatasetError

def archive(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, mode, data in members:
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.uname = mode, 4242, "someone"
            if kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

work = sys.argv[2]
good = os.path.join(work, "good.tar.gz")
archive(good, [
    ("set/sub", "dir", 0o777, None),
    ("set/run.sh", "file", 0o4777, b"#!/bin/sh\n"),
    ("set/data.txt", "file", 0o666, b"data"),
    ("set/sub/private.txt", "file", 0o400, b"mine"),
    ("set/link", "link", 0o777, "data.txt"),
])
dest = os.path.join(work, "out")
os.mkdir(dest)
extract_tar(Path(good), Path(dest))
found = {}
for name in ("set/sub", "set/run.sh", "set/data.txt", "set/sub/private.txt"):
    st = os.stat(os.path.join(dest, name))
    found[name] = [stat.S_IMODE(st.st_mode), st.st_uid]
found["link"] = os.readlink(os.path.join(dest, "set/link"))
found["read"] = open(os.path.join(dest, "set/link")).read()
bad = os.path.join(work, "bad.tar.gz")
archive(bad, [("set/../../evil.txt", "file", 0o644, b"x")])
try:
    extract_tar(Path(bad), Path(dest))
except DatasetError as exc:
    found["refused"] = str(exc)
found["filters"] = hasattr(tarfile, "data_filter")
print(json.dumps(found))
"""


_NO_FILTERS = (
    "import sys, tarfile; print(sys.version_info >= (3, 11) and not hasattr(tarfile, 'data_filter'))"
)


def _pythons_without_tar_filters() -> list[str]:
    import shutil as _shutil

    found = []
    for name in ("python3.11", "python3"):
        for folder in ("/usr/bin", "/usr/local/bin"):
            exe = _shutil.which(name, path=folder)
            if exe is None or exe in found:
                continue
            done = subprocess.run([exe, "-I", "-c", _NO_FILTERS], capture_output=True, text=True, check=False)
            if done.stdout.strip() == "True":
                found.append(exe)
    return found


def _check_extracted(found: dict[str, object]) -> None:
    assert found["set/run.sh"][0] == 0o755, "no set-user-id bit, no world write"  # type: ignore[index]
    assert found["set/data.txt"][0] == 0o644  # type: ignore[index]
    assert found["set/sub/private.txt"][0] == 0o600, "its owner can read and write it"  # type: ignore[index]
    assert not found["set/sub"][0] & 0o022  # type: ignore[index]
    assert all(found[n][1] == os.getuid() for n in ("set/run.sh", "set/data.txt"))  # type: ignore[index]
    assert found["link"] == "data.txt" and found["read"] == "data"
    assert "refusing to extract bad.tar.gz: member 'set/../../evil.txt' climbs out" in str(found["refused"])


def test_extraction_works_and_stays_safe_on_a_python_older_than_3_11_4(tmp_path: Path) -> None:
    """tarfile's `filter=` exists only from Python 3.11.4 (Debian 12's 3.11.2 has none): such a
    Python, really run, extracts with the same checks and modes instead of a TypeError."""
    olds = _pythons_without_tar_filters()
    if not olds:
        pytest.skip("no Python 3.11 without tarfile filters on this machine")
    src = str(Path(__file__).resolve().parents[1] / "src")
    for exe in olds:
        work = tmp_path / Path(exe).name
        work.mkdir()
        done = subprocess.run(
            [exe, "-I", "-c", _EXTRACT_ON_ANY_PYTHON, src, str(work)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout)
        assert found["filters"] is False
        _check_extracted(found)


def test_extraction_without_filters_gives_what_the_data_filter_gives(tmp_path: Path) -> None:
    """The same script on this Python, with and without its filters: one result."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    without = "import tarfile; del tarfile.data_filter\n" + _EXTRACT_ON_ANY_PYTHON
    for name, script in (("with", _EXTRACT_ON_ANY_PYTHON), ("without", without)):
        work = tmp_path / name
        work.mkdir()
        done = subprocess.run(
            [sys.executable, "-W", "ignore::DeprecationWarning", "-c", script, src, str(work)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout)
        assert found["filters"] is (name == "with")
        _check_extracted(found)
