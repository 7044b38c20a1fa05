"""The progress store: one SQLite file per workspace (``.dl7/progress.sqlite``).

Append-only named migrations are applied on open, each in one transaction with its
bookkeeping row (the sqlite-utils / llm pattern). WAL mode and a busy timeout let two runs
land at once. Every ``dl7 run`` records its attempt and all its exercise results in one
transaction. A file that is not a database is moved aside and reported, never silently
replaced.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dl7.errors import Dl7Error


def _m001_initial(db: sqlite3.Connection) -> None:
    _run_statements(
        db,
        """
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            course TEXT NOT NULL,
            step TEXT NOT NULL,
            notebook TEXT NOT NULL,
            started_at TEXT NOT NULL,
            seconds REAL NOT NULL,
            outcome TEXT NOT NULL,
            executed_path TEXT
        );
        CREATE INDEX attempts_by_step ON attempts (course, step);
        CREATE TABLE results (
            attempt_id INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
            exercise TEXT NOT NULL,
            status TEXT NOT NULL,
            message TEXT NOT NULL,
            seconds REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (attempt_id, exercise)
        );
        CREATE INDEX results_by_exercise ON results (exercise);
        CREATE TABLE readings (
            course TEXT NOT NULL,
            reading TEXT NOT NULL,
            done_at TEXT NOT NULL,
            PRIMARY KEY (course, reading)
        );
        CREATE TABLE hints (
            course TEXT NOT NULL,
            exercise TEXT NOT NULL,
            shown INTEGER NOT NULL,
            PRIMARY KEY (course, exercise)
        );
        """,
    )


def _run_statements(db: sqlite3.Connection, script: str) -> None:
    # Not executescript(): it COMMITs first, which would split a migration from its bookkeeping.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("001_initial", _m001_initial),
]


@dataclass(frozen=True)
class ExerciseRecord:
    exercise: str
    status: str
    message: str
    at: str


@dataclass(frozen=True)
class Attempt:
    id: int
    step: str
    notebook: str
    started_at: str
    seconds: float
    outcome: str


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Progress:
    """An open progress store. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: Path, course: str) -> None:
        self.path = path
        self.course = course
        self.moved_aside: Path | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = self._connect()
        except sqlite3.DatabaseError:
            self.moved_aside = self._move_aside()
            self.db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA foreign_keys = ON")
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity check failed")
            migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            self.path.rename(target)
            for suffix in ("-wal", "-shm"):
                side = self.path.with_name(self.path.name + suffix)
                if side.exists():
                    side.rename(target.with_name(target.name + suffix))
        except OSError as exc:
            raise Dl7Error(
                f"the progress file {self.path} is corrupt and cannot be moved aside: {exc}"
            ) from None
        return target

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- attempts ---------------------------------------------------------------------------

    def record_attempt(
        self,
        step: str,
        notebook: str,
        started_at: str,
        seconds: float,
        outcome: str,
        executed_path: str | None,
        results: list[tuple[str, str, str, float]],
    ) -> int:
        """Record one run and its exercise results (id, status, message, seconds) atomically."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO attempts (course, step, notebook, started_at, seconds, outcome, executed_path)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.course, step, notebook, started_at, seconds, outcome, executed_path),
            )
            attempt_id = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO results (attempt_id, exercise, status, message, seconds) VALUES (?, ?, ?, ?, ?)",
                [(attempt_id, *row) for row in results],
            )
        return attempt_id

    def latest_results(self) -> dict[str, ExerciseRecord]:
        """Exercise id → its result in the most recent attempt that checked it."""
        rows = self.db.execute(
            """
            SELECT r.exercise, r.status, r.message, a.started_at
            FROM results r JOIN attempts a ON a.id = r.attempt_id
            WHERE a.course = ?
            ORDER BY a.id
            """,
            (self.course,),
        ).fetchall()
        return {row[0]: ExerciseRecord(*row) for row in rows}

    def last_attempts(self) -> dict[str, Attempt]:
        """Step id → its most recent attempt."""
        rows = self.db.execute(
            "SELECT id, step, notebook, started_at, seconds, outcome FROM attempts"
            " WHERE course = ? ORDER BY id",
            (self.course,),
        ).fetchall()
        return {row[1]: Attempt(*row) for row in rows}

    def notebook_outcomes(self) -> dict[str, str]:
        """Notebook path → the outcome of its most recent attempt."""
        rows = self.db.execute(
            "SELECT notebook, outcome FROM attempts WHERE course = ? ORDER BY id", (self.course,)
        ).fetchall()
        return {row[0]: row[1] for row in rows}

    def attempt_count(self, step: str) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM attempts WHERE course = ? AND step = ?", (self.course, step)
        ).fetchone()
        return int(row[0])

    # -- readings and hints ------------------------------------------------------------------

    def readings_done(self) -> set[str]:
        rows = self.db.execute("SELECT reading FROM readings WHERE course = ?", (self.course,))
        return {row[0] for row in rows}

    def mark_reading(self, reading: str, done: bool) -> None:
        with self.transaction() as db:
            if done:
                db.execute(
                    "INSERT OR IGNORE INTO readings (course, reading, done_at) VALUES (?, ?, ?)",
                    (self.course, reading, now()),
                )
            else:
                db.execute("DELETE FROM readings WHERE course = ? AND reading = ?", (self.course, reading))

    def hints_shown(self, exercise: str) -> int:
        row = self.db.execute(
            "SELECT shown FROM hints WHERE course = ? AND exercise = ?", (self.course, exercise)
        ).fetchone()
        return int(row[0]) if row else 0

    def show_next_hint(self, exercise: str, available: int) -> int:
        """Reveal one more hint (up to ``available``); returns how many are now shown."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT shown FROM hints WHERE course = ? AND exercise = ?", (self.course, exercise)
            ).fetchone()
            shown = min(available, (int(row[0]) if row else 0) + 1)
            db.execute(
                "INSERT INTO hints (course, exercise, shown) VALUES (?, ?, ?)"
                " ON CONFLICT (course, exercise) DO UPDATE SET shown = excluded.shown",
                (self.course, exercise, shown),
            )
        return shown


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet applied, each in its own transaction; returns their names."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied_now = []
    for name, apply in MIGRATIONS:
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                db.execute("ROLLBACK")
                continue
            apply(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, now()))
            db.execute("COMMIT")
            applied_now.append(name)
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return applied_now
