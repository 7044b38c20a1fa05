"""``dl7 run``: execute a step's learner notebooks, check every exercise, record the attempt.

The learner's notebook is read, never written: the executed copy goes to ``.dl7/runs/<step>/``
(the last few of each notebook are kept), an HTML export to ``.dl7/exports/<step>/`` (the
latest of each, apart from that pruning), whose maths MathJax renders offline when a copy is
installed on the machine (:func:`local_mathjax`). Each notebook's attempt lands in the progress store
in one transaction, ordered by the moment its notebook was read (the save it checks) and with
its code's digest. A run stopped by Ctrl-C records only the exercises it reached.
"""

from __future__ import annotations

import contextlib
import re
import site
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dl7 import locations
from dl7.atomic import append_log
from dl7.curriculum import Curriculum, Notebook, Step
from dl7.errors import Dl7Error, os_error
from dl7.progress import Progress
from dl7.results import CellError, ExerciseResult
from dl7.workspace import Workspace, notebook_text, read_notebook, write_atomic

KEEP_RUNS = 5  # executed copies kept per notebook
CELL_ERRORS = "cell_errors"  # recorded outcome: the run completed, but a cell raised


@dataclass(frozen=True)
class NotebookRun:
    notebook: Notebook
    learner_path: Path
    executed_path: Path | None
    outcome: str
    message: str
    seconds: float
    results: tuple[ExerciseResult, ...]
    cell_errors: tuple[CellError, ...] = ()  # cells that raised where no exercise reports it
    lost: tuple[Dl7Error, ...] = ()  # what could not be kept (a full or read-only disk): say so
    code_digest: str | None = None  # of the learner's code that ran (dl7.watch.code_digest)
    html_path: Path | None = None  # `--html`: where this run's export was written
    # Why JupyterLab cannot run this notebook's checks (a kernel without dl7), with the fix;
    # the run itself used dl7's Python. "" when nothing is wrong.
    kernel_note: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.status == "passed" for r in self.results) and not self.cell_errors


@dataclass(frozen=True)
class StepRun:
    step: Step
    notebooks: tuple[NotebookRun, ...]

    @property
    def results(self) -> tuple[ExerciseResult, ...]:
        return tuple(r for nb in self.notebooks for r in nb.results)

    @property
    def passed(self) -> bool:
        return all(nb.passed for nb in self.notebooks)

    @property
    def interrupted(self) -> bool:
        return any(nb.outcome == "interrupted" for nb in self.notebooks)

    @property
    def lost(self) -> tuple[Dl7Error, ...]:
        """What could not be kept: executed copies, or the attempt itself in the progress file."""
        return tuple(e for nb in self.notebooks for e in nb.lost)

    @property
    def course_faults(self) -> tuple[ExerciseResult, ...]:
        """Results the course is to blame for: a checker that cannot load or that crashed."""
        return tuple(r for r in self.results if r.status == "course_error")


def run_step(
    curriculum: Curriculum,
    ws: Workspace,
    progress: Progress,
    step: Step,
    notebooks: tuple[Notebook, ...],
    *,
    on_notebook: Callable[[Notebook], Callable[[object], None] | None] | None = None,
    html: bool = False,
) -> StepRun:
    """Run each notebook in turn; stop early (recording what ran) if the learner hits Ctrl-C."""
    if not notebooks:
        raise Dl7Error(
            f"step {step.id} has no notebooks to run", hint=f"`dl7 read {step.id}` lists its readings"
        )
    progress.check_writable("cannot record a run")  # a read-only or full workspace: run nothing in vain
    # Read every notebook before running any, so a broken file fails fast and changes nothing.
    # Each run is as new as the save it read: that moment orders its attempt among the others.
    sources: dict[str, tuple[int, dict[str, object]]] = {}
    for nb in notebooks:
        read_at = time.time_ns()
        sources[nb.path] = read_at, read_notebook(ws.learner_path(nb))
    runs = []
    for nb in notebooks:
        listener = on_notebook(nb) if on_notebook else None
        read_at, source = sources[nb.path]
        run = run_notebook(
            curriculum, ws, progress, nb, source, listener=listener, html=html, started_ns=read_at
        )
        runs.append(run)
        if run.outcome == "interrupted":
            break
    return StepRun(step, tuple(runs))


