"""The SQLite store: migrations, atomic attempts, concurrent writers, corrupt files."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dl7.errors import Dl7Error
from dl7.progress import MIGRATIONS, Progress


def test_schema_is_pinned(tmp_path: Path) -> None:
    with Progress(tmp_path / "p.sqlite", "c") as p:
        tables = {r[0] for r in p.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        applied = [r[0] for r in p.db.execute("SELECT name FROM _migrations ORDER BY name")]
        mode = p.db.execute("PRAGMA journal_mode").fetchone()[0]
    assert tables == {"_migrations", "attempts", "results", "readings", "hints"}
    assert applied == [name for name, _ in MIGRATIONS]
    assert mode == "wal"


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    Progress(tmp_path / "p.sqlite", "c").close()
    with Progress(tmp_path / "p.sqlite", "c") as p:
        assert p.db.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)


def test_latest_result_wins(tmp_path: Path) -> None:
    with Progress(tmp_path / "p.sqlite", "c") as p:
        p.record_attempt(
            "step1", "nb", "2026-01-01T00:00:00", 1.0, "completed", None, [("step1.a", "failed", "no", 0.1)]
        )
        p.record_attempt(
            "step1", "nb", "2026-01-01T00:01:00", 1.0, "completed", None, [("step1.a", "passed", "yes", 0.1)]
        )
        assert p.latest_results()["step1.a"].status == "passed"
        assert p.last_attempts()["step1"].started_at == "2026-01-01T00:01:00"
        assert p.attempt_count("step1") == 2


def test_attempt_and_results_land_together_or_not_at_all(tmp_path: Path) -> None:
    with Progress(tmp_path / "p.sqlite", "c") as p:
        with pytest.raises(sqlite3.IntegrityError):
            # the same exercise twice violates the primary key: the attempt must vanish too
            p.record_attempt(
                "step1",
                "nb",
                "t",
                1.0,
                "completed",
                None,
                [("step1.a", "passed", "", 0), ("step1.a", "failed", "", 0)],
            )
        assert p.db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 0


def test_two_writers_at_once_both_land(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    Progress(path, "c").close()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with Progress(path, "c") as p:
                for i in range(25):
                    p.record_attempt(
                        "step1",
                        f"nb{n}",
                        "t",
                        0.1,
                        "completed",
                        None,
                        [(f"step1.e{n}_{i}", "passed", "", 0.0)],
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with Progress(path, "c") as p:
        assert p.db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 50


def test_readings_and_hints(tmp_path: Path) -> None:
    with Progress(tmp_path / "p.sqlite", "c") as p:
        p.mark_reading("r1", True)
        p.mark_reading("r1", True)
        assert p.readings_done() == {"r1"}
        p.mark_reading("r1", False)
        assert p.readings_done() == set()
        assert [p.show_next_hint("e", 2) for _ in range(3)] == [1, 2, 2]
        assert p.hints_shown("e") == 2


def test_corrupt_file_is_moved_aside_not_replaced_silently(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with Progress(path, "c") as p:
        assert p.moved_aside is not None
        assert p.moved_aside.read_bytes().startswith(b"this is not a database")
        assert p.readings_done() == set()


# -- busy, read-only and full stores are errors, never "corrupt" -------------------------------


@contextmanager
def held_lock(path: Path, how: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
    """Another process's connection holding the write lock (BEGIN IMMEDIATE or EXCLUSIVE)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute(f"BEGIN {how}")
    other.execute("CREATE TABLE IF NOT EXISTS held (x)")  # a real pending write
    try:
        yield other
    finally:
        other.execute("ROLLBACK")
        other.close()


def _store(path: Path) -> None:
    with Progress(path, "c") as p:
        p.mark_reading("r1", True)


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if not p.name.endswith(("-wal", "-shm")))


def test_reading_a_current_store_takes_no_write_lock(tmp_path: Path) -> None:
    # Before: opening ran BEGIN IMMEDIATE for every migration, so `dl7 status` waited 30 s for
    # a running `dl7 run` to commit, then moved the healthy file aside as "corrupt".
    path = tmp_path / "p.sqlite"
    _store(path)
    with held_lock(path):
        started = time.perf_counter()
        with Progress(path, "c", timeout=0.5) as p:
            assert p.moved_aside is None
            assert p.readings_done() == {"r1"}
        assert time.perf_counter() - started < 0.5
    assert _siblings(path) == ["p.sqlite"]


