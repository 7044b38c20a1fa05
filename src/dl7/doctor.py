"""``dl7 doctor``: what a learner's setup needs, one finding a line, each problem with its fix.

Every check is a plain function returning a :class:`Finding`; none raises, none writes anything
but a probe file it removes again, and none moves a corrupt progress file aside (only reading
it): the doctor looks, the learner decides. What it tries of the course (a kernel with the
course's environment, the libraries the course declares under ``kernel.libraries``) it reads
from the course's manifest.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dl7.curriculum import Curriculum, KernelNeeds

MIN_FREE_BYTES = 2 * 1024**3  # the executed copies, fetched data sets and libraries' caches
KERNEL_SLOW_S = 20.0
IMPORT_TIMEOUT_S = 180  # per library: a large one on a busy laptop, with room to spare


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


def course(load: Callable[[], Curriculum]) -> tuple[Finding, Curriculum | None]:
    """The course's manifest loads (its kernel needs are read from it)."""
    from dl7.errors import Dl7Error

    try:
        loaded = load()
    except Dl7Error as exc:
        return Finding("course", False, exc.message, exc.hint or "`dl7 validate` explains more"), None
    return Finding("course", True, f"{loaded.title} ({loaded.path})"), loaded


def kernel(env: Mapping[str, str] | None = None) -> Finding:
    """Start a real kernel the way `dl7 run` does (``env``: the course's), run one cell, time it."""
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
            execution = execute(
                nb, Path.cwd(), cell_timeout=60, budget=90, kernel_log=log, course_env=dict(env or {})
            )
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


# Runs in a fresh interpreter: imports one library, prints its version (or "?") last.
_IMPORT_CODE = """
import importlib, sys
module = importlib.import_module(sys.argv[1])
print(getattr(module, "__version__", None) or "?")
"""


def libraries(needs: KernelNeeds) -> list[Finding]:
    """Import each library the course declares (``kernel.libraries``) in a fresh interpreter
    with the course's kernel environment, as a notebook would, and time it: one finding each."""
    from dl7 import kernels

    env = {**os.environ, **kernels.environment(needs.env)}
    return [_library(name, env, needs.install) for name in needs.libraries]


def _library(name: str, env: dict[str, str], install: str = "") -> Finding:
    fix = (
        f"install what the course needs: {install}"
        if install
        else f"{sys.executable} -m pip install {name} (or reinstall the course's requirements)"
    )
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _IMPORT_CODE, name],
            capture_output=True,
            text=True,
            timeout=IMPORT_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Finding(name, False, f"the import took longer than {IMPORT_TIMEOUT_S} s", fix)
    except OSError as exc:
        return Finding(name, False, f"cannot start Python: {exc}", fix)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return Finding(name, False, f"does not import: {last}", fix, seconds)
    version = (done.stdout.strip().splitlines() or ["?"])[-1]
    return Finding(name, True, f"{version} imports in {seconds:.1f} s", seconds=seconds)


# A kernelspec whose command is one of these runs this very interpreter: jupyter_client puts
# sys.executable in their place when it starts the kernel (KernelManager.format_kernel_cmd).
_THIS_PYTHON = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
_NO_DL7 = "No module named 'dl7'"


@functools.cache
def _kernel_has_dl7(name: str) -> tuple[bool, str, str]:
    """Whether the kernelspec ``name`` runs a Python that imports dl7; its display name, and
    what it runs (for the message)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        return False, name, "not installed on this machine"
    except Exception:  # an unreadable kernel.json is JupyterLab's to report
        return True, name, ""
    argv0 = spec.argv[0] if spec.argv else ""
    if argv0 in _THIS_PYTHON or os.path.abspath(argv0) == os.path.abspath(sys.executable):
        return True, spec.display_name, sys.executable
    if (spec.language or "").lower() != "python":
        return False, spec.display_name, f"a {spec.language} kernel"
    try:
        done = subprocess.run([argv0, "-c", "import dl7"], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False, spec.display_name, argv0
    return done.returncode == 0, spec.display_name, argv0


def dl7_kernel_name() -> str:
    """How JupyterLab names the kernel that runs dl7's Python (the native ``python3``)."""
    ok, display, _ = _kernel_has_dl7("python3")
    return display if ok else "Python 3 (ipykernel)"


def kernel_fix() -> str:
    return (
        f"in JupyterLab choose Kernel ▸ Change Kernel… ▸ “{dl7_kernel_name()}” "
        f"(dl7's Python, {sys.executable})"
    )