def run_notebook(
    curriculum: Curriculum,
    ws: Workspace,
    progress: Progress,
    nb: Notebook,
    source: dict[str, object],
    *,
    listener: Callable[[object], None] | None = None,
    html: bool = False,
    kernel: object = None,
    started_ns: int | None = None,
    record_interrupted: bool = True,
) -> NotebookRun:
    """``kernel``: a fresh kernel started ahead (``dl7 watch``); by default one is started here.
    ``started_ns``: when ``source`` was read from the learner's file (nanoseconds since the
    epoch), which orders this attempt among the others; by default, now.
    ``record_interrupted``: False (``dl7 watch``): a run stopped by Ctrl-C keeps nothing, no
    attempt and no executed copy; the learner stopped it to save again, not to be judged."""
    from dl7.execute import execute  # nbclient and jupyter_client load only when running
    from dl7.results import collect, observed, stray_errors
    from dl7.testcells import for_run
    from dl7.watch import code_digest  # upward: the one owner of "what a run depends on"; light

    if started_ns is None:
        started_ns = time.time_ns()
    started = datetime.fromtimestamp(started_ns / 1e9, UTC).isoformat(timespec="seconds")
    learner = ws.learner_path(nb)
    digest = code_digest(source)
    runnable = for_run(curriculum, nb, source)  # test-cell exercises: the course's tests, not the learner's
    with append_log(ws.kernel_log, f"--- {started} {nb.path}\n") as log:
        execution = execute(
            runnable,
            learner.parent,
            cell_timeout=nb.cell_timeout,
            budget=nb.budget,
            checkers=curriculum.checkers,
            datasets=curriculum.datasets,
            course_env=curriculum.kernel.env,
            progress=listener,
            kernel_log=log,
            km=kernel,  # type: ignore[arg-type]
        )
    results = collect(nb, execution)
    strays = tuple(stray_errors(nb, execution, results))
    # The run is done: from here a full or read-only disk loses only what it cannot keep, and
    # the results are still shown with a line saying what was not kept.
    lost: list[Dl7Error] = []
    if execution.outcome == "interrupted" and not record_interrupted:
        return NotebookRun(
            nb,
            learner,
            None,
            execution.outcome,
            execution.message,
            execution.seconds,
            tuple(observed(execution, results)),
            (),
            (),
            digest,
        )
    executed = _save_executed(ws, nb, execution.nb, lost=lost)
    exported = _export_html(ws, nb, execution.nb, lost=lost) if html else None
    # A notebook whose every check passed but a cell raised is recorded as such, so the
    # step is not complete until every cell runs.
    outcome = CELL_ERRORS if strays and execution.completed else execution.outcome
    try:
        progress.record_attempt(
            nb.step,
            nb.path,
            started,
            round(execution.seconds, 3),
            outcome,
            str(executed) if executed else None,
            # Ctrl-C: what the run never reached keeps its last verdict (a passed step stays passed).
            [(r.id, r.status, r.message, r.seconds) for r in observed(execution, results)],
            started_ns=started_ns,
            code_digest=digest,
        )
    except Dl7Error as exc:  # the whole attempt or none of it: here, none
        lost.append(Dl7Error(f"this run of {nb.path} was not recorded: {exc.message}", hint=exc.hint))
    from dl7.doctor import kernel_fix, kernel_trouble

    trouble = kernel_trouble(source)
    return NotebookRun(
        nb,
        learner,
        executed,
        execution.outcome,
        execution.message,
        execution.seconds,
        tuple(results),
        strays,
        tuple(lost),
        digest,
        exported,
        f"{trouble}: {kernel_fix()}" if trouble else "",
    )


