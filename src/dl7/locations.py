"""Where dl7 keeps things, and whether to trust what it finds on the way: the one owner.

Every other module asks here, so the rules below are written once:

- the workspace: ``$DL7_HOME`` if set; else the nearest enclosing folder holding a trusted
  ``.dl7/``; else the per-user data folder (platformdirs) ``.../dl7/workspace``;
- its files: ``.dl7/workspace.json`` (the course it belongs to, read by :func:`read_info`, the
  only reader), ``.dl7/progress.sqlite``, ``.dl7/manifest-cache.json``, ``.dl7/runs/`` (with
  the kernels' log), ``.dl7/exports/``, JupyterLab's log and the lock of the ``dl7 open`` serving it;
- the course a kernel serves, when the runner did not say (a learner running a notebook in
  JupyterLab): the enclosing workspace's ``workspace.json``, else the enclosing ``curriculum.yaml``
  (an author previewing a source notebook);
- validate's run cache (with its kernels' log and the manifest's parse): ``$DL7_VALIDATE_CACHE``
  if set, else a folder of the per-user cache keyed by the course's resolved path
  (``.../dl7/validate/<name>-<hash>/``), never inside the course: a cache file in the course
  folder could come with the course (a pull request can commit a PASS);
- downloaded data sets: ``$DL7_DATA``, else the per-user cache folder ``.../dl7/datasets``.

Trust: a folder walk takes a ``.dl7/`` or a ``curriculum.yaml`` only when it, and the folder
holding it, belong to this user (or to root) and are not writable by everyone; the walk never
goes above the home folder of a start inside it. So a ``.dl7`` or a course planted by another
local user in a shared parent folder is passed by, not obeyed.

This module runs in the learner's kernel too (:mod:`dl7.checks` asks it for the course's
checkers): it imports only the standard library, and platformdirs only when asked for a
per-user folder.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

HOME_ENV = "DL7_HOME"  # the workspace
CURRICULUM_ENV = "DL7_CURRICULUM"  # the course, as --curriculum names it
CHECKERS_ENV = "DL7_CHECKERS"  # the course's checker modules, set by the runner in a kernel
RUNNER_KERNEL_ENV = "DL7_RUNNER_KERNEL"  # set in every kernel dl7 itself starts (run, watch, validate)
DATASETS_ENV = "DL7_DATASETS"  # the course's data-set declarations, set by the runner in a kernel
DATA_ENV = "DL7_DATA"  # the data-set cache
VALIDATE_CACHE_ENV = "DL7_VALIDATE_CACHE"  # validate's run cache file

DOT = ".dl7"
INFO_FILE = "workspace.json"
MANIFEST = "curriculum.yaml"
COURSE_CACHE = ".dl7-cache"  # where validate kept its cache in a course before: never read now


# -- trust --------------------------------------------------------------------------------------


def distrust(path: Path) -> str | None:
    """Why ``path`` (file or folder) is not to be trusted, or None when it is: it must belong
    to this user or to root and must not be writable by everyone, since what another local user
    could have put or changed there would otherwise choose the code dl7 runs. A link is judged
    by who made it and by where it leads. On a system without user ids (Windows) everything the
    user can read is trusted."""
    getuid = getattr(os, "getuid", None)
    try:
        st = path.lstat()
        if getuid is None:
            return None
        if stat.S_ISLNK(st.st_mode):
            if st.st_uid not in (getuid(), 0):
                return f"it is a link made by {_owner(st.st_uid)}, not by you"
            st = path.stat()
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    return distrust_stat(st)


def distrust_stat(st: os.stat_result, *, group: bool = False) -> str | None:
    """The same rule for a file already open (its ``os.fstat``), so nothing can be swapped in
    between the check and the read; ``group`` refuses a group-writable file too."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return None
    if st.st_uid not in (getuid(), 0):
        return f"it belongs to {_owner(st.st_uid)}, not to you"
    if st.st_mode & stat.S_IWOTH:
        return "everyone may write to it"
    if group and st.st_mode & stat.S_IWGRP:
        return "its group may write to it"
    return None


