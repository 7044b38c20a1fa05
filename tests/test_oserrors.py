"""When the machine says no (issue 15): a full disk, a read-only workspace, a file in the way.

Every such fault is one line naming the path and what the system said, with a hint, and exit
2; never a traceback. Nothing is lost or half-written: the learner's notebooks stay byte for
byte, no temporary file is left, the progress file passes ``integrity_check`` and holds the
whole attempt or none of it. The faults are real where the machine allows it (as root in a
private user and mount namespace: a small tmpfs filled up, a read-only bind mount) and are
injected otherwise.
"""

from __future__ import annotations

import errno
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dl7 import datasets
from dl7.cli import app
from dl7.errors import Dl7Error
from dl7.progress import Progress
from tests.conftest import FIXTURE_COURSE, snapshot
from tests.test_datasets import _npz_bytes, _serve, entries, server  # noqa: F401 (fixtures)
from tests.test_progress import run_in_own_mounts

runner = CliRunner()

# Run inside the namespace: the real CLI in a fresh process, every answer as JSON on stdout.
PROBE = """
import json, os, sqlite3, subprocess, sys
from pathlib import Path
COURSE, HOME = {course!r}, Path({home!r})
os.environ["DL7_HOME"] = str(HOME)
answers = {{}}
def dl7(*args):
    done = subprocess.run([sys.executable, "-m", "dl7", "-c", COURSE, *args], capture_output=True,
                          text=True, timeout=120)
    answers[" ".join(args)] = {{"rc": done.returncode, "out": done.stdout, "err": done.stderr}}
def fill(folder):
    with open(Path(folder) / "filler", "ab", buffering=0) as fh:
        try:
            while True:
                fh.write(b"x" * 1024)
        except OSError:
            pass
def store():
    db = sqlite3.connect(f"{{(HOME / '.dl7' / 'progress.sqlite').as_uri()}}?immutable=1", uri=True)
    try:
        return {{"check": db.execute("PRAGMA integrity_check").fetchone()[0],
                "attempts": db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0],
                "results": db.execute("SELECT COUNT(*) FROM results").fetchone()[0],
                "executed": [r[0] for r in db.execute("SELECT executed_path FROM attempts")]}}
    finally:
        db.close()
"""


def in_namespace(tmp_path: Path, mounts: str, scenario: str) -> dict:
    """Run ``scenario`` (Python, after PROBE) once ``mounts`` (shell, in ``tmp_path``) are made."""
    course = tmp_path / "course"
    if not course.exists():
        shutil.copytree(FIXTURE_COURSE, course)
    probe = PROBE.format(course=str(course), home=str(tmp_path / "ws"))
    out = run_in_own_mounts(tmp_path, mounts, probe + scenario + "\nprint(json.dumps(answers))\n")
    return json.loads(out.splitlines()[-1])  # type: ignore[no-any-return]


def one_line_error(answer: dict, *needles: str) -> str:
    """The answer is exit 2 with one error line (and a hint line), naming every needle."""
    assert answer["rc"] == 2, answer
    assert "Traceback" not in answer["out"] + answer["err"], answer
    lines = [line for line in answer["err"].splitlines() if line.strip()]
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: "), answer
    for needle in needles:
        assert needle in lines[0] + lines[1], (needle, answer)
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    """Temporary, partial or backup files dl7 might have left behind."""
    found = []
    for p in folder.rglob("*"):
        if p.is_file() and (p.name.endswith((".tmp", ".part", ".staging", ".old")) or "backups" in p.parts):
            found.append(str(p.relative_to(folder)))
    return found


# -- a full disk --------------------------------------------------------------------------------


