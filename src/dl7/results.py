"""An executed notebook → one result per exercise named in the manifest.

Each exercise's ``check(...)`` call emits a bundle (``application/vnd.dl7.check+json``);
that bundle is the result. Without one, the cells since the previous exercise's check tell
why: a ``NotImplementedError`` there means *not attempted*; another exception is an *error*
(exception and line); a cell that never ran, or one that failed only because an earlier cell
had failed, means *not reached* (which cell, and why).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dl7.authoring import cell_source
from dl7.checks import MIME_TYPE
from dl7.curriculum import Notebook

if TYPE_CHECKING:  # execute imports nbclient; results must stay light for views
    from dl7.execute import Execution

STATUSES = ("passed", "failed", "not_attempted", "error", "course_error", "not_reached", "not_run")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CALL = re.compile(r"""\bcheck\(\s*(['"])([A-Za-z0-9_.-]+)\1""")
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


def check_calls(nb: Any) -> dict[str, list[int]]:
    """Exercise id → indices of the code cells that call ``check`` for it."""
    calls: dict[str, list[int]] = {}
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code":
            for match in _CALL.finditer(_strip_comments(cell_source(cell))):
                calls.setdefault(match.group(2), []).append(index)
    return calls


def _strip_comments(source: str) -> str:
    # A commented-out call (`# check("step1.x", f)`) does not count as checking the exercise.
    return "\n".join(line.split("#", 1)[0] for line in source.splitlines())


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
            status = str(bundle.get("status", "failed"))
            if status not in STATUSES:
                status = "failed"
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
                    "not_reached",
                    f"the notebook never calls check({exercise.id!r}); "
                    "was that cell deleted? `dl7 reset` restores a fresh copy",
                )
            )
            continue
        status, message = _explain(cells[0], call_cells, errors, execution)
        results.append(ExerciseResult(exercise.id, exercise.title, status, message))
    return results


def stray_errors(manifest: Notebook, execution: Execution, results: list[ExerciseResult]) -> list[CellError]:
    """Errors no exercise's result already reports: a cell after the last check, or one
    before a check that passed anyway. Any of them keeps the notebook from passing."""
    calls = check_calls(execution.nb)
    status = {r.id: r.status for r in results}
    call_cells: dict[int, list[str]] = {}
    for exercise_id, cells in calls.items():
        call_cells.setdefault(cells[0], []).append(exercise_id)
    stray = []
    for index, err in sorted(cell_errors(execution.nb).items()):
        owner = min((c for c in call_cells if c >= index), default=None)
        reported = owner is not None and any(status.get(ex, "passed") != "passed" for ex in call_cells[owner])
        if not reported:
            stray.append(err)
    return stray


def _explain(
    call: int, call_cells: list[int], errors: dict[int, CellError], execution: Execution
) -> tuple[str, str]:
    earlier = [c for c in call_cells if c < call]
    span_start = earlier[-1] + 1 if earlier else 0
    if execution.stopped_at is not None and call >= execution.stopped_at:
        if call == execution.stopped_at:
            return "error" if execution.outcome in ("timeout", "budget") else "not_reached", (
                f"{execution.message} (cell {call + 1})"
            )
        return (
            "not_reached",
            f"not reached: the run stopped at cell {execution.stopped_at + 1}: {execution.message}",
        )
    span = [errors[i] for i in sorted(errors) if span_start <= i <= call]
    for err in span:
        if err.ename == "NotImplementedError":
            return "not_attempted", f"not done yet: cell {err.cell + 1} still raises NotImplementedError"
    before = [errors[i] for i in sorted(errors) if i < span_start]
    if span and not before:
        return "error", span[0].describe()
    if before:
        first = before[0]
        if first.ename == "NotImplementedError":
            return "not_reached", f"not reached: an earlier exercise is not done yet (cell {first.cell + 1})"
        return "not_reached", f"not reached: an earlier cell failed: {first.describe()}"
    return "not_reached", "the check produced no result (was its output cleared?)"
