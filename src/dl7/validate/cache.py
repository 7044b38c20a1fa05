"""The validate cache: a case that passed is skipped while nothing that could change its verdict has.

A case's key hashes what is known before it runs: the whole source notebook minus outputs
(metadata and tags included), the case (and, for a run of known mistakes, which ones), the
notebook's manifest entry, the course's checker list, kernel environment and data-set module,
every file of the dl7 package except the course's own checker modules, the data files the
notebook may read (:func:`data_digest`), and the versions of Python and of the runner's
executor (nbclient, nbformat).

Two things are learnt only by running, and recorded with the case: what the kernel imported
from the course (checker modules, helpers, anything under the course folder or the dl7
package), file by file with its sha256; and every installed distribution the kernel imported
(its top-level modules, mapped to distributions by ``importlib.metadata``), with its version.
A cached pass holds only while every one of those files is unchanged and every one of those
distributions is still installed at that version. So editing step 5's checkers re-runs the
notebooks whose kernels imported them, and upgrading a library re-runs the notebooks that used
it, and no others.

Every case an unsharded run executes has its seconds kept too (pass or fail), to balance
shards (:mod:`dl7.validate.shards`).

The file lives in the per-user cache, in a folder keyed by the course's resolved path
(:func:`dl7.locations.validate_cache_dir`), unless ``DL7_VALIDATE_CACHE`` names another; never
in the course, where a pull request could commit a PASS. A cache file is read only when it is
trusted (this user's or root's, not writable by everyone) and, when ``DL7_VALIDATE_CACHE`` names
it, not tracked by git: a committed or planted entry never skips a run.
One entry is kept per notebook and case; ``--no-cache`` re-runs without forgetting the others.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from dl7 import __version__, locations
from dl7.curriculum import Curriculum, Notebook, checker_source
from dl7.errors import os_error
from dl7.workspace import write_atomic

CACHE_ENV = locations.VALIDATE_CACHE_ENV
FORMAT = 3  # 3: distributions recorded per case instead of a fixed list, durations, data files
# The parent's side of every run: what drives the kernel. Everything the kernel itself imports
# (ipykernel, numpy, the course's libraries) is recorded per case by what it really imported.
RUNNER_PACKAGES = ("nbclient", "nbformat")
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def cache_file(curriculum: Curriculum) -> Path:
    return cache_file_at(curriculum.root)


def cache_file_at(course_root: Path) -> Path:
    """The run cache of the course in ``course_root``: ``$DL7_VALIDATE_CACHE``, or
    ``validate.json`` in the per-user cache. Its folder also keeps the manifest's parse."""
    return locations.validate_cache_file(course_root)


def readable(path: Path) -> bool:
    """Whether the cache file at ``path`` may be believed: this user's (or root's), not writable
    by everyone, and, when ``$DL7_VALIDATE_CACHE`` put it somewhere of the user's choosing
    (a CI job may point it into the checkout), not a file git tracks. The default folder is in
    the per-user cache, which no commit reaches, so git is asked only for an override."""
    if not locations.trusted(path):
        return False
    return not (os.environ.get(CACHE_ENV) and _tracked_by_git(path))


def _tracked_by_git(path: Path) -> bool:
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", str(path.parent), "ls-files", "--error-unmatch", "--", path.name],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git: no commit could have put it there
        return False
    return done.returncode == 0


def runner_lock() -> dict[str, str]:
    lock = {"python": platform.python_version(), "dl7": __version__}
    for name in RUNNER_PACKAGES:
        try:
            lock[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return lock


def _normalised(name: str) -> str:
    """A distribution's name as PyPI compares them (PEP 503): ``PyYAML`` is ``pyyaml``."""
    return re.sub(r"[-_.]+", "-", name).lower()


class Installed:
    """The installed distributions, asked once per validate run: which provide a top-level
    module, and at which version each is. Not kept between runs: an upgrade must be seen."""

    def __init__(self) -> None:
        self._owners: Mapping[str, list[str]] | None = None
        self._versions: dict[str, str | None] = {}

    def distributions(self, modules: Iterable[str]) -> dict[str, str]:
        """``{distribution: version}`` of every installed distribution providing one of these
        top-level modules (the standard library and the course's own modules provide none)."""
        if self._owners is None:  # ~0.1 s for 160 distributions: only when a case ran
            self._owners = metadata.packages_distributions()
        owners = self._owners
        found: dict[str, str] = {}
        for module in modules:
            for dist in owners.get(module, ()):
                version = self.version(dist)
                if version is not None:
                    found[_normalised(dist)] = version
        return dict(sorted(found.items()))

    def version(self, dist: str) -> str | None:
        key = _normalised(dist)
        if key not in self._versions:
            try:
                self._versions[key] = metadata.version(key)
            except metadata.PackageNotFoundError:
                self._versions[key] = None
        return self._versions[key]


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
    data: str = "",
) -> str:
    """The key of one case from everything known before it runs (``source`` without outputs;
    ``data``, the :func:`data_digest` of its notebook)."""
    # The course's kernel environment and data-set module are read by every kernel it starts.
    course = [list(curriculum.checkers), curriculum.kernel.env, curriculum.datasets]
    payload = [FORMAT, case, extra, asdict(nb), course, source, lock, package, data]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


