"""Run one case of a notebook in a fresh kernel and judge it.

* *solved*: the source notebook with its known mistakes dropped: every exercise passes, within
  the notebook's budget;
* *unsolved*: the learner version: every exercise is not attempted or failed (a pass means the
  check is vacuous, anything else means a result was lost);
* *mistakes N*: the solved notebook with a few known mistakes, each in place of its solution
  (see :mod:`dl7.validate.rounds`), cut after the last check it judges: each of those
  exercises does not pass.

Every run ends with one extra cell that lists the module files the kernel imported, which
the cache records (see :mod:`dl7.validate.cache`).
"""

from __future__ import annotations

from typing import Any

from dl7.authoring import learner_version, solved_version, with_mistakes
from dl7.curriculum import Curriculum, Notebook
from dl7.validate.cache import cache_file, tracked_roots
from dl7.validate.model import CaseResult, KnownMistake, MistakeOutcome, Problem
from dl7.validate.rounds import Taint, check_cell, last_cell

MODULES_MIME = "application/vnd.dl7.modules+json"
_MODULES_CELL = """\
def _dl7_imported(roots, excluded):
    import os, sys
    from IPython.display import display
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str):
            continue
        path = os.path.realpath(path)
        if any(path.startswith(r + os.sep) for r in roots) and not any(
            path.startswith(x + os.sep) for x in excluded
        ):
            files.add(path)
    display({%r: sorted(files)}, raw=True)
_dl7_imported(%r, %r)
del _dl7_imported
"""


def run_case(
    curriculum: Curriculum,
    nb: Notebook,
    case: str,
    data: dict[str, Any],
    chosen: tuple[KnownMistake, ...] = (),
) -> tuple[CaseResult, list[str] | None]:
    """Execute one case; the result and the files the kernel imported (None if unknown)."""
    from dl7.execute import execute
    from dl7.results import collect

    if case == "solved":
        source = solved_version(data)
    elif case == "unsolved":
        source = learner_version(data)
    else:
        source = with_mistakes(data, [k.mistake for k in chosen])
        source["cells"] = source["cells"][: last_cell(data, chosen) + 1]
    roots, excluded = tracked_roots(curriculum)
    source["cells"].append(
        {
            "cell_type": "code",
            "metadata": {"tags": ["dl7-validate"]},
            "source": _MODULES_CELL % (MODULES_MIME, roots, excluded),
            "outputs": [],
            "execution_count": None,
        }
    )
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
    imported = _imported(
        execution.nb.cells.pop() if len(execution.nb.cells) == len(source["cells"]) else None
    )
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
        for k in chosen:
            r = results[k.exercise]
            ok = r.status != "passed"
            if ok and stopped and execution.stopped_at is not None:
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
    result = CaseResult(
        nb.path, case, not problems, tuple(problems), execution.seconds, mistakes=tuple(outcomes)
    )
    return result, imported


def _imported(cell: Any) -> list[str] | None:
    if cell is None:
        return None
    for output in cell.get("outputs", []) or []:
        files = (output.get("data") or {}).get(MODULES_MIME)
        if isinstance(files, list) and all(isinstance(f, str) for f in files):
            return list(files)
    return None
