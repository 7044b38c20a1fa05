"""The validate cache: a case that passed is skipped while nothing that could change its verdict has.

A case's key hashes what is known before it runs: the whole source notebook minus outputs
(metadata and tags included), the case (and, for a run of known mistakes, which ones), the
notebook's manifest entry and the course's checker list, every file of the dl7 package except
the course's own checker modules, and the versions of the packages that compute or run it.
What the kernel then imports from the course (checker modules, helpers, anything under the
course folder or the dl7 package) is recorded with the case, file by file, and a cached pass
holds only while every one of those files is unchanged. So editing step 5's checkers re-runs
the notebooks whose kernels imported them, and no others.

The file is ``<course>/.dl7-cache/validate.json`` unless ``DL7_VALIDATE_CACHE`` names another.
One entry is kept per notebook and case; ``--no-cache`` re-runs without forgetting the others.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from dl7 import __version__
from dl7.curriculum import Curriculum, Notebook, checker_source
from dl7.errors import os_error
from dl7.workspace import write_atomic

CACHE_ENV = "DL7_VALIDATE_CACHE"
FORMAT = 2
# Installed packages whose version changes what a notebook computes or how it runs.
LOCKED_PACKAGES = (
    "numpy",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "scikit-learn",
    "matplotlib",
    "ipykernel",
    "ipython",
    "nbclient",
    "nbformat",
    "jupyter_client",
)
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def cache_file(curriculum: Curriculum) -> Path:
    return cache_file_at(curriculum.root)


def cache_file_at(course_root: Path) -> Path:
    """The run cache of the course in ``course_root``: ``$DL7_VALIDATE_CACHE``, or
    ``<course>/.dl7-cache/validate.json``. Its folder also keeps the manifest's parse."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else course_root / ".dl7-cache" / "validate.json"


def package_lock() -> dict[str, str]:
    lock = {"python": platform.python_version(), "dl7": __version__}
    for name in LOCKED_PACKAGES:
        try:
            lock[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return lock


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def course_checker_paths(curriculum: Curriculum) -> list[Path]:
    """The course's checker modules: a file, or a package's whole folder."""
    paths = []
    for spec in curriculum.checkers:
        source = checker_source(spec)
        if source is None:
            continue
        source = source if source.is_absolute() else curriculum.root / source
        paths.append(source.resolve().parent if source.name == "__init__.py" else source.resolve())
    return paths


def package_digest(curriculum: Curriculum) -> str:
    """Every file of the dl7 package (the runner, the validator, the check API, the data
    registry), except the course's checker modules inside it: those count when a kernel
    imports them."""
    own = course_checker_paths(curriculum)
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        if any(path == p or p in path.parents for p in own):
            continue
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def case_key(
    curriculum: Curriculum,
    nb: Notebook,
    case: str,
    source: dict[str, Any],
    extra: Any,
    lock: dict[str, str],
    package: str,
) -> str:
    """The key of one case from everything known before it runs (``source`` without outputs)."""
    payload = [FORMAT, case, extra, asdict(nb), list(curriculum.checkers), source, lock, package]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def tracked_roots(curriculum: Curriculum) -> tuple[list[str], list[str]]:
    """Folders whose imported files a case depends on, and folders excluded from them."""
    roots = {str(curriculum.root.resolve()), str(PACKAGE_DIR)}
    roots |= {str(p if p.is_dir() else p.parent) for p in course_checker_paths(curriculum)}
    excluded = {str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}}
    return sorted(roots), sorted(excluded)


def fingerprint(files: list[str], curriculum: Curriculum) -> dict[str, str] | None:
    """The sha256 of each imported file, keyed by its path (relative to the course when inside)."""
    root = curriculum.root.resolve()
    deps: dict[str, str] = {}
    for name in files:
        path = Path(name).resolve()
        sha = _sha(path)
        if sha is None:
            continue  # a module without a file on disk any more: nothing to compare
        deps[str(path.relative_to(root)) if path.is_relative_to(root) else str(path)] = sha
    return deps


class Cache:
    def __init__(self, curriculum: Curriculum) -> None:
        self.curriculum = curriculum
        self.path = cache_file(curriculum)
        self.entries = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return {}  # an older layout: its keys cannot be trusted
        passed = data.get("passed", {})
        return dict(passed) if isinstance(passed, dict) else {}

    def lookup(self, key: str) -> dict[str, Any] | None:
        """The entry of a case that passed with this key, if every file it imported is unchanged."""
        entry = self.entries.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("deps"), dict):
            return None
        root = self.curriculum.root.resolve()
        for name, sha in entry["deps"].items():
            path = Path(name) if Path(name).is_absolute() else root / name
            if _sha(path) != sha:
                return None
        return entry

    def store(self, key: str, notebook: str, case: str, entry: dict[str, Any]) -> None:
        # One entry per notebook and case: the one that passed last.
        for old in [
            k for k, v in self.entries.items() if (v.get("notebook"), v.get("case")) == (notebook, case)
        ]:
            del self.entries[old]
        self.entries[key] = {"notebook": notebook, "case": case, **entry}

    def forget_other_cases(self, notebook: str, cases: set[str]) -> None:
        """Drop a notebook's entries for cases it no longer has (fewer runs of mistakes)."""
        stale = [
            k for k, v in self.entries.items() if v.get("notebook") == notebook and v.get("case") not in cases
        ]
        for key in stale:
            del self.entries[key]

    def write(self) -> str | None:
        """Save the cache; on a full or read-only disk, say why it was not (one line) instead."""
        try:
            text = json.dumps(
                {"format": FORMAT, "dl7": __version__, "passed": self.entries}, indent=1, sort_keys=True
            )
            write_atomic(self.path, text + "\n")
        except OSError as exc:  # a read-only course still validates; it just is not cached
            error = os_error(exc, "the validate cache was not saved to", self.path, env=CACHE_ENV)
            hint = error.hint[:1].upper() + error.hint[1:]
            return f"{error.message}; the next validate runs these notebooks again. {hint}."
        return None