def test_a_full_workspace_still_reads_and_every_write_says_the_disk_is_full(tmp_path: Path) -> None:
    # Before: every command, `dl7 status` included, said "the progress file ... cannot be used:
    # disk I/O error" (SQLite cannot grow its -shm file) and `dl7 reset` was a traceback.
    (tmp_path / "ws").mkdir()
    answers = in_namespace(
        tmp_path,
        "mount -t tmpfs -o size=512k tmpfs ws",
        """
dl7("next")
dl7("hint", "1")
import shutil
shutil.copy(Path(COURSE) / "notebooks" / "basics.ipynb", HOME / "notebooks" / "basics.ipynb")
before = {p.name: p.read_bytes().hex() for p in (HOME / "notebooks").iterdir()}
fill(HOME)
for args in (["status"], ["next"], ["list"], ["show", "1"], ["read", "1"], ["hint", "1"],
             ["read", "1", "1"], ["run", "step1"], ["reset", "step1"]):
    dl7(*args)
(HOME / "filler").unlink()
after = {p.name: p.read_bytes().hex() for p in (HOME / "notebooks").iterdir()}
answers["intact"] = before == after
answers["store"] = store()
""",
    )
    for command in ("status", "next", "list", "show 1", "read 1"):
        assert answers[command]["rc"] == 0 and not answers[command]["err"].strip(), (
            command,
            answers[command],
        )
    assert "Double a number" in answers["show 1"]["out"]
    hint = answers["hint 1"]
    assert hint["rc"] == 0 and "Hint 2 of 2" in hint["out"], hint  # the first one was recorded
    assert "not remembered" in hint["err"] and "disk is full" in hint["err"], hint
    full = "the progress file " + str(tmp_path / "ws" / ".dl7" / "progress.sqlite")
    assert one_line_error(answers["read 1 1"], full, "disk is full", "free some").startswith("error: " + full)
    one_line_error(answers["run step1"], "cannot record a run", full, "disk is full")
    assert "basics" not in answers["run step1"]["out"], "nothing was run in vain"
    one_line_error(answers["reset step1"], "No space left on device", "free some space")
    assert answers["intact"], "the learner's notebooks are byte for byte as they were"
    assert leftovers(tmp_path / "ws") == []
    assert answers["store"] == {"check": "ok", "attempts": 0, "results": 0, "executed": []}


def test_a_run_whose_executed_copy_cannot_be_saved_shows_its_results_and_says_so(tmp_path: Path) -> None:
    # .dl7/runs/ on its own full tmpfs: the store can be written, the executed copy cannot.
    # Before: a Rich traceback of "OSError: [Errno 28] No space left on device", exit 1,
    # and no results shown.
    ws = tmp_path / "ws"
    (ws / ".dl7" / "runs").mkdir(parents=True)
    answers = in_namespace(
        tmp_path,
        "mount -t tmpfs -o size=64k tmpfs ws/.dl7/runs",
        """
dl7("next")
import shutil
shutil.copy(Path(COURSE) / "notebooks" / "basics.ipynb", HOME / "notebooks" / "basics.ipynb")
fill(HOME / ".dl7" / "runs")
dl7("run", "step1")
answers["runs"] = sorted(str(p.relative_to(HOME)) for p in (HOME / ".dl7" / "runs").rglob("*"))
answers["store"] = store()
""",
    )
    run = answers["run step1"]
    assert "✔ passed" in run["out"] and "greets politely" in run["out"], run
    assert "executed copy: not kept" in run["out"]
    one_line_error(
        run, "could not keep the executed copy", str(ws / ".dl7" / "runs" / "step1"), "No space left"
    )
    assert answers["store"] == {"check": "ok", "attempts": 1, "results": 2, "executed": [None]}
    assert answers["runs"] == [".dl7/runs/filler", ".dl7/runs/kernel.log", ".dl7/runs/step1"]


def test_a_full_data_cache_is_one_line_and_keeps_nothing(tmp_path: Path) -> None:
    # Before: "the download of tiny broke off after 0 bytes ([Errno 28] No space left on
    # device)", which blames the network.
    (tmp_path / "small").mkdir()
    scenario = f"""
import hashlib, http.server, threading
body = bytes(range(256)) * 1024
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
os.environ["DL7_DATA"] = "{tmp_path}/small/cache"
from dl7 import datasets
datasets.register(datasets.Source("tiny", "t", datasets.load_npz_images,
    f"http://127.0.0.1:{{httpd.server_address[1]}}/t", hashlib.sha256(body).hexdigest(), len(body),
    filename="t.npz"))
os.mkdir("{tmp_path}/small/cache")
fill("{tmp_path}/small")
try:
    datasets.fetch("tiny")
    answers["fetch"] = "ok"
except datasets.DatasetError as exc:
    answers["fetch"] = [exc.message, exc.hint, int(exc.exit_code)]
answers["left"] = sorted(os.listdir("{tmp_path}/small/cache"))
"""
    answers = in_namespace(tmp_path, "mount -t tmpfs -o size=128k tmpfs small", scenario)
    message, hint, code = answers["fetch"]
    assert message == f"cannot save the data set tiny in {tmp_path}/small/cache: No space left on device"
    assert "free some space" in hint and code == 2
    assert answers["left"] == []


# -- a read-only workspace ----------------------------------------------------------------------