def kernel_trouble(nb: Mapping[str, object]) -> str:
    """Why JupyterLab cannot run this notebook's checks (its kernel is another Python, without
    dl7; or its saved outputs say `No module named 'dl7'`); "" if nothing is wrong. The fix
    is :func:`kernel_fix`. `dl7 run` itself always uses dl7's Python, whatever the notebook names."""
    meta = nb.get("metadata")
    spec = meta.get("kernelspec") if isinstance(meta, dict) else None
    name = spec.get("name") if isinstance(spec, dict) else None
    ok, display, runs = _kernel_has_dl7(name) if isinstance(name, str) and name else (True, "", "")
    if not ok:
        return f"JupyterLab runs it in the kernel “{display}” ({runs}), which cannot import dl7"
    cells = nb.get("cells")
    for cell in cells if isinstance(cells, list) else []:
        for output in cell.get("outputs", []) if isinstance(cell, dict) else []:
            if isinstance(output, dict) and _NO_DL7 in str(output.get("evalue", "")):
                return f"in JupyterLab it said “{_NO_DL7}”: its kernel is not dl7's Python"
    return ""


def notebook_kernels(root: Path, loaded: Curriculum | None) -> Finding:
    """The learner's notebooks name a kernel that runs dl7's Python (JupyterLab uses it)."""
    from dl7.workspace import Workspace

    if loaded is None:
        return Finding("notebook kernels", True, "no course to look at")
    ws = Workspace(root)
    wrong = []
    for nb in loaded.notebooks:
        path = ws.learner_path(nb)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # missing or unreadable: `dl7 run` says so, not the doctor
        if isinstance(data, dict) and (trouble := kernel_trouble(data)):
            wrong.append(f"{nb.path}: {trouble}")
    if not wrong:
        return Finding("notebook kernels", True, "every notebook of your workspace uses dl7's Python")
    return Finding("notebook kernels", False, "; ".join(wrong), kernel_fix())


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
        # A URI, so the doctor never creates or changes the file; the path quoted in it (as_uri
        # percent-encodes it), since a folder named with `?`, `#` or `%` would otherwise end the
        # path early or decode into another file.
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=5)
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


def datasets(loaded: Curriculum | None = None) -> Finding:
    """The course's data sets (``loaded``'s; without it, the course this folder serves)."""
    from dl7 import datasets as registry

    try:
        rows = registry.registry(loaded)
    except registry.DatasetError as exc:  # the course's declarations cannot be read
        return Finding("data sets", False, exc.message, exc.hint or "`dl7 validate` explains more")
    present = [r.name for r in rows if r.cached]
    missing = [r.name for r in rows if not r.cached]
    detail = f"present: {', '.join(present) or 'none'}"
    if missing:  # optional full-size sets: the notebooks run offline without them
        detail += f"; optional, not fetched: {', '.join(missing)} (`dl7 data fetch NAME`)"
    return Finding("data sets", True, detail)


def diagnose(
    root: Path, load: Callable[[], Curriculum] | None = None, *, skip_libraries: bool = False
) -> list[Finding]:
    """Every check, in order. ``load`` gives the course (a broken manifest is one finding);
    ``skip_libraries`` leaves out importing the course's libraries, the slowest check."""
    from dl7.curriculum import KernelNeeds

    found: list[Finding] = [python_version(), dl7_version()]
    loaded = None
    if load is not None:
        finding, loaded = course(load)
        found.append(finding)
    needs = loaded.kernel if loaded is not None else KernelNeeds()
    checks: list[Callable[[], Finding | list[Finding]]] = [
        lambda: kernel(needs.env),
        lambda: _skipped(needs) if skip_libraries else libraries(needs),
        jupyterlab,
        lambda: notebook_kernels(root, loaded),
        lambda: workspace(root),
        lambda: disk(root),
        lambda: datasets(loaded),
    ]
    for check in checks:
        result = check()
        found.extend(result if isinstance(result, list) else [result])
    return found


def _skipped(needs: KernelNeeds) -> list[Finding]:
    """--quick: say which libraries were not tried, rather than nothing (or that they import)."""
    if not needs.libraries:
        return []
    names = ", ".join(needs.libraries)
    return [Finding("libraries", True, f"not imported (--quick): {names}; `dl7 doctor` tries them")]


def report_json(findings: list[Finding]) -> str:
    return json.dumps(
        {"ok": all(f.ok for f in findings), "checks": [f.to_json() for f in findings]}, indent=2
    )
