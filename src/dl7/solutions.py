"""``dl7 solution``: the course's reference solution for one exercise, once the learner's passed.

An exercise's solution is every solution region in the code cells that come after the previous
``check(...)`` call of its notebook and up to its own ``check("<id>", ...)`` call: the cells a
learner fills in for it. Known mistakes are dropped and the markers removed, so what is shown is
the code exactly as the course's author wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dl7.errors import Dl7Error, ExitCode

if TYPE_CHECKING:
    from dl7.curriculum import Curriculum, Exercise, Notebook, Step
    from dl7.progress import Progress


@dataclass(frozen=True)
class Solution:
    exercise: Exercise
    notebook: Notebook
    cells: tuple[tuple[int, str], ...]  # (1-based cell number in the notebook, code)


def has_passed(progress: Progress, exercise_id: str) -> bool:
    """Whether any recorded run of this course, or any check the learner ran in a notebook of
    the workspace (:mod:`dl7.notebook_loop`), ever passed the exercise (as rustlings does:
    breaking it again later does not take the solution away)."""
    row = progress.db.execute(
        "SELECT 1 FROM results r JOIN attempts a ON a.id = r.attempt_id "
        "WHERE a.course = ? AND r.exercise = ? AND r.status = 'passed' LIMIT 1",
        (progress.course, exercise_id),
    ).fetchone()
    return row is not None


def reference_solution(curriculum: Curriculum, step: Step, exercise: Exercise) -> Solution:
    """The solution cells of ``exercise`` in the course's source notebook."""
    from dl7.authoring import BEGIN, END, MarkerError, cell_source, solved_version
    from dl7.results import calls_in
    from dl7.workspace import read_notebook

    nb = next(n for n in step.notebooks if any(e.id == exercise.id for e in n.exercises))
    path = curriculum.source_path(nb)
    try:
        solved: Any = solved_version(read_notebook(path))
    except MarkerError as exc:
        raise Dl7Error(f"{path}: {exc}") from None
    from dl7.testcells import for_run

    solved = for_run(curriculum, nb, solved)  # a test-cell exercise: its test cell is its check
    pending: list[tuple[int, str]] = []
    for number, cell in enumerate(solved.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell_source(cell)
        if BEGIN in source:
            kept = [line for line in source.splitlines() if line.strip() not in (BEGIN, END)]
            pending.append((number, "\n".join(kept).strip("\n")))
        called = [call.exercise for call in calls_in(source)]
        if exercise.id in called:
            if not pending:
                break
            return Solution(exercise, nb, tuple(pending))
        if called:
            pending = []  # another exercise's check: the cells above were its solution
    raise Dl7Error(
        f"{path} has no solution for {exercise.id}",
        hint=f"the course marks solutions with {BEGIN} / {END} before the check",
        exit_code=ExitCode.NOT_PASSING,
    )