def test_a_write_to_a_busy_store_is_a_clear_error_and_moves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    _store(path)
    with Progress(path, "c", timeout=0.2) as p, held_lock(path, "EXCLUSIVE"):
        with pytest.raises(Dl7Error) as info:
            p.mark_reading("r2", True)
        assert "is busy" in info.value.message and str(path) in info.value.message
        assert "\n" not in info.value.message
    with Progress(path, "c") as p:
        assert p.readings_done() == {"r1"}
    assert _siblings(path) == ["p.sqlite"]


def test_a_store_locked_before_its_first_migration_is_not_corrupt(tmp_path: Path) -> None:
    # A rollback-journal store (no WAL yet) locked exclusively cannot even be read meanwhile.
    path = tmp_path / "p.sqlite"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE notes (x)")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO notes VALUES (1)")
    try:
        with pytest.raises(Dl7Error, match="is busy"):
            Progress(path, "c", timeout=0.2)
    finally:
        other.execute("COMMIT")
        other.close()
    assert _siblings(path) == ["p.sqlite"]
    with Progress(path, "c") as p:
        assert p.moved_aside is None
        assert p.db.execute("SELECT x FROM notes").fetchall() == [(1,)]


def test_a_failing_integrity_check_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    _store(path)
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    data = bytearray(path.read_bytes())
    data[page_size + 8 : page_size * 2] = b"\xff" * (page_size - 8)  # wreck the second page
    path.write_bytes(bytes(data))
    with Progress(path, "c") as p:
        assert p.moved_aside is not None and p.readings_done() == set()