def trusted(path: Path) -> bool:
    return distrust(path) is None


def _owner(uid: int) -> str:
    try:
        import pwd

        return f"user {pwd.getpwuid(uid).pw_name!r}"
    except (ImportError, KeyError):
        return f"user id {uid}"


def walk_up(start: Path | None = None) -> Iterator[Path]:
    """``start`` and the folders above it, stopping at the home folder when ``start`` is
    inside it (nothing above a user's home is theirs) and before a folder everyone may write
    to (``/tmp``: anyone could have put a ``.dl7`` there, or above it)."""
    here = (start or Path.cwd()).resolve()
    home = _home()
    for folder in (here, *here.parents):
        try:
            if folder.stat().st_mode & stat.S_IWOTH:
                return
        except OSError:
            return
        yield folder
        if home is not None and folder == home:
            return


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError, OSError):  # no home folder known (a bare service account)
        return None


def _trusted_in(folder: Path, name: str) -> Path | None:
    candidate = folder / name
    if candidate.exists() and trusted(candidate) and trusted(folder):
        return candidate
    return None


class PassedBy(NamedTuple):  # a NamedTuple, not a dataclass: `dl7 next` imports this module
    """A ``.dl7`` or ``curriculum.yaml`` a folder walk saw and did not take, and why."""

    path: Path
    reason: str


def passed_by(start: Path | None = None, name: str = DOT) -> tuple[PassedBy, ...]:
    """What the walk from ``start`` to the nearest trusted ``name`` passed by: the learner is
    told, so that a workspace they expected is not silently ignored."""
    seen = []
    for folder in walk_up(start):
        candidate = folder / name
        if not candidate.exists():
            continue
        why = distrust(candidate) or distrust(folder)
        if why is None:
            break
        seen.append(PassedBy(candidate, why if distrust(candidate) else f"its folder: {why}"))
    return tuple(seen)


# -- the workspace ------------------------------------------------------------------------------