def _save_executed(ws: Workspace, nb: Notebook, executed: object, *, lost: list[Dl7Error]) -> Path | None:
    """Save the executed copy, keeping the last :data:`KEEP_RUNS`; what cannot be written
    goes to ``lost``."""
    folder = ws.runs_dir / nb.step
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    target = folder / f"{Path(nb.path).stem}.{stamp}.ipynb"
    try:
        write_atomic(target, notebook_text(dict(executed)))  # type: ignore[call-overload]
    except OSError as exc:
        lost.append(os_error(exc, "could not keep the executed copy", target))
        return None
    old = _copies_of(folder, Path(nb.path).stem)[:-KEEP_RUNS]
    with contextlib.suppress(OSError):
        for path in old:
            path.unlink(missing_ok=True)
            path.with_suffix(".html").unlink(missing_ok=True)  # an export of an older dl7 beside it
    return target


def _export_html(ws: Workspace, nb: Notebook, executed: object, *, lost: list[Dl7Error]) -> Path | None:
    """The run as HTML, at one path per notebook (``.dl7/exports/<step>/<name>.html``): the
    latest export stays however many runs follow, and the learner is told where it is."""
    from nbconvert import HTMLExporter

    target = locations.exports_dir(ws.dot) / nb.step / f"{Path(nb.path).stem}.html"
    exporter = HTMLExporter()  # type: ignore[no-untyped-call]
    mathjax = local_mathjax()
    if mathjax is not None:  # maths renders offline; else nbconvert's default (a CDN)
        exporter.mathjax_url = mathjax.as_uri() + MATHJAX_CONFIG
    # require.js serves only saved widget state, which an export of a run has none of; from a
    # CDN, it is a blocking script that an offline page waits on before it shows.
    exporter.require_js_url = ""
    body, _ = exporter.from_notebook_node(executed)  # type: ignore[no-untyped-call, arg-type]
    try:
        write_atomic(target, body)
    except OSError as exc:
        lost.append(os_error(exc, "could not keep the HTML export", target))
        return None
    return target


# MathJax 2, as nbconvert's template configures it (MathJax.Hub.Config), installed on this
# machine: in a Jupyter package's static files, or the system's (Debian: libjs-mathjax). JupyterLab
# bundles MathJax 3 into its own scripts, which no page of ours can load.
MATHJAX_CANDIDATES: tuple[Path, ...] = (
    Path(sys.prefix, "share", "jupyter", "nbextensions", "mathjax", "MathJax.js"),
    *(
        Path(p, pkg, "static", "components", "MathJax", "MathJax.js")
        for p in site.getsitepackages()
        for pkg in ("nbclassic", "notebook")
    ),
    Path("/usr/share/javascript/mathjax/MathJax.js"),
    Path("/usr/share/mathjax/MathJax.js"),
    Path("/usr/local/share/mathjax/MathJax.js"),
)
MATHJAX_CONFIG = "?config=TeX-AMS_CHTML-full,Safe"  # nbconvert's own choice, for its CDN copy


def local_mathjax() -> Path | None:
    """A MathJax 2 on this machine for `run --html` to point at (a file URL), or None."""
    return next((p for p in MATHJAX_CANDIDATES if p.is_file()), None)


def _copies_of(folder: Path, stem: str) -> list[Path]:
    """The executed copies of the notebook named ``stem``, oldest first: ``intro.<stamp>.ipynb``
    only, never ``intro.extra.<stamp>.ipynb``, which belongs to ``intro.extra.ipynb``."""
    name = re.compile(re.escape(stem) + r"\.\d{8}-\d{6}-\d{6}\.ipynb")
    return sorted(p for p in folder.glob("*.ipynb") if name.fullmatch(p.name))
