"""The learner's workspace: where it is, what it holds, and how it is created and reset.

Where: :mod:`dl7.locations` decides (``$DL7_HOME``; else the nearest trusted enclosing
``.dl7/``; else a per-user data folder).

What: ``<workspace>/<notebook path in the course>`` for every learner copy,
``.dl7/progress.sqlite`` for progress, ``.dl7/runs/`` for executed copies,
``.dl7/workspace.json`` naming the course, its checker modules and its data-set declarations
(the kernel reads it to find them when a learner runs a notebook in Jupyter), ``backups/`` for
reset copies.

dl7 never overwrites a learner's notebook: copies are created only where none exists, and a
reset keeps the current copy as a timestamped backup first. A learner copy that is gone while a
notebook beside it holds its cells was renamed (JupyterLab's File ▸ Rename): that notebook is
the learner's copy from then on (:func:`find_renamed`), never a blank one made in its place.
Files are written atomically, and a notebook read during a save in progress is read again once
the save has ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dl7 import locations
from dl7.atomic import keep_as
from dl7.atomic import write_atomic as write_atomic  # re-exported: runner and validate use it
from dl7.curriculum import Curriculum, Notebook, path_inside
from dl7.errors import Dl7Error, os_error

HOME_ENV = locations.HOME_ENV
DOT = locations.DOT


def locate(cwd: Path | None = None) -> Path:
    """The workspace folder for this invocation (it may not exist yet): see :mod:`dl7.locations`."""
    return locations.workspace_root(cwd)


@dataclass(frozen=True)
class Renamed:
    """A learner copy gone from ``expected``; ``found``: the notebooks beside it that hold its
    cells. One: it was renamed, and is used. Several: the learner says which (no copy is made)."""

    notebook: str  # the course's path
    step: str
    expected: Path
    found: tuple[Path, ...]


@dataclass(frozen=True)
class Prepared:
    workspace: Workspace
    created: bool  # the workspace did not exist before
    added: tuple[str, ...]  # learner notebooks written now (relative paths)
    renamed: tuple[Renamed, ...] = ()
    files_updated: tuple[Path, ...] = ()  # data files the course changed, brought up to date now
    files_kept: tuple[tuple[Path, str], ...] = ()  # ... that the learner changed too: (file, step)


@dataclass(frozen=True)
class Workspace:
    root: Path
    # course path -> the learner's renamed copy, while the course's name is gone (find_renamed)
    renamed: dict[str, Path] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def dot(self) -> Path:
        return self.root / DOT

    @property
    def progress_path(self) -> Path:
        return self.dot / "progress.sqlite"

    @property
    def runs_dir(self) -> Path:
        return locations.runs_dir(self.dot)

    @property
    def backups_dir(self) -> Path:
        return self.root / "backups"

    @property
    def info_path(self) -> Path:
        return locations.info_file(self.dot)

    @property
    def kernel_log(self) -> Path:
        return locations.kernel_log(self.dot)

    @property
    def lab_log(self) -> Path:
        return locations.lab_log(self.dot)

    def learner_path(self, nb: Notebook) -> Path:
        """Where the learner's copy of ``nb`` lives: always inside the workspace.

        Symbolic links the learner made inside the workspace are theirs to follow. A copy the
        learner renamed is found under its new name while the course's name stays free.
        """
        expected = path_inside(self.root, nb.path, "the workspace")
        moved = self.renamed.get(nb.path)
        if moved is not None and not expected.exists():
            return moved
        return expected

    def exists(self) -> bool:
        return self.info_path.is_file()


def open_workspace(curriculum: Curriculum, root: Path | None = None) -> Prepared:
    """Find (or create) the workspace and add any learner notebook it lacks."""
    ws = Workspace(root or locate())
    created = not ws.exists()
    try:
        ws.dot.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, "cannot create the workspace folder", ws.dot) from None
    _claim(ws, curriculum)
    added: list[str] = []
    renamed: list[Renamed] = []
    for nb in curriculum.notebooks:
        if not created and not ws.learner_path(nb).exists():
            found = find_renamed(curriculum, ws, nb)
            if found:  # renamed: used as it is, or the learner picks one; never a blank copy
                renamed.append(Renamed(nb.path, nb.step, ws.learner_path(nb), found))
                if len(found) == 1:
                    ws.renamed[nb.path] = found[0]
                continue
        if _add_learner_copy(ws, curriculum, nb):
            added.append(nb.path)
    record = _FileRecord(ws)
    updated: list[Path] = []
    kept: list[tuple[Path, str]] = []
    for nb in curriculum.notebooks:
        for target, outcome in _add_side_files(ws, curriculum, nb, record):
            if outcome == "updated":
                updated.append(target)
            elif outcome == "kept":
                kept.append((target, nb.step))
    record.save()
    return Prepared(ws, created, tuple(added), tuple(renamed), tuple(updated), tuple(kept))


class _FileRecord:
    """``.dl7/files.json``: for each file copied beside a learner's notebook, the digest of the
    course's version it was copied from, so that a file the course changes later reaches the
    learner while theirs is still that copy, and one they changed is never written over."""

    def __init__(self, ws: Workspace) -> None:
        self.path = ws.dot / "files.json"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        self.copied: dict[str, str] = data.get("copied", {}) if isinstance(data, dict) else {}
        self.told: dict[str, str] = data.get("told", {}) if isinstance(data, dict) else {}
        self.changed = False

    def set(self, table: dict[str, str], key: str, digest: str) -> None:
        if table.get(key) != digest:
            table[key] = digest
            self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        with contextlib.suppress(OSError):  # a read-only workspace: the next write records it
            write_atomic(self.path, json.dumps({"copied": self.copied, "told": self.told}, indent=1) + "\n")


def _digest(path: Path) -> str:
    import hashlib  # only where a notebook ships files

    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


RENAMED_SHARE = 0.6  # of a notebook's markdown and check cells found in another: its renamed copy


def find_renamed(curriculum: Curriculum, ws: Workspace, nb: Notebook) -> tuple[Path, ...]:
    """The notebooks beside ``nb``'s missing learner copy that hold its cells: what JupyterLab's
    rename leaves. A notebook counts when most of the course's markdown cells and check cells of
    ``nb`` are in it word for word (a learner edits the solution cells, rarely those); another
    notebook of the course, or one already taken as another's renamed copy, never does."""
    expected = ws.learner_path(nb)
    folder = expected.parent
    try:
        candidates = sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink())
    except OSError:
        return ()
    taken = {path_inside(ws.root, other.path, "the workspace") for other in curriculum.notebooks}
    taken |= {p for name, p in ws.renamed.items() if name != nb.path}
    candidates = [p for p in candidates if p not in taken]
    if not candidates:
        return ()
    try:
        marks = _landmarks(pristine(curriculum, nb))
    except Dl7Error:
        return ()
    if not marks:
        return ()
    found = []
    for path in candidates:
        try:
            sources = _landmarks(read_notebook(path), every=True)
        except Dl7Error:
            continue
        if len(marks & sources) >= RENAMED_SHARE * len(marks):
            found.append(path)
    return tuple(found)