def test_a_read_only_workspace_serves_every_reading_command(tmp_path: Path) -> None:
    # Before: every command said "the progress file ... is read-only: dl7 needs to write it",
    # `dl7 status` and `dl7 next` included, and `dl7 reset` was a traceback.
    (tmp_path / "ws").mkdir()
    answers = in_namespace(
        tmp_path,
        "true",  # the read-only mount is made once the workspace is set up
        """
dl7("next")
dl7("read", "1", "1")
(HOME / ".dl7" / "manifest-cache.json").unlink()  # it cannot be written again: silently skipped
import subprocess
subprocess.run(["mount", "--bind", str(HOME), str(HOME)], check=True)
subprocess.run(["mount", "-o", "remount,bind,ro", str(HOME)], check=True)
before = {str(p): p.read_bytes().hex() for p in HOME.rglob("*") if p.is_file()}
for args in (["status"], ["next"], ["list"], ["show", "1"], ["hint", "1"], ["read", "1"],
             ["status", "--json"], ["data", "list"], ["read", "1", "2"], ["run", "step1"],
             ["reset", "step1"]):
    dl7(*args)
after = {str(p): p.read_bytes().hex() for p in HOME.rglob("*") if p.is_file()}
answers["unchanged"] = before == after
answers["files"] = sorted(str(p.relative_to(HOME)) for p in HOME.rglob("*") if p.is_file())
answers["store"] = store()
""",
    )
    for command in ("status", "next", "list", "show 1", "read 1", "status --json", "data list"):
        assert answers[command]["rc"] == 0 and not answers[command]["err"].strip(), (
            command,
            answers[command],
        )
    assert json.loads(answers["status --json"]["out"])["steps"][0]["readings"]["done"] == 1
    assert "1 of 2 readings done" in answers["read 1"]["out"]
    hint = answers["hint 1"]
    assert hint["rc"] == 0 and "Hint 1 of 2" in hint["out"] and "read-only" in hint["err"], hint
    progress = "the progress file " + str(tmp_path / "ws" / ".dl7" / "progress.sqlite")
    for command in ("read 1 2", "run step1"):
        line = one_line_error(answers[command], progress, "read-only", "DL7_HOME")
        assert "corrupt" not in line
    one_line_error(answers["reset step1"], "Read-only file system", "DL7_HOME")
    assert answers["unchanged"], "a read-only workspace is never touched"
    assert ".dl7/manifest-cache.json" not in answers["files"]
    assert not [f for f in answers["files"] if f.endswith(("-wal", "-shm", ".tmp"))], answers["files"]
    assert answers["store"]["check"] == "ok" and answers["store"]["attempts"] == 0


def test_a_store_being_read_only_reads_and_refuses_writes_with_the_reason(tmp_path: Path) -> None:
    """The store itself, without root: its reason for refusing writes is kept, nothing is moved."""
    path = tmp_path / "p.sqlite"
    with Progress(path, "c") as p:
        p.mark_reading("r1", True)
    error = Dl7Error("the progress file is read-only", hint="h")
    with Progress(path, "c") as p:
        p.db.close()
        p.db = p._open_for_reading(error)
        p.write_error = error
        assert p.readings_done() == {"r1"}
        with pytest.raises(Dl7Error, match="read-only"):
            p.mark_reading("r2", True)
        with pytest.raises(Dl7Error, match=r"^cannot record a run: the progress file is read-only$"):
            p.check_writable("cannot record a run")
    (tmp_path / "p.sqlite-wal").write_bytes(b"x" * 100)  # unsaved writes: the main file alone is stale
    unopened = Progress.__new__(Progress)
    unopened.path = path
    with pytest.raises(Dl7Error, match="read-only"):
        unopened._open_for_reading(error)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.sqlite", "p.sqlite-wal"]


# -- a file in the way, and errors injected -------------------------------------------------------


