"""The learner's workspace: where it is, what it holds, and how it is created and reset.

Where: :mod:`dl7.locations` decides (``$DL7_HOME``; else the nearest trusted enclosing
``.dl7/``; else a per-user data folder).

What: ``<workspace>/<notebook path in the course>`` for every learner copy,
``.dl7/progress.sqlite`` for progress, ``.dl7/runs/`` for executed copies,
``.dl7/workspace.json`` naming the course, its checker modules and its data-set declarations
(the kernel reads it to find them when a learner runs a notebook in Jupyter), ``backups/`` for
reset copies.

dl7 never overwrites a learner's notebook: copies are created only where none exists, and a
reset moves the current copy to a timestamped backup first. Files are written atomically.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dl7 import locations
from dl7.atomic import write_atomic as write_atomic  # re-exported: runner and validate use it
from dl7.curriculum import Curriculum, Notebook, path_inside
from dl7.errors import Dl7Error, os_error

HOME_ENV = locations.HOME_ENV
DOT = locations.DOT


def locate(cwd: Path | None = None) -> Path:
    """The workspace folder for this invocation (it may not exist yet): see :mod:`dl7.locations`."""
    return locations.workspace_root(cwd)


@dataclass(frozen=True)
class Prepared:
    workspace: Workspace
    created: bool  # the workspace did not exist before
    added: tuple[str, ...]  # learner notebooks written now (relative paths)


@dataclass(frozen=True)
class Workspace:
    root: Path

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

        Symbolic links the learner made inside the workspace are theirs to follow.
        """
        return path_inside(self.root, nb.path, "the workspace")

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
    added = tuple(nb.path for nb in curriculum.notebooks if _add_learner_copy(ws, curriculum, nb))
    for nb in curriculum.notebooks:
        _add_side_files(ws, curriculum, nb)
    return Prepared(ws, created, added)


def _add_side_files(ws: Workspace, curriculum: Curriculum, nb: Notebook) -> None:
    """The files a notebook reads beside it (its manifest's ``files``), copied where missing:
    a file already in the workspace is the learner's and stays as it is."""
    if not nb.files:
        return
    folder = ws.learner_path(nb).parent
    source = curriculum.source_path(nb).parent
    for rel in nb.files:
        target = path_inside(folder, rel, "the workspace")
        if target.exists():
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            import shutil  # only when copying: it pulls in bz2 and lzma

            shutil.copyfile(path_inside(source, rel, "the course folder"), target)
        except OSError as exc:
            raise os_error(exc, "cannot copy a file the notebook needs to", target) from None


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


def read_notebook(path: Path) -> dict[str, Any]:
    """A notebook as plain JSON data, or a one-line error naming the file and position."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Dl7Error(f"notebook not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Dl7Error(f"cannot read notebook {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Dl7Error(
            f"{path}:{exc.lineno}:{exc.colno}: not a valid notebook (JSON error: {exc.msg})",
            hint="if you edited it by hand, `dl7 reset` restores a fresh copy and keeps yours as a backup",
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise Dl7Error(f"{path}: not a valid notebook (no list of cells)")
    return data


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
    """Restore the pristine learner notebook, moving the current one to a backup first."""
    target = ws.learner_path(nb)
    fresh = notebook_text(pristine(curriculum, nb))
    backup = None
    if target.exists():
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        backup = ws.backups_dir / Path(nb.path).parent / f"{target.stem}.{stamp}{target.suffix}"
        try:
            backup.parent.mkdir(parents=True, exist_ok=True)
            import shutil

            shutil.copy2(target, backup)  # copy first: the learner's work exists twice before we replace it
        except OSError as exc:
            _discard(backup)  # never half a backup; the learner's file is untouched
            raise os_error(exc, "cannot back up your notebook to", backup) from None
    try:
        write_atomic(target, fresh)
    except OSError as exc:
        if backup is not None:
            _discard(backup)  # nothing was reset: the learner's file is as it was
        raise os_error(exc, "cannot restore a fresh copy of", target) from None
    return ResetResult(nb.path, target, backup)


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