def _landmarks(nb: dict[str, Any], *, every: bool = False) -> set[str]:
    """The cells that identify a course notebook: its markdown and its ``check(`` cells
    (``every``: all its cells, to look the landmarks up in)."""
    marks = set()
    for cell in nb.get("cells", []):
        source = cell.get("source", "")
        text = ("".join(source) if isinstance(source, list) else str(source)).strip()
        if text and (every or cell.get("cell_type") == "markdown" or "check(" in text):
            marks.add(text)
    return marks


def _add_side_files(
    ws: Workspace, curriculum: Curriculum, nb: Notebook, record: _FileRecord
) -> list[tuple[Path, str]]:
    """The files a notebook reads beside it (its manifest's ``files``): copied where missing;
    brought up to date where the course changed one and the learner's is still the copy dl7
    made ("updated"); left alone, and said once, where the learner changed theirs ("kept")."""
    outcomes: list[tuple[Path, str]] = []
    for target, key, real in _side_files(ws, curriculum, nb):
        try:
            wanted = _digest(real)
            if target.exists():
                copied = record.copied.get(key)
                if copied is None or copied == wanted:
                    if copied is None and _digest(target) == wanted:
                        record.set(record.copied, key, wanted)  # made before dl7 kept digests
                    continue
                if _digest(target) != copied:  # the learner's own version: never written over
                    if record.told.get(key) != wanted:
                        record.set(record.told, key, wanted)
                        outcomes.append((target, "kept"))
                    continue
                outcomes.append((target, "updated"))
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_whole(real, target)
            record.set(record.copied, key, wanted)
        except OSError as exc:
            raise os_error(exc, "cannot copy a file the notebook needs to", target) from None
    return outcomes


