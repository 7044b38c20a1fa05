"""The progress store: one SQLite file per workspace (``.dl7/progress.sqlite``).

Append-only named migrations are applied on open, each in one transaction with its
bookkeeping row (the sqlite-utils / llm pattern). WAL mode and a busy timeout let two runs
land at once; opening a store whose schema is current takes no write lock, so ``dl7 status``
reads while a ``dl7 run`` records. Every ``dl7 run`` records its attempt and all its exercise
results in one transaction. Attempts are ordered by when they started (when the run read the
notebook), never by when they finished: a slow run of an older save that ends after a fast run
of the newer one must not overwrite it; each keeps the digest of the code it ran. An attempt
has a source: ``run`` (a whole notebook in a fresh kernel: ``dl7 run``, ``dl7 watch``) or
``notebook`` (one ``check(...)`` the learner ran in JupyterLab, :func:`dl7.notebook_loop.record`):
a notebook check shows as that exercise's latest result and unlocks its solution, but it is no
run of the notebook, so a step's last run, its notebooks' outcomes, and whether it is complete
come from runs only (:attr:`ExerciseRecord.run_status`). Only a file
that is not a database, or fails ``quick_check``, is moved aside (and reported, never silently
replaced); a busy, read-only or full store is an error that names the file, and nothing is
moved. A store on a read-only or full disk is still read (``dl7 status`` works); only writing
it is that error.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dl7.errors import Dl7Error, os_error


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


def _m002_order_by_start(db: sqlite3.Connection) -> None:
    # Before: the newest attempt was the last one inserted, i.e. the last to finish. Attempts
    # recorded before this migration keep their second-precision start as their order.
    _run_statements(
        db,
        """
        ALTER TABLE attempts ADD COLUMN started_ns INTEGER;
        ALTER TABLE attempts ADD COLUMN code_digest TEXT;
        UPDATE attempts SET started_ns = CAST(strftime('%s', started_at) AS INTEGER) * 1000000000;
        CREATE INDEX attempts_by_start ON attempts (course, started_ns, id);
        """,
    )


RUN = "run"  # a whole notebook run in a fresh kernel by dl7 (run, watch)
NOTEBOOK = "notebook"  # one check(...) the learner ran in their own kernel (JupyterLab)
CHECKED = "checked"  # the outcome of a notebook check: it says nothing of how the notebook ends


def _run_statements(db: sqlite3.Connection, script: str) -> None:
    # Not executescript(): it COMMITs first, which would split a migration from its bookkeeping.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _m003_attempt_source(db: sqlite3.Connection) -> None:
    # Every attempt before this one was a run of a whole notebook.
    db.execute(f"ALTER TABLE attempts ADD COLUMN source TEXT NOT NULL DEFAULT '{RUN}'")


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("001_initial", _m001_initial),
    ("002_order_by_start", _m002_order_by_start),
    ("003_attempt_source", _m003_attempt_source),
]


@dataclass(frozen=True)
class ExerciseRecord:
    exercise: str
    status: str
    message: str
    at: str
    source: str = RUN  # where the latest result came from: RUN or NOTEBOOK
    run_status: str | None = None  # its status in the latest run that checked it (None: no run did)


@dataclass(frozen=True)
class Attempt:
    id: int
    step: str
    notebook: str
    started_at: str
    seconds: float
    outcome: str
    code_digest: str | None = None


# The newest attempt is the one that started last; ties (and attempts whose start is unknown)
# fall back to the order they were recorded in.
_NEWEST_LAST = "ORDER BY a.started_ns, a.id"
# An interrupted run saw too little to say how the notebook ends.
_INTERRUPTED = "interrupted"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


BUSY_TIMEOUT = 30.0  # seconds a write waits for another dl7 to finish its own


class _Corrupt(sqlite3.DatabaseError):
    """The file is a database but fails ``quick_check``."""


# SQLite's primary result codes (the low byte of the extended codes Python reports).
_CORRUPT, _NOTADB = 11, 26
_BUSY, _LOCKED, _READONLY, _FULL, _CANTOPEN, _PERM, _IOERR = 5, 6, 8, 13, 14, 3, 10


class Progress:
    """An open progress store. Use as a context manager, or call :meth:`close`.

    ``timeout`` is how long a write waits for another process's write to finish before it
    gives up with an error.
    """

    def __init__(self, path: Path, course: str, *, timeout: float = BUSY_TIMEOUT) -> None:
        self.path = path
        self.course = course
        self.timeout = timeout
        self.moved_aside: Path | None = None
        # Why this store can only be read (a read-only or full disk), or None: writes raise it.
        self.write_error: Dl7Error | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_error(exc, "cannot create the folder of the progress file", path) from None
        try:
            self.db = self._connect()
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                error = self._error(exc)
                if _code(exc) not in (_READONLY, _FULL, _CANTOPEN, _PERM, _IOERR):
                    raise error from None
                self.db = self._open_for_reading(error)
                self.write_error = error
                return
            self.moved_aside = self._move_aside()
            try:
                self.db = self._connect()
            except sqlite3.DatabaseError as again:
                raise self._error(again) from None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            # Only a store not in WAL mode yet needs the exclusive lock that switching takes.
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA foreign_keys = ON")
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise _Corrupt("integrity check failed")
            migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _open_for_reading(self, error: Dl7Error) -> sqlite3.Connection:
        """Open the store for reading only, without its -wal and -shm files (they cannot be
        created on a read-only or full disk); raise ``error`` when that is not safe.

        Safe only when the write-ahead log holds nothing: after every clean close it is gone or
        empty, and the main file then holds every committed attempt. Nothing is ever moved aside
        from here: what this connection finds wrong is an error, not a corrupt store.
        """
        wal = self.path.with_name(self.path.name + "-wal")
        try:
            if not self.path.is_file() or (wal.exists() and wal.stat().st_size > 0):
                raise error
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?immutable=1", uri=True)
        except (OSError, sqlite3.Error):
            raise error from None
        try:
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok" or pending(db):
                raise error
        except sqlite3.Error:
            db.close()
            raise error from None
        except BaseException:
            db.close()
            raise
        return db

    def _error(self, exc: sqlite3.Error) -> Dl7Error:
        """A clear one-line error for a store that cannot be used now (it is not corrupt)."""
        code = _code(exc)
        where = f"the progress file {self.path}"
        if code in (_BUSY, _LOCKED):
            return Dl7Error(
                f"{where} is busy: another dl7 command kept it locked for {self.timeout:g} s",
                hint="wait for the other command (a `dl7 run`?) to finish, then try again",
            )
        if code == _FULL or (code == _IOERR and _disk_full(self.path)):
            return Dl7Error(
                f"{where} cannot grow: the disk is full", hint="free some disk space, then try again"
            )
        if code == _READONLY or (code in (_CANTOPEN, _PERM, _IOERR) and _read_only(self.path)):
            return Dl7Error(
                f"{where} is read-only: dl7 needs to write it (and its -wal and -shm files)",
                hint="make the workspace writable, or set DL7_HOME to a folder you can write",
            )
        return Dl7Error(f"{where} cannot be used: {exc}")

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

    def check_writable(self, doing: str) -> None:
        """Raise the reason this store cannot be written (a read-only or full disk), if any."""
        if self.write_error is not None:
            raise Dl7Error(f"{doing}: {self.write_error.message}", hint=self.write_error.hint)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; busy, read-only and full stores raise a clear Dl7Error."""
        if self.write_error is not None:
            raise self.write_error
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._error(exc) from None
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise self._error(exc) from None
            raise

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
        *,
        started_ns: int | None = None,
        code_digest: str | None = None,
    ) -> int:
        """Record one run and its exercise results (id, status, message, seconds) atomically.

        ``started_ns`` (nanoseconds since the epoch) orders the attempt among the others; by
        default it is ``started_at``'s instant. ``code_digest``: the code the run executed.
        """
        order = started_ns if started_ns is not None else _instant(started_at)
        with self.transaction() as db:
            row = {
                "course": self.course,
                "step": step,
                "notebook": notebook,
                "started_at": started_at,
                "seconds": seconds,
                "outcome": outcome,
                "executed_path": executed_path,
                "started_ns": order,
                "code_digest": code_digest,
            }
            cur = db.execute(
                f"INSERT INTO attempts ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})", row
            )
            attempt_id = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO results (attempt_id, exercise, status, message, seconds) VALUES (?, ?, ?, ?, ?)",
                [(attempt_id, *row) for row in results],
            )
        return attempt_id

    def record_check(
        self,
        step: str,
        notebook: str,
        result: tuple[str, str, str, float],
        *,
        started_ns: int,
    ) -> int:
        """Record one ``check(...)`` the learner ran in their own kernel: an attempt of source
        ``notebook`` holding that one result, ordered by when the check started (so a ``dl7 run``
        that started later stays the newer)."""
        started_at = datetime.fromtimestamp(started_ns / 1e9, UTC).isoformat(timespec="seconds")
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO attempts (course, step, notebook, started_at, seconds, outcome,"
                " executed_path, started_ns, source) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                (self.course, step, notebook, started_at, result[3], CHECKED, started_ns, NOTEBOOK),
            )
            attempt_id = int(cur.lastrowid or 0)
            db.execute(
                "INSERT INTO results (attempt_id, exercise, status, message, seconds) VALUES (?, ?, ?, ?, ?)",
                (attempt_id, *result),
            )
        return attempt_id

    def latest_results(self) -> dict[str, ExerciseRecord]:
        """Exercise id → its result in the most recent attempt (by start) that checked it, a
        notebook check included, with its status in the most recent run that checked it."""
        rows = self.db.execute(
            "SELECT r.exercise, r.status, r.message, a.started_at, a.source"
            " FROM results r JOIN attempts a ON a.id = r.attempt_id"
            f" WHERE a.course = ? {_NEWEST_LAST}",
            (self.course,),
        ).fetchall()
        latest: dict[str, ExerciseRecord] = {}
        by_run: dict[str, str] = {}
        for exercise, status, message, at, source in rows:
            if source == RUN:
                by_run[exercise] = status
            latest[exercise] = ExerciseRecord(exercise, status, message, at, source)
        return {ex: dataclasses.replace(record, run_status=by_run.get(ex)) for ex, record in latest.items()}

    def last_attempts(self) -> dict[str, Attempt]:
        """Step id → its most recent run (the one that started last); notebook checks are no run."""
        rows = self.db.execute(
            "SELECT id, step, notebook, started_at, seconds, outcome, code_digest FROM attempts a"
            f" WHERE course = ? AND source = ? {_NEWEST_LAST}",
            (self.course, RUN),
        ).fetchall()
        return {row[1]: Attempt(*row) for row in rows}

    def notebook_outcomes(self) -> dict[str, str]:
        """Notebook path → the outcome of its most recent run that was not interrupted."""
        rows = self.db.execute(
            "SELECT notebook, outcome FROM attempts a WHERE course = ? AND outcome != ? AND source = ?"
            f" {_NEWEST_LAST}",
            (self.course, _INTERRUPTED, RUN),
        ).fetchall()
        return {row[0]: row[1] for row in rows}

    def attempt_count(self, step: str) -> int:
        """How many times the step's notebooks were run (notebook checks are not runs)."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM attempts WHERE course = ? AND step = ? AND source = ?",
            (self.course, step, RUN),
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


def pending(db: sqlite3.Connection) -> list[str]:
    """The migrations not applied yet, found with reads only."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").fetchone():
        return [name for name, _ in MIGRATIONS]
    applied = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    return [name for name, _ in MIGRATIONS if name not in applied]


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet applied, each in its own transaction; returns their names.

    A current schema is found with reads only: no write lock, so opening never waits for
    another process's write.
    """
    if not pending(db):
        return []
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


def _instant(started_at: str) -> int:
    """``started_at`` (ISO 8601; UTC when it names no zone) in nanoseconds since the epoch; now
    when it cannot be read."""
    try:
        when = datetime.fromisoformat(started_at)
    except ValueError:
        return time.time_ns()
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Only these are moved aside: not a database at all, or damaged inside."""
    return isinstance(exc, _Corrupt) or _code(exc) in (_CORRUPT, _NOTADB)


def _read_only(path: Path) -> bool:
    folder = path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
    except (OSError, AttributeError):  # no statvfs on Windows
        pass
    return not os.access(path if path.exists() else folder, os.W_OK)


def _disk_full(path: Path) -> bool:
    """Whether the disk holding ``path`` is (all but) full: SQLite reports a -shm file it
    cannot grow as a plain I/O error."""
    try:
        st = os.statvfs(path.parent)
    except (OSError, AttributeError):
        return False
    return st.f_bavail * st.f_frsize < 1 << 20