def enclosing_workspace(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` that holds a trusted ``.dl7/`` folder."""
    for folder in walk_up(start):
        found = _trusted_in(folder, DOT)
        if found is not None and found.is_dir():
            return folder
    return None


def default_workspace() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("dl7", appauthor=False)) / "workspace"


def workspace_root(cwd: Path | None = None) -> Path:
    """The workspace folder for this invocation (it may not exist yet)."""
    return chosen_workspace(cwd) or default_workspace()


def chosen_workspace(cwd: Path | None = None) -> Path | None:
    """The workspace the learner chose: ``$DL7_HOME``, or a trusted ``.dl7/`` at or above the
    current folder; None when neither, and the default folder serves."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return enclosing_workspace(cwd)


def workspace_for(course_id: str, cwd: Path | None = None) -> Path:
    """The workspace for one course: the chosen one; else the default folder while no other
    course has claimed it; else a default folder of this course's own (``courses/<id>`` beside
    it), so that a teacher's course run where it stands never collides with another's."""
    chosen = chosen_workspace(cwd)
    if chosen is not None:
        return chosen
    default = default_workspace()
    owner = read_info(default / DOT).get("course")
    if not owner or owner == course_id:
        return default
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", course_id).lstrip(".") or "course"
    return default.parent / "courses" / safe


def info_file(dot: Path) -> Path:
    return dot / INFO_FILE


def read_info(dot: Path) -> dict[str, Any]:
    """``workspace.json`` of the workspace whose ``.dl7`` folder is ``dot``: ``{}`` when it is
    missing, unreadable, not JSON or not an object (a hand-edited ``[]`` included)."""
    try:
        data = json.loads(info_file(dot).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def recorded_course(dot: Path) -> str | None:
    """The manifest the workspace was made for (a teacher's course named once with
    ``--curriculum``), while it still exists."""
    recorded = read_info(dot).get("curriculum")
    return recorded if isinstance(recorded, str) and Path(recorded).is_file() else None


def manifest_cache_file(dot: Path) -> Path:
    return dot / "manifest-cache.json"


def runs_dir(dot: Path) -> Path:
    """Executed copies of the learner's notebooks."""
    return dot / "runs"


def kernel_log(dot: Path) -> Path:
    """What the kernels of ``dl7 run`` and ``dl7 watch`` printed outside their cells."""
    return runs_dir(dot) / "kernel.log"


def lab_log(dot: Path) -> Path:
    """JupyterLab's own output under ``dl7 open``."""
    return dot / "jupyter.log"


def exports_dir(dot: Path) -> Path:
    """``dl7 run --html``: the latest HTML export of each notebook, ``<step>/<name>.html``, kept
    apart from the executed copies so that pruning those never takes it."""
    return dot / "exports"


def lab_lock(dot: Path) -> Path:
    """Held by the ``dl7 open`` serving this workspace; says its pid and port, never its token."""
    return dot / "jupyter.lock"


def validate_kernel_log(course_root: Path) -> Path:
    """What validate's kernels printed outside their cells, beside its run cache."""
    return validate_cache_file(course_root).with_name("kernel.log")


# -- the course a kernel serves ----------------------------------------------------------------


def enclosing_course(start: Path | None = None) -> Path | None:
    """The nearest trusted ``curriculum.yaml`` at or above ``start``."""
    for folder in walk_up(start):
        found = _trusted_in(folder, MANIFEST)
        if found is not None and found.is_file():
            return found
    return None


def kernel_checkers(start: Path | None = None) -> list[str]:
    """The checker modules for a kernel: named by the runner (``$DL7_CHECKERS``), by the
    enclosing workspace, or by the enclosing course (an author previewing a source notebook
    in JupyterLab in the course folder)."""
    env = os.environ.get(CHECKERS_ENV)
    if env:
        return [s for s in env.split(os.pathsep) if s]
    workspace = enclosing_workspace(start)
    if workspace is not None:
        info_path = info_file(workspace / DOT)
        checkers = read_info(workspace / DOT).get("checkers") if trusted(info_path) else None
        return [c for c in checkers if isinstance(c, str)] if isinstance(checkers, list) else []
    manifest = enclosing_course(start)
    if manifest is not None:
        try:
            from dl7.curriculum import load  # upward: an author previewing a source notebook

            return list(load(manifest).checkers)
        except Exception:  # a manifest being edited: no checkers from it
            return []
    return []


# -- caches -------------------------------------------------------------------------------------


def user_cache_dir() -> Path:
    """The per-user cache folder (platformdirs) ``.../dl7``."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("dl7"))


def validate_cache_dir(course_root: Path) -> Path:
    """validate's own folder for one course, in the per-user cache and keyed by the course's
    resolved path: what lies in the course folder may have come with the course, so a verdict
    is never read from there."""
    root = course_root.resolve()
    import hashlib  # only where a cache is named: not on `dl7 next`'s path

    key = hashlib.sha256(os.fsencode(root)).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", root.name)[:40].lstrip(".") or "course"
    return user_cache_dir() / "validate" / f"{name}-{key}"


def validate_cache_file(course_root: Path) -> Path:
    """validate's run cache: ``$DL7_VALIDATE_CACHE``, else ``validate.json`` in
    :func:`validate_cache_dir`."""
    env = os.environ.get(VALIDATE_CACHE_ENV)
    return Path(env).expanduser() if env else validate_cache_dir(course_root) / "validate.json"


def data_cache_dir() -> Path:
    """Downloaded data sets: ``$DL7_DATA``, else the per-user cache ``.../dl7/datasets``."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return user_cache_dir() / "datasets"
