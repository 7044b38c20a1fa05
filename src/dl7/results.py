"""An executed notebook → one result per exercise named in the manifest.

Each exercise's ``check(...)`` call emits a bundle (``application/vnd.dl7.check+json``);
that bundle is the result. Without one, the cells since the previous exercise's check tell
why: a ``NotImplementedError`` there means *not attempted*; another exception is an *error*
(exception and line); a cell that never ran, or one that failed only because an earlier cell
had failed, means *not reached* (which cell, and why).

A run that stopped (a timeout, the time budget, a dead kernel) after the last check is no pass,
as a cell that raises there is not: the cell it stopped at is one of the notebook's stray
errors. A run stopped by Ctrl-C saw only the exercises whose checks ran before it: those are
the results it may record (:func:`observed`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dl7.authoring import cell_source
from dl7.checks import MIME_TYPE
from dl7.curriculum import Notebook
from dl7.statuses import (
    CHECK_STATUSES,
    ERROR,
    FAILED,
    NOT_ATTEMPTED,
    NOT_REACHED,
    PASSED,
    passing,
)

if TYPE_CHECKING:  # execute imports nbclient; results must stay light for views
    from dl7.execute import Execution

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# One pass over a cell's source, left to right: a comment or a string literal is consumed
# whole, so a `check(` inside one is never seen; what is left is code. A call counts when
# `check` (a name, or an attribute such as `dl7.check`) is called with a plain string literal,
# and nothing else, as its first argument: `check(name, f)` or `check("a" + b, f)` names no
# exercise the runner could know.
_LEXED = re.compile(
    r"""
      (?P<comment>\#[^\n]*)
    | (?<!\w)check\s*\(\s*(?P<q>['"])(?P<id>[A-Za-z0-9_.-]+)(?P=q)\s*[,)]
    | (?P<string>[rRbBuUfF]{0,2}
        (?: \"\"\"(?:\\.|[^\\])*?\"\"\" | '''(?:\\.|[^\\])*?''' | "(?:\\.|[^"\\\n])*" | '(?:\\.|[^'\\\n])*' ))
    """,
    re.VERBOSE | re.DOTALL,
)
_LINE = re.compile(r"(?:Cell In\[\d*\]|Input In \[\d*\]|<ipython-input-[^>]*>), line (\d+)")


@dataclass(frozen=True)
class ExerciseResult:
    id: str
    title: str
    status: str
    message: str
    seconds: float = 0.0


@dataclass(frozen=True)
class CellError:
    cell: int  # 0-based position among all cells
    ename: str
    evalue: str
    line: int | None

    def describe(self) -> str:
        where = f"cell {self.cell + 1}" + (f", line {self.line}" if self.line else "")
        text = f"{self.ename}: {self.evalue}" if self.evalue else self.ename
        return f"{text} ({where})"


@dataclass(frozen=True)
class CheckCall:
    """One ``check("<exercise>", ...)`` call written in a code cell."""

    cell: int  # 0-based position among all cells
    line: int  # 1-based line of the cell on which ``check`` is written
    exercise: str


def calls_in(source: str, cell: int = 0) -> list[CheckCall]:
    """The check calls of one cell's source, in order.

    The one rule for every reader of check calls (results, validate's rounds, ``dl7
    solution``): a call inside a comment or a string literal does not count (a commented-out
    call checks nothing), and the exercise id must be a plain string literal.
    """
    if "check" not in source:  # most cells: lexing their strings and comments finds nothing
        return []
    return [
        CheckCall(cell, source.count("\n", 0, match.start()) + 1, match.group("id"))
        for match in _LEXED.finditer(source)
        if match.group("id")
    ]


def find_check_calls(nb: Any) -> list[CheckCall]:
    """Every check call in the code cells of ``nb``, in order (Markdown cells hold none)."""
    return [
        call
        for index, cell in enumerate(nb.get("cells", []))
        if cell.get("cell_type") == "code"
        for call in calls_in(cell_source(cell), index)
    ]


def check_calls(nb: Any) -> dict[str, list[int]]:
    """Exercise id → indices of the code cells that call ``check`` for it."""
    calls: dict[str, list[int]] = {}
    for call in find_check_calls(nb):
        calls.setdefault(call.exercise, []).append(call.cell)
    return calls


def bundles(nb: Any) -> dict[str, dict[str, Any]]:
    """Exercise id → the last check bundle emitted for it."""
    found: dict[str, dict[str, Any]] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data") or {}
            bundle = data.get(MIME_TYPE)
            if isinstance(bundle, dict) and isinstance(bundle.get("id"), str):
                found[bundle["id"]] = bundle
    return found


EXPECTED_TO_RAISE = "raises-exception"  # nbclient's standard tag for a cell meant to raise


def expected_to_raise(cell: Any) -> bool:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return EXPECTED_TO_RAISE in tags


def cell_errors(nb: Any) -> dict[int, CellError]:
    """Cell index → the error it raised; cells tagged ``raises-exception`` are left out."""
    errors: dict[int, CellError] = {}
    for index, cell in enumerate(nb.get("cells", [])):
        if expected_to_raise(cell):
            continue
        for output in cell.get("outputs", []) or []:
            if output.get("output_type") == "error":
                tb = _ANSI.sub("", "\n".join(output.get("traceback") or []))
                lines = _LINE.findall(tb)
                errors[index] = CellError(
                    index,
                    str(output.get("ename", "Error")),
                    str(output.get("evalue", "")),
                    int(lines[-1]) if lines else None,
                )
                break
    return errors


def collect(manifest: Notebook, execution: Execution) -> list[ExerciseResult]:
    """One result per exercise of ``manifest``, in manifest order."""
    nb = execution.nb
    calls = check_calls(nb)
    found = bundles(nb)
    errors = cell_errors(nb)
    call_cells = sorted({cells[0] for cells in calls.values()})
    results = []
    for exercise in manifest.exercises:
        bundle = found.get(exercise.id)
        if bundle is not None:
            status = str(bundle.get("status", FAILED))
            if status not in CHECK_STATUSES:  # a bundle names only what a check can end in
                status = FAILED
            results.append(
                ExerciseResult(
                    exercise.id,
                    exercise.title,
                    status,
                    str(bundle.get("message", "")),
                    float(bundle.get("seconds", 0.0) or 0.0),
                )
            )
            continue
        cells = calls.get(exercise.id)
        if not cells:
            results.append(
                ExerciseResult(
                    exercise.id,
                    exercise.title,
                    NOT_REACHED,
                    f"the notebook never calls check({exercise.id!r}); "
                    "was that cell deleted? `dl7 reset` restores a fresh copy",
                )
            )
            continue
        status, message = _explain(cells[0], call_cells, errors, execution)
        results.append(ExerciseResult(exercise.id, exercise.title, status, message))
    return results


# How a stopped run names the cell it stopped at, as nbclient names what stopped it.
_STOPPED = {"timeout": "CellTimeoutError", "budget": "CellTimeoutError", "dead": "DeadKernelError"}


def stray_errors(manifest: Notebook, execution: Execution, results: list[ExerciseResult]) -> list[CellError]:
    """Errors no exercise's result already reports: a cell after the last check, or one
    before a check that passed anyway; a cell that timed out or killed the kernel counts as
    one. Any of them keeps the notebook from passing."""
    calls = check_calls(execution.nb)
    status = {r.id: r.status for r in results}
    call_cells: dict[int, list[str]] = {}
    for exercise_id, cells in calls.items():
        call_cells.setdefault(cells[0], []).append(exercise_id)
    errors = cell_errors(execution.nb)
    stopped = execution.stopped_at
    if stopped is not None and execution.outcome in _STOPPED:
        errors[stopped] = CellError(stopped, _STOPPED[execution.outcome], execution.message, None)
    stray = []
    for index, err in sorted(errors.items()):
        owner = min((c for c in call_cells if c >= index), default=None)
        reported = owner is not None and any(not passing(status.get(ex, PASSED)) for ex in call_cells[owner])
        if not reported:
            stray.append(err)
    return stray


def observed(execution: Execution, results: list[ExerciseResult]) -> list[ExerciseResult]:
    """The results a run may record: every one, unless Ctrl-C stopped it. Then only those of the
    exercises whose check ran before the stop; an exercise it never reached keeps the verdict of
    the last run that did reach it."""
    if execution.outcome != "interrupted":
        return results
    found = bundles(execution.nb)
    calls = check_calls(execution.nb)
    stop = execution.stopped_at

    def seen(result: ExerciseResult) -> bool:
        cells = calls.get(result.id)
        return result.id in found or (stop is not None and cells is not None and cells[0] < stop)

    return [r for r in results if seen(r)]


def _explain(
    call: int, call_cells: list[int], errors: dict[int, CellError], execution: Execution
) -> tuple[str, str]:
    earlier = [c for c in call_cells if c < call]
    span_start = earlier[-1] + 1 if earlier else 0
    if execution.stopped_at is not None and call >= execution.stopped_at:
        if call == execution.stopped_at:
            return ERROR if execution.outcome in ("timeout", "budget") else NOT_REACHED, (
                f"{execution.message} (cell {call + 1})"
            )
        return (
            NOT_REACHED,
            f"not reached: the run stopped at cell {execution.stopped_at + 1}: {execution.message}",
        )
    span = [errors[i] for i in sorted(errors) if span_start <= i <= call]
    for err in span:
        if err.ename == "NotImplementedError":
            return NOT_ATTEMPTED, f"not done yet: cell {err.cell + 1} still raises NotImplementedError"
    before = [errors[i] for i in sorted(errors) if i < span_start]
    if span and not before:
        return ERROR, span[0].describe()
    if before:
        first = before[0]
        if first.ename == "NotImplementedError":
            return NOT_REACHED, f"not reached: an earlier exercise is not done yet (cell {first.cell + 1})"
        return NOT_REACHED, f"not reached: an earlier cell failed: {first.describe()}"
    return NOT_REACHED, "the check produced no result (was its output cleared?)"