def _side_files(ws: Workspace, curriculum: Curriculum, nb: Notebook) -> list[tuple[Path, str, Path]]:
    """Each file the notebook reads beside it: (the learner's copy, its key in the record, the
    course's file)."""
    folder = ws.learner_path(nb).parent
    source = curriculum.source_path(nb).parent
    found = []
    for rel in nb.files:
        target = path_inside(folder, rel, "the workspace")
        key = str(target.relative_to(ws.root)) if target.is_relative_to(ws.root) else str(target)
        try:
            found.append((target, key, _course_file(curriculum, source, rel)))
        except OSError as exc:
            raise os_error(exc, "cannot read a file the notebook needs:", source / rel) from None
    return found


def _course_file(curriculum: Curriculum, source: Path, rel: str) -> Path:
    # Resolved and checked here, not only at load: a cached parse does not see a file of the
    # course turned into a link since (to ~/.ssh, to /proc/self/environ).
    real = path_inside(source, rel, "the course folder").resolve()
    if not real.is_relative_to(curriculum.root.resolve()):
        raise Dl7Error(
            f"{source / rel}: not copied to the workspace: it leads to {real}, outside the course",
            hint="a course holds its files beside its notebooks, not links out of it; ask its author",
        )
    return real


def _copy_whole(real: Path, target: Path) -> None:
    """The course's file in place of ``target``, whole or not at all (a reader never sees half)."""
    import shutil  # only when copying: it pulls in bz2 and lzma

    partial = target.with_name(f".{target.name}.dl7-partial")
    try:
        shutil.copyfile(real, partial)
        os.replace(partial, target)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def reset_files(ws: Workspace, curriculum: Curriculum, nb: Notebook) -> list[tuple[Path, Path | None]]:
    """``dl7 reset``: the notebook's files as the course has them now; a learner's changed file
    is backed up first, like their notebook. Returns (file, backup or None) for each file put back."""
    done: list[tuple[Path, Path | None]] = []
    record = _FileRecord(ws)
    for target, key, real in _side_files(ws, curriculum, nb):
        try:
            wanted = _digest(real)
            backup = None
            if target.exists():
                if _digest(target) == wanted:
                    record.set(record.copied, key, wanted)
                    continue
                stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
                backup = ws.backups_dir / Path(nb.path).parent / f"{target.stem}.{stamp}{target.suffix}"
                backup.parent.mkdir(parents=True, exist_ok=True)
                import shutil

                shutil.copyfile(target, backup)
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_whole(real, target)
            record.set(record.copied, key, wanted)
            done.append((target, backup))
        except OSError as exc:
            raise os_error(exc, "cannot restore a file the notebook needs:", target) from None
    record.save()
    return done


def _claim(ws: Workspace, curriculum: Curriculum) -> None:
    info = locations.read_info(ws.dot)
    if info:
        owner = info.get("course")
        if owner and owner != curriculum.id:
            raise Dl7Error(
                f"the workspace {ws.root} belongs to the course {owner!r}, not {curriculum.id!r}",
                hint=f"set {HOME_ENV} to another folder for this course",
            )
    wanted = {
        "course": curriculum.id,
        "curriculum": str(curriculum.path),
        "checkers": list(curriculum.checkers),
        "datasets": curriculum.datasets,  # the kernel reads it, as the checkers (dl7.datasets)
        "created": info.get("created") or datetime.now().isoformat(timespec="seconds"),
    }
    if wanted != info:
        try:
            write_atomic(ws.info_path, json.dumps(wanted, indent=2) + "\n")
        except OSError as exc:
            if info.get("course") != curriculum.id:  # the workspace cannot be claimed for this course
                raise os_error(exc, "cannot write", ws.info_path) from None
            # Only its details changed (the course was named by another path): a read-only
            # workspace still serves the commands that only read; the next write fixes the file.