DATA_FOLDER = "data"  # the course's bundled data, beside curriculum.yaml


def data_digest(curriculum: Curriculum, nb: Notebook, seen: dict[Path, str] | None = None) -> str:
    """The digest of every file the notebook may read as data: the files in its own folder and
    below, and those in the course's ``data/`` folder, each by path and sha256.

    Left out: notebooks (each is its own case's source), Python modules (followed exactly,
    through what the kernel imports), hidden files and folders (``.ipynb_checkpoints``,
    ``.git``, ``.dl7-cache``), ``__pycache__``, virtual environments, and the cache's own files.
    So an edited, added or removed data file re-runs every notebook beside it, and an edited
    file in ``data/`` re-runs the whole course. ``seen`` keeps each folder's digest for one run.
    """
    seen = {} if seen is None else seen
    folders = [curriculum.source_path(nb).parent.resolve(), (curriculum.root / DATA_FOLDER).resolve()]
    parts = []
    for folder in folders:
        if folder not in seen:
            seen[folder] = _folder_digest(folder, curriculum)
        parts.append(seen[folder])
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _folder_digest(folder: Path, curriculum: Curriculum) -> str:
    root = curriculum.root.resolve()
    cache = cache_file(curriculum).resolve()
    own = {
        cache,
        locations.validate_kernel_log(curriculum.root).resolve(),
        cache.with_name("manifest-cache.json"),
    }
    digest = hashlib.sha256()
    for here, dirs, files in os.walk(folder):
        at = Path(here)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and d != "__pycache__" and not (at / d / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            path = at / name
            if name.startswith(".") or path.suffix in (".ipynb", ".py", ".pyc") or path in own:
                continue
            where = path.relative_to(root) if path.is_relative_to(root) else path
            digest.update(f"{where}\0{_sha(path)}\0".encode())
    return digest.hexdigest()


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
        self.installed = Installed()
        self.entries, self.durations = self._read()
        self._shas: dict[Path, str | None] = {}  # cases of one notebook share files: hash each once

    def _sha(self, path: Path) -> str | None:
        if path not in self._shas:
            self._shas[path] = _sha(path)
        return self._shas[path]

    def _read(self) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
        if not readable(self.path):  # missing, planted or committed: every case runs
            return {}, {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}, {}
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return {}, {}  # an older layout: its keys cannot be trusted
        passed = data.get("passed", {})
        return (dict(passed) if isinstance(passed, dict) else {}), _durations(data.get("durations"))

    def lookup(self, key: str) -> dict[str, Any] | None:
        """The entry of a case that passed with this key, if every file it imported is unchanged
        and every distribution it imported is installed at the version it ran with."""
        entry = self.entries.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("deps"), dict):
            return None
        dists = entry.get("dists")
        if not isinstance(dists, dict):
            return None
        if any(self.installed.version(name) != version for name, version in dists.items()):
            return None
        root = self.curriculum.root.resolve()
        for name, sha in entry["deps"].items():
            path = Path(name) if Path(name).is_absolute() else root / name
            if self._sha(path) != sha:
                return None
        return entry

    def record_duration(self, notebook: str, case: str, seconds: float) -> None:
        """An executed case's seconds, passed or failed: what shards are balanced by."""
        self.durations.setdefault(notebook, {})[case] = round(seconds, 2)

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
        times = self.durations.get(notebook, {})
        for case in [c for c in times if c not in cases]:
            del times[case]

    def write(self) -> str | None:
        """Save the cache; on a full or read-only disk, say why it was not (one line) instead."""
        try:
            text = json.dumps(
                {"format": FORMAT, "dl7": __version__, "passed": self.entries, "durations": self.durations},
                indent=1,
                sort_keys=True,
            )
            write_atomic(self.path, text + "\n")
        except OSError as exc:  # a read-only course still validates; it just is not cached
            error = os_error(exc, "the validate cache was not saved to", self.path, env=CACHE_ENV)
            hint = error.hint[:1].upper() + error.hint[1:]
            return f"{error.message}; the next validate runs these notebooks again. {hint}."
        return None


def _durations(data: Any) -> dict[str, dict[str, float]]:
    """``{notebook: {case: seconds}}`` as read, anything malformed left out."""
    if not isinstance(data, dict):
        return {}
    return {
        str(notebook): {
            str(case): float(seconds)
            for case, seconds in cases.items()
            if isinstance(seconds, int | float) and not isinstance(seconds, bool)
        }
        for notebook, cases in data.items()
        if isinstance(cases, dict)
    }
