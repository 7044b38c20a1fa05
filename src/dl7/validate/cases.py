"""Run one case of a notebook in a fresh kernel and judge it.

* *solved*: the source notebook with its known mistakes dropped: every exercise passes, within
  the notebook's budget;
* *unsolved*: the learner version: every exercise is not attempted or failed (a pass means the
  check is vacuous, anything else means a result was lost); the cells that raised are recorded
  (:attr:`~dl7.validate.model.CaseResult.stopped_run_all`): JupyterLab's Run All would stop at
  the first, short of the verdicts below it;
* *mistakes N*: the solved notebook with a few known mistakes, each in place of its solution
  (see :mod:`dl7.validate.rounds`), cut after the last check it judges: each of those
  exercises does not pass. A *replayed* run is the solved notebook where, after an exercise's
  check, each of its mistakes' cells runs again with the mistake, then the check again, and
  the solution's cell again last: many mistakes, one kernel. When the solved case runs too,
  the replays go into the solved run itself (:func:`run_solved_with_replays`), so a
  notebook's longest run is made once; its solved verdict and time leave the replays out.

Every run ends with one extra cell (tagged ``dl7-validate``, taken off before judging) that
lists what the kernel imported: the module files under the course and the dl7 package, and
every top-level module name in ``sys.modules``. The cache records the files by sha256 and the
installed distributions behind those modules by version (see :mod:`dl7.validate.cache`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from dl7 import locations
from dl7.atomic import append_log
from dl7.authoring import learner_version, solved_version, with_mistakes
from dl7.checks import MIME_TYPE
from dl7.curriculum import Curriculum, Notebook
from dl7.results import ExerciseResult
from dl7.validate.cache import tracked_roots
from dl7.validate.model import CaseResult, KnownMistake, MistakeOutcome, Problem, RunAllStop
from dl7.validate.rounds import Taint, check_cell, last_cell

if TYPE_CHECKING:
    from dl7.execute import CellEvent, Execution

MODULES_MIME = "application/vnd.dl7.modules+json"
_MODULES_CELL = """\
def _dl7_imported(roots, excluded):
    import os, sys
    from IPython.display import display
    files = set()
    names = sorted({name.partition(".")[0] for name in list(sys.modules)})
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str):
            continue
        path = os.path.realpath(path)
        # An environment inside a root (a course's own .venv) is not the course's code; a root
        # inside an environment (the course a wheel installed in site-packages) still is.
        if any(
            path.startswith(r + os.sep)
            and not any(path.startswith(x + os.sep) and x.startswith(r + os.sep) for x in excluded)
            for r in roots
        ):
            files.add(path)
    display({%r: {"files": sorted(files), "modules": names}}, raw=True)
_dl7_imported(%r, %r)
del _dl7_imported
"""


@dataclass(frozen=True)
class Imported:
    """What a case's kernel imported, as its last cell reported it."""

    files: tuple[str, ...]  # module files under the course or the dl7 package
    modules: tuple[str, ...]  # every top-level module name in sys.modules


def run_case(
    curriculum: Curriculum,
    nb: Notebook,
    case: str,
    data: dict[str, Any],
    chosen: tuple[KnownMistake, ...] = (),
    replay: bool = False,
    env: dict[str, str] | None = None,
) -> tuple[CaseResult, Imported | None]:
    """Execute one case; the result and what the kernel imported (None if unknown).
    ``env`` is added to the kernel's environment."""
    if case == "solved":
        source = solved_version(data)
    elif case == "unsolved":
        source = learner_version(data)
    elif replay:
        source = _replayed(data, chosen)
    else:
        source = with_mistakes(data, [k.mistake for k in chosen])
        source["cells"] = source["cells"][: last_cell(data, chosen) + 1]
    # The budget is a rule for the solved notebook; a run of mistakes is longer by design
    # (replays) or may train worse, so it only gets a guard against running away.
    budget = nb.budget if not chosen else nb.budget * (3 if replay else 2)
    execution, imported, _ = _execute(curriculum, nb, case, source, budget, env)
    return _judge(nb, case, data, execution, chosen, replay), imported


