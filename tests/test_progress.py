"""The SQLite store: migrations, atomic attempts, concurrent writers, corrupt files."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

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