def dl7(course: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--curriculum", str(course), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.kernel
def test_a_file_where_the_runs_folder_should_be_loses_only_the_executed_copy(
    course: Path, isolated: Path
) -> None:
    # Before: "FileExistsError: [Errno 17] File exists: .../.dl7/runs", a traceback, exit 1.
    dl7(course, "next")
    shutil.copy(course / "notebooks" / "basics.ipynb", isolated / "notebooks" / "basics.ipynb")
    (isolated / ".dl7" / "runs").write_text("in the way")
    before = snapshot(isolated / "notebooks")
    code, out, err = dl7(course, "run", "step1")
    assert code == 2 and "Traceback" not in out + err
    assert "✔ passed" in out and "executed copy: not kept" in out
    assert err.startswith(f"error: could not keep the executed copy {isolated / '.dl7' / 'runs' / 'step1'}")
    assert "hint: something is in the way" in err
    assert snapshot(isolated / "notebooks") == before
    assert (isolated / ".dl7" / "runs").read_text() == "in the way"
    with Progress(isolated / ".dl7" / "progress.sqlite", "fixture") as p:
        assert [a.outcome for a in p.last_attempts().values()] == ["completed"]


@pytest.mark.kernel
def test_a_run_that_cannot_be_recorded_shows_its_results_and_records_none_of_it(
    course: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Injected: SQLite says the disk is full when the attempt is written. Before: the error
    # line alone, the results of the run (which had finished) never shown.
    dl7(course, "next")
    shutil.copy(course / "notebooks" / "basics.ipynb", isolated / "notebooks" / "basics.ipynb")
    real = Progress.transaction

    def full(self: Progress):  # type: ignore[no-untyped-def]
        exc = sqlite3.OperationalError("database or disk is full")
        exc.sqlite_errorcode = 13  # type: ignore[attr-defined]
        raise self._error(exc)

    monkeypatch.setattr(Progress, "transaction", full)
    code, out, err = dl7(course, "run", "step1", "--json")
    monkeypatch.setattr(Progress, "transaction", real)
    assert code == 2 and "Traceback" not in out + err
    data = json.loads(out)
    assert [e["status"] for e in data["notebooks"][0]["exercises"]] == ["passed", "passed"]
    assert data["notebooks"][0]["executed"] and data["notebooks"][0]["not_kept"] == [
        f"this run of notebooks/basics.ipynb was not recorded: the progress file "
        f"{isolated / '.dl7' / 'progress.sqlite'} cannot grow: the disk is full"
    ]
    assert err.splitlines()[0].startswith("error: this run of notebooks/basics.ipynb was not recorded")
    with Progress(isolated / ".dl7" / "progress.sqlite", "fixture") as p:
        assert p.last_attempts() == {} and p.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_folder_dl7_may_not_write_keeps_the_learners_notebook_and_no_backup(
    course: Path, isolated: Path
) -> None:
    # A real "Operation not permitted": an immutable folder stops root too. Before: a
    # traceback of PermissionError from the temporary file, and a backup left behind for a
    # reset that never happened.
    import subprocess

    dl7(course, "next")
    notebooks = isolated / "notebooks"
    (notebooks / "basics.ipynb").write_text('{"cells": [], "mine": true}')
    before = snapshot(notebooks)
    if subprocess.run(["chattr", "+i", str(notebooks)], capture_output=True).returncode != 0:
        pytest.skip("needs chattr +i (an immutable folder also stops root)")
    try:
        code, out, err = dl7(course, "reset", "step1")
    finally:
        subprocess.run(["chattr", "-i", str(notebooks)], check=True)
    assert code == 2 and "Traceback" not in out + err
    assert err.splitlines() == [
        f"error: cannot restore a fresh copy of {notebooks / 'basics.ipynb'}: Operation not permitted",
        "hint: you may not write there: fix its permissions, or set DL7_HOME to a folder you can write",
    ]
    assert snapshot(notebooks) == before
    assert leftovers(isolated) == []


def test_any_os_error_reaching_the_cli_is_one_line_and_exit_2(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The last resort. Before: a Rich traceback of the OSError and exit 1.
    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "/somewhere/file")

    monkeypatch.setattr("dl7.workspace.open_workspace", no_space)
    code, out, err = dl7(course, "next")
    assert code == 2 and "Traceback" not in out + err
    assert err.splitlines() == [
        "error: cannot use /somewhere/file: No space left on device",
        "hint: the disk is full: free some space, then try again",
    ]


def test_a_file_where_the_data_cache_should_be_is_one_line_exit_2(
    server: str,  # noqa: F811
    entries: list[str],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before: a traceback of FileExistsError from the cache folder's mkdir.
    from dl7.cli_data import app as data_app

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv(datasets.DATA_ENV, str(blocker / "cache"))
    _serve(server, entries, "tiny", _npz_bytes())
    result = runner.invoke(data_app, ["fetch", "tiny"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        f"error: cannot save the data set tiny in {blocker / 'cache'}: Not a directory",
        "hint: something is in the way (a file where a folder should be?): move it aside, then try again",
    ]
    assert blocker.read_text() == "x"


def test_a_validate_cache_that_cannot_be_saved_is_one_warning_and_the_verdict_stands(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: silently not saved; every later validate re-ran every notebook, no word why.
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    monkeypatch.setenv("DL7_VALIDATE_CACHE", str(blocker / "validate.json"))
    result = runner.invoke(app, ["--curriculum", str(course), "validate", "step3"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[1:] == [  # after the line naming the course
        f"warning: the validate cache was not saved to {blocker / 'validate.json'}: File exists; "
        "the next validate runs these notebooks again. Something is in the way (a file where a "
        "folder should be?): move it aside, then try again."
    ]
    assert blocker.read_text() == "x"
