"""``dl7 doctor``: what a learner's setup needs, one finding a line, each problem with its fix.

Every check is a plain function returning a :class:`Finding`; none raises, none writes anything
but a probe file it removes again, and none moves a corrupt progress file aside (only reading
it): the doctor looks, the learner decides.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MIN_FREE_BYTES = 2 * 1024**3  # the executed copies, a fetched MNIST and TensorFlow's caches
KERNEL_SLOW_S = 20.0
TF_TIMEOUT_S = 180


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    seconds: float | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "ok": self.ok,
            "detail": self.detail,
            "fix": self.fix,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
        }


def python_version() -> Finding:
    v = sys.version_info
    shown = f"{v.major}.{v.minor}.{v.micro} ({sys.executable})"
    if (3, 11) <= (v.major, v.minor) < (3, 14):
        return Finding("python", True, shown)
    return Finding("python", False, shown, "dl7 needs Python 3.11 to 3.13: make a venv with one of those")


def dl7_version() -> Finding:
    from dl7 import __version__

    return Finding("dl7", True, f"{__version__} ({Path(__file__).resolve().parent})")


def kernel() -> Finding:
    """Start a real kernel the way `dl7 run` does, run one cell, and time it."""
    from dl7.execute import execute

    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "source": "1 + 1", "outputs": [], "execution_count": None}
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    fix = f"{sys.executable} -m pip install ipykernel"
    start = time.monotonic()
    try:
        with open(os.devnull, "w", encoding="utf-8") as log:
            execution = execute(nb, Path.cwd(), cell_timeout=60, budget=90, kernel_log=log)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the doctor reports; it never raises
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        return Finding("kernel", False, f"no kernel starts: {message}", fix)
    seconds = time.monotonic() - start
    if not execution.completed:
        return Finding(
            "kernel", False, f"the kernel started but did not run a cell: {execution.message}", fix
        )
    if seconds > KERNEL_SLOW_S:
        return Finding(
            "kernel",
            False,
            f"starts, but slowly: {seconds:.1f} s for one cell",
            "close other heavy programs; a virus scanner watching the venv slows every start",
            seconds,
        )
    return Finding("kernel", True, f"starts from this environment in {seconds:.1f} s", seconds=seconds)


def tensorflow() -> Finding:
    """Import TensorFlow in a fresh interpreter, as a notebook does, and time it."""
    from dl7.execute import KERNEL_ENV

    code = "import keras, tensorflow as tf; print(tf.__version__, keras.__version__)"
    fix = f"{sys.executable} -m pip install 'tensorflow-cpu>=2.16' (or reinstall dl7)"
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=TF_TIMEOUT_S,
            env={**os.environ, **KERNEL_ENV},
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Finding("tensorflow", False, f"the import took longer than {TF_TIMEOUT_S} s", fix)
    except OSError as exc:
        return Finding("tensorflow", False, f"cannot start Python: {exc}", fix)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return Finding("tensorflow", False, f"does not import: {last}", fix, seconds)
    tf, keras = (done.stdout.split() + ["?", "?"])[:2]
    return Finding("tensorflow", True, f"{tf} (Keras {keras}) imports in {seconds:.1f} s", seconds=seconds)


def jupyterlab() -> Finding:
    if importlib.util.find_spec("jupyterlab") is None:
        return Finding(
            "jupyterlab", False, "not installed", f"{sys.executable} -m pip install 'jupyterlab>=4'"
        )
    from importlib.metadata import version

    return Finding("jupyterlab", True, f"{version('jupyterlab')} (dl7 open starts it)")


def workspace(root: Path) -> list[Finding]:
    """The workspace is writable and its progress file healthy (read only, never repaired)."""
    from dl7.workspace import DOT, HOME_ENV

    dot = root / DOT
    if not dot.is_dir():
        parent = next((p for p in (root, *root.parents) if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK):
            return [Finding("workspace", True, f"{root} (not created yet; `dl7 next` creates it)")]
        return [
            Finding(
                "workspace",
                False,
                f"{root} cannot be created: {parent} is not writable",
                f"set {HOME_ENV} to a folder you can write to",
            )
        ]
    probe = dot / f".doctor-{os.getpid()}"
    try:
        probe.write_text("probe", encoding="utf-8")
    except OSError as exc:
        why = exc.strerror or str(exc)
        found = Finding(
            "workspace", False, f"{root} is not writable ({why})", f"free space there, or set {HOME_ENV}"
        )
    else:
        found = Finding("workspace", True, f"{root} is writable")
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return [found, progress_file(dot / "progress.sqlite")]


def progress_file(path: Path) -> Finding:
    if not path.exists():
        return Finding("progress", True, "no progress file yet (the first run creates it)")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            result = db.execute("PRAGMA quick_check").fetchone()[0]
            attempts = db.execute("SELECT count(*) FROM attempts").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error as exc:
        result, attempts = str(exc), 0
    if result != "ok":
        return Finding(
            "progress",
            False,
            f"{path} is damaged ({result})",
            "the next `dl7 status` moves it aside and starts a new one; your notebooks are safe",
        )
    return Finding("progress", True, f"healthy, {attempts} run(s) recorded")


def disk(root: Path) -> Finding:
    where = next((p for p in (root, *root.parents) if p.exists()), Path("/"))
    try:
        free = shutil.disk_usage(where).free
    except OSError as exc:
        return Finding("disk", False, f"cannot measure free space at {where}: {exc}", "")
    shown = f"{free / 1024**3:.1f} GiB free at {where}"
    if free < MIN_FREE_BYTES:
        return Finding("disk", False, shown, f"free at least {MIN_FREE_BYTES // 1024**3} GiB there")
    return Finding("disk", True, shown)


def datasets() -> Finding:
    from dl7 import datasets as registry

    rows = registry.registry()
    present = [r.name for r in rows if r.cached]
    missing = [r.name for r in rows if not r.cached]
    detail = f"present: {', '.join(present) or 'none'}"
    if missing:  # optional full-size sets: the notebooks run offline without them
        detail += f"; optional, not fetched: {', '.join(missing)} (`dl7 data fetch NAME`)"
    return Finding("data sets", True, detail)


def diagnose(root: Path, *, skip_tensorflow: bool = False) -> list[Finding]:
    checks: list[Callable[[], Finding | list[Finding]]] = [
        python_version,
        dl7_version,
        kernel,
        jupyterlab,
        lambda: workspace(root),
        lambda: disk(root),
        datasets,
    ]
    if not skip_tensorflow:
        checks.insert(3, tensorflow)
    found: list[Finding] = []
    for check in checks:
        result = check()
        found.extend(result if isinstance(result, list) else [result])
    return found


def report_json(findings: list[Finding]) -> str:
    return json.dumps(
        {"ok": all(f.ok for f in findings), "checks": [f.to_json() for f in findings]}, indent=2
    )