def run_solved_with_replays(
    curriculum: Curriculum,
    nb: Notebook,
    case: str,
    data: dict[str, Any],
    chosen: tuple[KnownMistake, ...],
    env: dict[str, str] | None = None,
) -> tuple[CaseResult, CaseResult, Imported | None]:
    """The solved case and the replayed mistakes ``case`` from one kernel run: the whole solved
    notebook with the replays inserted after their checks. The solved verdict is judged on the
    notebook's own cells alone, and its time leaves out the replays'; the replays change
    nothing the solved cells see (see :func:`dl7.validate.rounds.replayable`), and the run
    checks that each exercise passes with its solution right before its replays."""
    source = _replayed(data, chosen, whole=True)
    execution, imported, replay_seconds = _execute(curriculum, nb, "solved", source, nb.budget * 3, env)
    stopped = execution.stopped_at
    if stopped is not None and "dl7-part" in execution.nb.cells[stopped].get("metadata", {}):
        # A replayed mistake hung or killed the kernel: the solved cells after it never ran, so
        # the solved case gets a run of its own; the mistakes are judged from this one.
        solved, imported = run_case(curriculum, nb, "solved", data, env=env)
        mistakes = _judge(nb, case, data, replace(execution, seconds=replay_seconds), chosen, True)
        return solved, mistakes, imported
    own = [i for i, c in enumerate(execution.nb.cells) if "dl7-part" not in c.get("metadata", {})]
    view = type(execution.nb)(execution.nb)
    view["cells"] = [execution.nb.cells[i] for i in own]
    solved_execution = replace(
        execution,
        nb=view,
        stopped_at=None if stopped is None else sum(1 for i in own if i < stopped),
        seconds=max(0.0, execution.seconds - replay_seconds),
    )
    solved = _judge(nb, "solved", data, solved_execution, (), False)
    mistakes = _judge(nb, case, data, replace(execution, seconds=replay_seconds), chosen, True)
    return solved, mistakes, imported


def _execute(
    curriculum: Curriculum,
    nb: Notebook,
    case: str,
    source: dict[str, Any],
    budget: int,
    env: dict[str, str] | None = None,
) -> tuple[Execution, Imported | None, float]:
    """Run ``source`` in a fresh kernel: the execution (the modules cell taken off), what the
    kernel imported, and the seconds spent in replay cells."""
    from dl7.execute import execute
    from dl7.testcells import for_run

    source = for_run(curriculum, nb, source)  # test-cell exercises run the course's own test cells
    roots, excluded = tracked_roots(curriculum)
    source["cells"].append(
        {
            "cell_type": "code",
            "id": "dl7-modules",
            "metadata": {"tags": ["dl7-validate"]},
            "source": _MODULES_CELL % (MODULES_MIME, roots, excluded),
            "outputs": [],
            "execution_count": None,
        }
    )
    replay_cells = {i for i, c in enumerate(source["cells"]) if "dl7-part" in c.get("metadata", {})}
    spent = [0.0]

    def timing(event: CellEvent) -> None:
        if event.done and event.index in replay_cells:
            spent[0] += event.seconds

    log_path = locations.validate_kernel_log(curriculum.root)
    with append_log(log_path, f"--- {nb.path} {case}\n") as log:  # a read-only course still validates
        execution = execute(
            source,
            curriculum.source_path(nb).parent,
            cell_timeout=nb.cell_timeout,
            budget=budget,
            checkers=curriculum.checkers,
            datasets=curriculum.datasets,
            course_env=curriculum.kernel.env,
            kernel_log=log,
            progress=timing if replay_cells else None,
            extra_env=env,
        )
    imported = _imported(
        execution.nb.cells.pop() if len(execution.nb.cells) == len(source["cells"]) else None
    )
    return execution, imported, spent[0]


def _judge(
    nb: Notebook,
    case: str,
    data: dict[str, Any],
    execution: Execution,
    chosen: tuple[KnownMistake, ...],
    replay: bool,
) -> CaseResult:
    from dl7.results import collect, stray_errors

    results = {r.id: r for r in collect(nb, execution)}
    problems: list[Problem] = []
    if execution.outcome == "interrupted":
        raise KeyboardInterrupt
    stopped = execution.outcome in ("budget", "timeout", "dead")
    where = f" (cell {execution.stopped_at + 1})" if execution.stopped_at is not None else ""
    if stopped and not chosen:
        problems.append(Problem(None, execution.message + where))
    elif case == "solved" and execution.seconds > nb.budget:
        problems.append(Problem(None, f"took {execution.seconds:.0f} s, over its budget of {nb.budget} s"))
    outcomes: list[MistakeOutcome] = []
    if chosen:
        taint = Taint(data)
        replayed, solved = _replayed_results(execution.nb) if replay else ({}, {})
        for n, k in enumerate(chosen):
            r = replayed.get(n) or results[k.exercise]
            ok = r.status != "passed"
            if replay and n in replayed and solved.get(k.exercise) != "passed":
                # Its own check, with the solution, ran just before the replay; if it did not pass
                # here (as it does in the solved run), an earlier replay disturbed the state.
                ok = False
                problems.append(
                    Problem(
                        k.exercise,
                        f"the known mistake {k.label!r} could not be judged: in the run that replays "
                        f"mistakes, the solution itself is {solved.get(k.exercise, 'not reached')} "
                        "(an earlier mistake may have changed the notebook's state when its check called it)",
                    )
                )
            elif replay and n not in replayed:
                ok = False
                problems.append(
                    Problem(
                        k.exercise,
                        f"the known mistake {k.label!r} could not be judged: its check did not run"
                        + (f": {execution.message}{where}" if stopped else ""),
                    )
                )
            elif ok and stopped and execution.stopped_at is not None:
                # The run stopped before this check: only its own mistake may be the cause.
                if execution.stopped_at <= check_cell(
                    data, k.exercise
                ) and execution.stopped_at not in taint.reach(k.mistake.cell):
                    ok = False
                    problems.append(
                        Problem(
                            k.exercise,
                            f"the known mistake {k.label!r} could not be judged: the run stopped "
                            f"before its check: {execution.message}{where}",
                        )
                    )
            elif not ok:
                problems.append(Problem(k.exercise, f"passes with the known mistake {k.label!r}"))
            outcomes.append(MistakeOutcome(k.exercise, k.label, r.status, r.message, ok))
    else:
        for r in results.values():
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
        if case == "solved":  # every cell of a solved notebook runs, not only the checks
            for error in stray_errors(nb, execution, list(results.values())):
                problems.append(Problem(None, f"a cell raises outside the checks: {error.describe()}"))
    return CaseResult(
        nb.path,
        case,
        not problems,
        tuple(problems),
        execution.seconds,
        mistakes=tuple(outcomes),
        stopped_run_all=_run_all_stops(execution) if case == "unsolved" else (),
    )