# A notebook that does not parse may be a save in progress: JupyterLab writes in place, so a
# reader can see the file truncated and half rewritten. Such a read is tried once more when the
# file has changed and then been still for QUIET seconds, or has not changed for UNCHANGED
# seconds, and never later than SETTLE seconds after the first try.
QUIET, UNCHANGED, SETTLE = 0.1, 1.0, 3.0
_POLL = 0.02
_CELL_TYPES = ("code", "markdown", "raw")
_RESET_HINT = "if you edited it by hand, `dl7 reset` restores a fresh copy and keeps yours as a backup"


def read_notebook(path: Path) -> dict[str, Any]:
    """A notebook as plain JSON data, or a one-line error naming the file and position.

    The structure every reader relies on is checked here (nbformat 4, a list of cells, each
    with a type and a text source), so a file that is JSON but no notebook is a one-line
    error, not a traceback further on.
    """
    data, error, seen = _parse(path)
    if error is not None and _settle(path, seen):
        data, error, _ = _parse(path)
    if error is not None:
        raise error
    _check_structure(path, data)
    # Hand-written notebooks (and nbgrader sources) often omit the version: read as nbformat 4.
    data.setdefault("nbformat", 4)
    data.setdefault("nbformat_minor", 0)
    return dict(data)


def _signature(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_ino, st.st_size, st.st_mtime_ns


def _parse(path: Path) -> tuple[Any, Dl7Error | None, tuple[int, int, int] | None]:
    """The JSON in ``path``, or the error that a retry may cure, and the file's signature."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
            st = os.fstat(fh.fileno())
    except FileNotFoundError:
        raise Dl7Error(
            f"notebook not found: {path}",
            hint="renamed in JupyterLab? give it back its name (File ▸ Rename), "
            "or `dl7 reset` makes a fresh copy",
        ) from None
    except OSError as exc:
        raise Dl7Error(f"cannot read notebook {path}: {exc}") from None
    # Read fewer bytes than the file now holds: it grew while being read.
    seen = None if len(raw) != st.st_size else _signature(st)
    try:
        return json.loads(raw.decode("utf-8")), None, seen
    except UnicodeDecodeError as exc:  # a multi-byte character cut in two is half a save too
        return None, Dl7Error(f"cannot read notebook {path}: {exc}", hint=_RESET_HINT), seen
    except json.JSONDecodeError as exc:
        message = f"{path}:{exc.lineno}:{exc.colno}: not a valid notebook (JSON error: {exc.msg})"
        return None, Dl7Error(message, hint=_RESET_HINT), seen


def _settle(path: Path, seen: tuple[int, int, int] | None) -> bool:
    """Wait (boundedly) for a save in progress to end; False if the file is gone."""
    start = time.monotonic()
    last, since = seen, start
    changed = seen is None
    while True:
        time.sleep(_POLL)
        now = time.monotonic()
        try:
            current: tuple[int, int, int] | None = _signature(os.stat(path))
        except OSError:
            return False
        if current != last:
            changed, last, since = True, current, now
        if now - since >= (QUIET if changed else UNCHANGED) or now - start >= SETTLE:
            return True


def _check_structure(path: Path, data: Any) -> None:
    """What Jupyter's schema requires that dl7's readers rely on, as a one-line error."""

    def bad(problem: str, hint: str = _RESET_HINT) -> Dl7Error:
        return Dl7Error(f"{path}: not a valid notebook ({problem})", hint=hint)

    if not isinstance(data, dict):
        raise bad(f"a JSON {type(data).__name__} instead of an object")
    version = data.get("nbformat", 4)
    if version != 4 or isinstance(version, bool):
        raise bad(
            f"nbformat {version!r}; dl7 reads nbformat 4",
            hint="open it in Jupyter and save it: Jupyter converts older notebooks to nbformat 4",
        )
    if not isinstance(data.get("nbformat_minor", 0), int):
        raise bad("its nbformat_minor is not a number")
    if not isinstance(data.get("metadata", {}), dict):
        raise bad("its metadata is not an object")
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise bad("no list of cells")
    for n, cell in enumerate(cells, 1):
        where = f"cell {n}"
        if not isinstance(cell, dict):
            raise bad(f"{where} is a JSON {type(cell).__name__}, not an object")
        kind = cell.get("cell_type")
        if kind not in _CELL_TYPES:
            raise bad(f"{where} has cell_type {kind!r}, not one of {', '.join(_CELL_TYPES)}")
        source = cell.get("source")
        if not isinstance(source, str) and not (
            isinstance(source, list) and all(isinstance(line, str) for line in source)
        ):
            raise bad(f"{where}: its source is {_kind(source)}, not text or a list of lines")
        if not isinstance(cell.get("metadata", {}), dict):
            raise bad(f"{where}: its metadata is not an object")
        outputs = cell.get("outputs", [])
        if kind == "code" and not (isinstance(outputs, list) and all(isinstance(o, dict) for o in outputs)):
            raise bad(f"{where}: its outputs are not a list of objects")


def _kind(value: Any) -> str:
    return "missing" if value is None else f"a JSON {type(value).__name__}"


def pristine(curriculum: Curriculum, nb: Notebook) -> dict[str, Any]:
    """The learner version of a source notebook."""
    from dl7.authoring import MarkerError, learner_version  # only when a copy is made

    source = curriculum.source_path(nb)
    try:
        return dict(learner_version(read_notebook(source)))
    except MarkerError as exc:
        raise Dl7Error(f"{source}: {exc}") from None


def notebook_text(nb: dict[str, Any]) -> str:
    # The layout nbformat writes (indent 1, sorted keys), so diffs stay small.
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _add_learner_copy(ws: Workspace, curriculum: Curriculum, nb: Notebook) -> bool:
    target = ws.learner_path(nb)
    if target.exists():
        return False
    try:
        write_atomic(target, notebook_text(pristine(curriculum, nb)), exclusive=True)
    except OSError as exc:
        raise os_error(exc, "cannot create your copy of the notebook", target) from None
    return True


@dataclass(frozen=True)
class ResetResult:
    notebook: str
    path: Path
    backup: Path | None


def reset(ws: Workspace, curriculum: Curriculum, nb: Notebook) -> ResetResult:
    """Restore the pristine learner notebook, keeping the current one as a backup first.

    The backup is the learner's file itself, given a second name (:func:`dl7.atomic.keep_as`),
    then the fresh copy replaces the name in the notebooks folder atomically: a JupyterLab save
    still in progress goes on into the backup, whole, instead of a copy of half of it.
    """
    target = path_inside(ws.root, nb.path, "the workspace")  # the fresh copy takes the course's name
    current = ws.learner_path(nb)  # the learner's copy, renamed or not: the one backed up
    fresh = notebook_text(pristine(curriculum, nb))
    backup = None
    how = ""
    if current.exists():
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        backup = ws.backups_dir / Path(nb.path).parent / f"{current.stem}.{stamp}{current.suffix}"
        try:
            backup.parent.mkdir(parents=True, exist_ok=True)
            how = keep_as(current, backup)
        except OSError as exc:
            _discard(backup)  # never half a backup; the learner's file is untouched
            raise os_error(exc, "cannot back up your notebook to", backup) from None
    try:
        write_atomic(target, fresh)
    except OSError as exc:
        if backup is not None:  # nothing was reset: the learner's file is as it was
            if how == "rename":
                _put_back(backup, current)
            else:
                _discard(backup)
        raise os_error(exc, "cannot restore a fresh copy of", target) from None
    return ResetResult(nb.path, target, backup)


def _put_back(backup: Path, target: Path) -> None:
    """Undo a rename, unless a save made ``target`` anew meanwhile: then both stay."""
    with contextlib.suppress(OSError):
        if not target.exists():
            os.rename(backup, target)


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