def _unshare() -> None:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("needs unshare(1) and mount(8)")
    if subprocess.run(["unshare", "-r", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs user and mount namespaces")


def run_in_own_mounts(tmp_path: Path, mounts: str, probe: str) -> str:
    """Run Python code after shell ``mounts`` in a private user and mount namespace."""
    _unshare()
    script = tmp_path / "probe.py"
    script.write_text(probe)
    done = subprocess.run(
        ["unshare", "-r", "-m", "sh", "-ec", f"{mounts}\nexec {sys.executable} {script}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


PROBE = """
from pathlib import Path
from dl7.errors import Dl7Error
from dl7.progress import Progress
def attempt(what, action):
    try:
        print(what, "ok", action())
    except Dl7Error as exc:
        print(what, "error", exc.message)
"""


def test_a_store_on_a_read_only_mount_is_read_and_writes_are_an_error_and_moves_nothing(
    tmp_path: Path,
) -> None:
    # A real read-only bind mount: chmod would not stop root. Before: "is corrupt and cannot be
    # moved aside: Read-only file system". It is read as it is (issue 15); a write says why not.
    folder = tmp_path / "ws"
    folder.mkdir()
    _store(folder / "p.sqlite")
    probe = PROBE + (
        "p = Progress(Path('ws/p.sqlite'), 'c', timeout=0.2)\n"
        "attempt('open', p.readings_done)\n"
        "attempt('write', lambda: p.mark_reading('r2', True))\n"
    )
    out = run_in_own_mounts(tmp_path, "mount --bind ws ws\nmount -o remount,bind,ro ws", probe)
    lines = out.splitlines()
    assert lines[0] == "open ok {'r1'}", out
    assert lines[1].startswith("write error the progress file") and "read-only" in lines[1], out
    assert "corrupt" not in out
    assert _siblings(folder / "p.sqlite") == ["p.sqlite"]


def test_a_read_only_file_still_reads_and_refuses_writes_clearly(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    _store(path)
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("needs chattr +i (an immutable file also stops root)")
    try:
        with Progress(path, "c", timeout=0.2) as p:
            assert p.readings_done() == {"r1"}
            with pytest.raises(Dl7Error, match="read-only"):
                p.mark_reading("r2", True)
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    assert _siblings(path) == ["p.sqlite"]


def test_a_full_disk_is_an_error_and_moves_nothing(tmp_path: Path) -> None:
    # A real 256 KiB tmpfs, filled up. Before: a new store's migration failed with SQLITE_FULL,
    # the empty file was moved aside as "corrupt", then a traceback.
    probe = PROBE + (
        "import os\n"
        "def fill():\n"
        "    with open('small/filler', 'ab', buffering=0) as fh:\n"
        "        try:\n"
        "            while True:\n"
        "                fh.write(b'x' * 4096)\n"
        "        except OSError:\n"
        "            pass\n"
        "fill()\n"
        "attempt('new', lambda: Progress(Path('small/p.sqlite'), 'c', timeout=0.2))\n"
        "os.unlink('small/filler')\n"
        "p = Progress(Path('small/p.sqlite'), 'c', timeout=0.2)\n"
        "fill()\n"
        "rows = [(f'e{i}', 'passed', 'x' * 4000, 0.0) for i in range(100)]\n"
        "attempt('write', lambda: p.record_attempt('s', 'nb', 't', 1.0, 'completed', None, rows))\n"
        "print('files', sorted(os.listdir('small')))\n"
    )
    (tmp_path / "small").mkdir()
    out = run_in_own_mounts(tmp_path, "mount -t tmpfs -o size=256k tmpfs small", probe)
    lines = out.splitlines()
    assert lines[0].startswith("new error") and "disk is full" in lines[0], out
    assert lines[1].startswith("write error") and "disk is full" in lines[1], out
    assert (
        "corrupt" not in out and lines[2] == "files ['filler', 'p.sqlite', 'p.sqlite-shm', 'p.sqlite-wal']"
    ), out


# -- the newest run wins: attempts are ordered by start, not by finish ---------------------------


def test_attempts_carry_their_start_order_and_code_digest(tmp_path: Path) -> None:
    with Progress(tmp_path / "p.sqlite", "c") as p:
        columns = {row[1] for row in p.db.execute("PRAGMA table_info(attempts)")}
        p.record_attempt("step1", "nb", "t", 1.0, "completed", None, [], started_ns=5, code_digest="abc")
        assert p.last_attempts()["step1"].code_digest == "abc"
    assert {"started_ns", "code_digest"} <= columns


def test_overlapping_runs_the_one_that_started_last_wins(tmp_path: Path) -> None:
    """Two writers, as `dl7 watch` and `dl7 run` in two terminals: the slow run of the older save
    starts first and finishes last; the fast run of the newer save must still be the verdict."""
    path = tmp_path / "p.sqlite"
    Progress(path, "c").close()
    old_started, new_recorded = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run(save: str, status: str, before: threading.Event | None, after: threading.Event) -> None:
        try:
            if before is not None:
                assert before.wait(60)
            started = time.time_ns()  # the run reads its notebook
            after.set()
            if save == "old":
                assert new_recorded.wait(60)  # the slow run finishes only after the fast one
            with Progress(path, "c") as p:
                p.record_attempt(
                    "step1",
                    "nb",
                    "2026-01-01T00:00:00",  # both in the same second: only started_ns tells them apart
                    1.0,
                    "completed",
                    None,
                    [("step1.a", status, save, 0.0)],
                    started_ns=started,
                    code_digest=save,
                )
            if save == "new":
                new_recorded.set()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            new_recorded.set()

    done = threading.Event()
    slow = threading.Thread(target=run, args=("old", "failed", None, old_started))
    fast = threading.Thread(target=run, args=("new", "passed", old_started, done))
    slow.start()
    fast.start()
    slow.join(120)
    fast.join(120)
    assert not errors
    with Progress(path, "c") as p:
        ids = [row[0] for row in p.db.execute("SELECT code_digest FROM attempts ORDER BY id")]
        assert ids == ["new", "old"], "the old save's run really finished last"
        assert p.latest_results()["step1.a"].message == "new"
        assert p.latest_results()["step1.a"].status == "passed"
        assert p.last_attempts()["step1"].code_digest == "new"


def test_a_store_from_before_the_start_order_is_migrated(tmp_path: Path) -> None:
    """A store written by a dl7 that ordered by finish: its attempts keep their recorded start."""
    from dl7.progress import _m001_initial

    path = tmp_path / "p.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    _m001_initial(db)
    db.execute("INSERT INTO _migrations VALUES ('001_initial', '2026-01-01T00:00:00+00:00')")
    for started, status in (("2026-01-01T00:05:00+00:00", "passed"), ("2026-01-01T00:01:00+00:00", "failed")):
        cur = db.execute(
            "INSERT INTO attempts (course, step, notebook, started_at, seconds, outcome)"
            " VALUES ('c', 'step1', 'nb', ?, 1.0, 'completed')",
            (started,),
        )
        db.execute("INSERT INTO results VALUES (?, 'step1.a', ?, '', 0)", (cur.lastrowid, status))
    db.close()
    with Progress(path, "c") as p:
        assert p.latest_results()["step1.a"].status == "passed"
        assert p.last_attempts()["step1"].started_at == "2026-01-01T00:05:00+00:00"
        applied = [r[0] for r in p.db.execute("SELECT name FROM _migrations ORDER BY name")]
    assert applied == [name for name, _ in MIGRATIONS]


def test_an_interrupted_run_does_not_say_how_the_notebook_ends(tmp_path: Path) -> None:
    with Progress(tmp_path / "p.sqlite", "c") as p:
        p.record_attempt("step1", "nb", "2026-01-01T00:00:00", 1.0, "cell_errors", None, [])
        p.record_attempt("step1", "nb", "2026-01-01T00:01:00", 1.0, "interrupted", None, [])
        assert p.notebook_outcomes() == {"nb": "cell_errors"}