def _run_all_stops(execution: Execution) -> tuple[RunAllStop, ...]:
    """The cells of the learner's copy that raised: each would stop JupyterLab's Run All there
    (validate runs every cell; a ``check`` cell that raises stops it as well)."""
    from dl7.results import cell_errors

    return tuple(RunAllStop(i + 1, e.ename) for i, e in sorted(cell_errors(execution.nb).items()))


def _replayed(data: dict[str, Any], chosen: tuple[KnownMistake, ...], whole: bool = False) -> dict[str, Any]:
    """The solved notebook with, after each judged check, every mistake replayed (its cell with
    the mistake, the check again, its cell with the solution again); cut after the last one
    unless ``whole``. Every inserted cell carries ``dl7-part`` in its metadata."""
    source: dict[str, Any] = solved_version(data)
    solved = source["cells"]
    cells: list[Any] = []
    by_check: dict[int, list[tuple[int, KnownMistake]]] = {}
    for n, k in enumerate(chosen):
        by_check.setdefault(check_cell(data, k.exercise), []).append((n, k))
    for index, cell in enumerate(solved):
        cells.append(cell)
        for n, k in by_check.get(index, []):
            # Each mistake is undone before the next is replayed: two mistakes of one exercise in
            # different cells (fit_mlp's and overfit_tiny_batch's) must never meet.
            wrong = with_mistakes(data, [k.mistake])["cells"][k.mistake.cell]
            again = dict(solved[index], outputs=[], execution_count=None)
            right = dict(solved[k.mistake.cell], outputs=[], execution_count=None)
            for part, copy in (("mistake", wrong), ("check", again), ("restore", right)):
                copy = dict(copy, id=f"dl7-{part}-{n}")
                copy["metadata"] = {
                    **copy.get("metadata", {}),
                    "dl7-mistake": n,
                    "dl7-part": part,
                    "dl7-exercise": k.exercise,
                }
                cells.append(copy)
    if whole:
        source["cells"] = cells
        return source
    last = max(check_cell(data, k.exercise) for k in chosen)
    keep = next(i for i, c in enumerate(cells) if c is solved[last])
    while keep + 1 < len(cells) and str(cells[keep + 1].get("id", "")).startswith("dl7-"):
        keep += 1
    source["cells"] = cells[: keep + 1]
    return source


def _replayed_results(nb: Any) -> tuple[dict[int, ExerciseResult], dict[str, str]]:
    """Mistake number → the result its replayed check emitted; and exercise → the status its
    own check (with the solution) had in the same run."""
    found: dict[int, ExerciseResult] = {}
    solved: dict[str, str] = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {})
        for output in cell.get("outputs", []) or []:
            bundle = (output.get("data") or {}).get(MIME_TYPE)
            if not isinstance(bundle, dict):
                continue
            exercise, status = str(bundle.get("id", "")), str(bundle.get("status", "failed"))
            if meta.get("dl7-part") == "check" and exercise == meta.get("dl7-exercise"):
                found[int(meta["dl7-mistake"])] = ExerciseResult(
                    exercise, "", status, str(bundle.get("message", ""))
                )
            elif "dl7-part" not in meta:
                solved.setdefault(exercise, status)
    return found, solved


def _imported(cell: Any) -> Imported | None:
    if cell is None:
        return None
    for output in cell.get("outputs", []) or []:
        found = (output.get("data") or {}).get(MODULES_MIME)
        if not isinstance(found, dict):
            continue
        files, modules = found.get("files"), found.get("modules")
        if isinstance(files, list) and isinstance(modules, list):
            return Imported(tuple(map(str, files)), tuple(map(str, modules)))
    return None
