"""``dl7 validate``: prove every notebook works solved and that no check passes unsolved.

For each notebook of the course (or of the chosen steps):

* static checks — valid nbformat, no committed outputs or execution counts, balanced solution
  markers, a python3 kernelspec, every exercise with at least one hint, every ``check(...)``
  call listed in the manifest and every listed exercise called;
* a *solved* run of the source notebook: every exercise passes, within the time budget;
* an *unsolved* run of the learner version: every exercise comes back ``not_attempted`` or
  ``failed`` — a pass means the check is vacuous, anything else means a result was lost.

Runs go in parallel (threads, one kernel each) and are skipped when a content hash of all
their inputs matches one that passed before (``<course>/.dl7-cache/validate.json`` unless
``DL7_VALIDATE_CACHE`` names another file).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from dl7 import __version__
from dl7.authoring import MarkerError, cell_source, has_outputs, learner_version, solution_regions
from dl7.curriculum import Curriculum, Notebook, checker_source, registered_in
from dl7.errors import Dl7Error
from dl7.results import check_calls
from dl7.workspace import read_notebook, write_atomic

CACHE_ENV = "DL7_VALIDATE_CACHE"
# Installed packages whose version changes what a notebook computes.
LOCKED_PACKAGES = (
    "numpy",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "scikit-learn",
    "matplotlib",
    "ipykernel",
    "nbclient",
    "jupyter_client",
)


@dataclass(frozen=True)
class Problem:
    exercise: str | None
    reason: str


@dataclass(frozen=True)
class CaseResult:
    """One test case: a notebook × {static, solved, unsolved}."""

    notebook: str
    case: str  # static | solved | unsolved
    ok: bool
    problems: tuple[Problem, ...] = ()
    seconds: float = 0.0
    cached: bool = False
    skipped: bool = False  # not run because the static checks failed


@dataclass(frozen=True)
class Report:
    course: str
    cases: tuple[CaseResult, ...]
    seconds: float
    executed: int  # notebook runs actually executed (not cached)
    manifest: str = ""

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.cases)


@dataclass
class _Job:
    nb: Notebook
    case: str
    key: str
    content: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[str, str, str, "CaseResult | None"], None]  # (notebook, case, event, result)


def validate(
    curriculum: Curriculum,
    steps: tuple[str, ...] = (),
    *,
    jobs: int | None = None,
    use_cache: bool = True,
    listener: Listener | None = None,
) -> Report:
    start = time.monotonic()
    chosen = [curriculum.step(s).id for s in steps] if steps else [s.id for s in curriculum.steps]
    notebooks = [nb for step in curriculum.steps if step.id in chosen for nb in step.notebooks]
    cache_path = cache_file(curriculum)
    cache = _read_cache(cache_path) if use_cache else {}
    lock = _package_lock()
    cases: list[CaseResult] = []
    pending: list[_Job] = []
    for nb in notebooks:
        static, content = static_checks(curriculum, nb)
        cases.append(static)
        if not static.ok:
            cases += [
                CaseResult(
                    nb.path, c, False, (Problem(None, "not run: the static checks failed"),), skipped=True
                )
                for c in ("solved", "unsolved")
            ]
            continue
        for case in ("solved", "unsolved"):
            key = _cache_key(curriculum, nb, case, content, lock)
            if use_cache and key in cache:
                cases.append(CaseResult(nb.path, case, True, seconds=0.0, cached=True))
                if listener:
                    listener(nb.path, case, "cached", cases[-1])
            else:
                pending.append(_Job(nb, case, key, content))
    workers = max(1, jobs or os.cpu_count() or 1)

    def work(job: _Job) -> CaseResult:
        if listener:
            listener(job.nb.path, job.case, "start", None)
        result = run_case(curriculum, job.nb, job.case, job.content)
        if listener:
            listener(job.nb.path, job.case, "done", result)
        return result

    # Longest first would need timings; manifest order keeps output predictable.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dl7-validate") as pool:
        finished = list(pool.map(work, pending))
    for job, result in zip(pending, finished, strict=True):
        cases.append(result)
        if result.ok:
            cache[job.key] = {"notebook": job.nb.path, "case": job.case, "seconds": round(result.seconds, 2)}
    if use_cache or finished:
        _write_cache(cache_path, cache, {j.key for j in pending} | set(cache))
    order = {nb.path: i for i, nb in enumerate(notebooks)}
    rank = {"static": 0, "solved": 1, "unsolved": 2}
    cases.sort(key=lambda c: (order[c.notebook], rank[c.case]))
    return Report(curriculum.id, tuple(cases), time.monotonic() - start, len(pending), str(curriculum.path))


def static_checks(curriculum: Curriculum, nb: Notebook) -> tuple[CaseResult, dict[str, Any]]:
    problems: list[Problem] = []
    path = curriculum.source_path(nb)
    try:
        data = read_notebook(path)
    except Dl7Error as exc:
        return CaseResult(nb.path, "static", False, (Problem(None, exc.message),)), {}
    import nbformat

    try:
        nbformat.validate(nbformat.reads(json.dumps(data), as_version=4))  # type: ignore[no-untyped-call]
    except nbformat.ValidationError as exc:
        problems.append(Problem(None, f"not valid nbformat: {exc.message}"))
    except Exception as exc:  # nbformat raises several kinds for broken files
        problems.append(Problem(None, f"not a valid notebook: {exc}"))
    with_outputs = has_outputs(data)
    if with_outputs:
        cells = ", ".join(str(i + 1) for i in with_outputs[:5])
        problems.append(
            Problem(
                None,
                f"committed with outputs or execution counts (cells {cells}); clear them before committing",
            )
        )
    try:
        if not solution_regions(data):
            problems.append(
                Problem(None, "has no ### BEGIN SOLUTION region, so its learner version is the same notebook")
            )
    except MarkerError as exc:
        problems.append(Problem(None, f"solution markers: {exc}"))
    kernel = (data.get("metadata") or {}).get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(Problem(None, f"kernelspec is {kernel!r}; expected 'python3'"))
    calls = check_calls(data)
    listed = {e.id for e in nb.exercises}
    for ex in nb.exercises:
        if not ex.hints:
            problems.append(Problem(ex.id, "has no hints in the manifest"))
        if ex.id not in calls:
            problems.append(
                Problem(ex.id, f"is listed in the manifest but the notebook never calls check({ex.id!r})")
            )
        elif len(calls[ex.id]) > 1:
            cells = ", ".join(str(i + 1) for i in calls[ex.id])
            problems.append(Problem(ex.id, f"is checked more than once (cells {cells})"))
    for called in sorted(set(calls) - listed):
        problems.append(
            Problem(
                called,
                f"the notebook calls check({called!r}) but the manifest does not list it under {nb.path}",
            )
        )
    content = {"cells": [[c.get("cell_type"), cell_source(c)] for c in data.get("cells", [])], "data": data}
    return CaseResult(nb.path, "static", not problems, tuple(problems)), content


def run_case(curriculum: Curriculum, nb: Notebook, case: str, content: dict[str, Any]) -> CaseResult:
    """Execute one notebook solved or unsolved and judge its results."""
    from dl7.execute import execute
    from dl7.results import collect

    source = content["data"] if case == "solved" else learner_version(content["data"])
    log_path = cache_file(curriculum).with_name("kernel.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"--- {nb.path} {case}\n")
        log.flush()
        execution = execute(
            source,
            curriculum.source_path(nb).parent,
            cell_timeout=nb.cell_timeout,
            budget=nb.budget,
            checkers=curriculum.checkers,
            kernel_log=log,
        )
    results = collect(nb, execution)
    problems: list[Problem] = []
    if execution.outcome in ("budget", "timeout", "dead"):
        problems.append(
            Problem(
                None,
                execution.message
                + (f" (cell {execution.stopped_at + 1})" if execution.stopped_at is not None else ""),
            )
        )
    elif execution.outcome == "interrupted":
        raise KeyboardInterrupt
    elif execution.seconds > nb.budget:
        problems.append(Problem(None, f"took {execution.seconds:.0f} s, over its budget of {nb.budget} s"))
    for r in results:
        if case == "solved" and r.status != "passed":
            problems.append(
                Problem(r.id, f"the solution does not pass ({r.status.replace('_', ' ')}): {r.message}")
            )
        elif case == "unsolved" and r.status == "passed":
            problems.append(Problem(r.id, "passes without a solution: the check is vacuous"))
        elif case == "unsolved" and r.status not in ("not_attempted", "failed"):
            problems.append(
                Problem(
                    r.id,
                    f"unsolved, it is {r.status.replace('_', ' ')} instead of not "
                    f"attempted or failed, so its result is lost: {r.message}",
                )
            )
    return CaseResult(nb.path, case, not problems, tuple(problems), execution.seconds)


# -- cache ----------------------------------------------------------------------------------


def cache_file(curriculum: Curriculum) -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else curriculum.root / ".dl7-cache" / "validate.json"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return dict(data.get("passed", {})) if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(path: Path, cache: dict[str, Any], keep: set[str]) -> None:
    try:
        write_atomic(
            path,
            json.dumps(
                {"dl7": __version__, "passed": {k: v for k, v in cache.items() if k in keep}},
                indent=1,
                sort_keys=True,
            )
            + "\n",
        )
    except OSError:
        pass  # a read-only course still validates; it just is not cached


def _package_lock() -> dict[str, str]:
    lock = {"python": platform.python_version(), "dl7": __version__}
    for name in LOCKED_PACKAGES:
        try:
            lock[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return lock


def _cache_key(
    curriculum: Curriculum, nb: Notebook, case: str, content: dict[str, Any], lock: dict[str, str]
) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([case, asdict(nb), content["cells"], lock], sort_keys=True).encode())
    # Only the checker modules that judge this notebook: editing step 5's checkers must not
    # re-run step 1's notebooks.
    ids = {e.id for e in nb.exercises}
    for spec in curriculum.checkers:
        source = checker_source(spec)
        if source is None:
            continue
        files = sorted(source.parent.rglob("*.py")) if source.name == "__init__.py" else [source]
        if not any(registered_in(path) & ids for path in files):
            continue
        for path in files:
            digest.update(str(path.name).encode())
            digest.update(path.read_bytes())
    # The check API and the runner's own sources judge the results too.
    here = Path(__file__).resolve().parent
    for name in ("checks/__init__.py", "checks/helpers.py", "execute.py", "results.py", "authoring.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


# -- reports --------------------------------------------------------------------------------


def report_json(report: Report) -> dict[str, Any]:
    return {
        "course": report.course,
        "ok": report.ok,
        "seconds": round(report.seconds, 2),
        "executed": report.executed,
        "cases": [
            {
                "notebook": c.notebook,
                "case": c.case,
                "ok": c.ok,
                "cached": c.cached,
                "skipped": c.skipped,
                "seconds": round(c.seconds, 2),
                "problems": [{"exercise": p.exercise, "reason": p.reason} for p in c.problems],
            }
            for c in report.cases
        ],
    }


def junit_xml(report: Report) -> str:
    from xml.etree import ElementTree as ET

    failures = sum(not c.ok for c in report.cases)
    suite = ET.Element(
        "testsuite",
        name=f"dl7.validate.{report.course}",
        tests=str(len(report.cases)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{report.seconds:.2f}",
    )
    for c in report.cases:
        case = ET.SubElement(suite, "testcase", classname=c.notebook, name=c.case, time=f"{c.seconds:.2f}")
        if not c.ok:
            text = "\n".join(f"{p.exercise}: {p.reason}" if p.exercise else p.reason for p in c.problems)
            first = c.problems[0] if c.problems else Problem(None, "failed")
            message = f"{first.exercise}: {first.reason}" if first.exercise else first.reason
            failure = ET.SubElement(case, "failure", message=message, type="dl7.validate")
            failure.text = text
        elif c.cached:
            ET.SubElement(case, "system-out").text = "cached: inputs unchanged since it last passed"
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
