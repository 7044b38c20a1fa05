"""Test-cell exercises (nbgrader's autograder tests) in the notebook that runs.

An exercise with ``test_cell: <grade_id>`` in the manifest is checked by that cell of the
course's source notebook, never by the learner's copy of it: before a notebook runs, every cell
whose ``nbgrader.grade_id`` names a test cell is replaced by a one-line call that runs the
course's cell in the kernel (:mod:`dl7.checks.testcell`), hidden tests included; a test cell
the learner deleted is put back after the cell that precedes it in the course's notebook.
Cells are matched by ``grade_id``, never by position. The hidden tests are read by the kernel
from the course folder, so they appear neither in the learner's notebook nor in the executed
copy kept in the workspace.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from dl7.authoring import cell_source
from dl7.curriculum import Curriculum, Notebook

CALL = '__import__("dl7.checks.testcell", fromlist=["check"]).check({id!r}, {notebook!r}, {grade_id!r})'


def grade_id(cell: Any) -> str | None:
    meta = (cell.get("metadata") or {}).get("nbgrader") or {}
    value = meta.get("grade_id") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


def nbgrader_meta(cell: Any) -> dict[str, Any]:
    meta = (cell.get("metadata") or {}).get("nbgrader") or {}
    return meta if isinstance(meta, dict) else {}


def is_test_cell(cell: Any) -> bool:
    """An autograded test: a graded code cell that is not a solution cell."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_manual_cell(cell: Any) -> bool:
    """Graded by a person: a manually graded answer (a cell that is both a solution and graded)
    or a manually graded task (nbgrader's ``task`` cell)."""
    meta = nbgrader_meta(cell)
    return (bool(meta.get("grade")) and bool(meta.get("solution"))) or bool(meta.get("task"))


def with_course_tests(nb: Notebook, course_notebook: Path, course: Any, run: Any) -> Any:
    """``run`` (the learner's notebook, or a version of the course's) with every test cell of
    ``nb``'s exercises replaced by a call that runs the course's own cell; ``course`` is the
    course's source notebook, which says where a deleted test cell goes back."""
    tests = {e.test_cell: e for e in nb.exercises if e.test_cell}
    if not tests:
        return run
    run = copy.deepcopy(run)
    where = str(course_notebook.resolve())

    def call(gid: str, cell_id: Any) -> dict[str, Any]:
        source = f"# dl7: the course's test cell {gid!r}, run as {tests[gid].id}\n"
        source += CALL.format(id=tests[gid].id, notebook=where, grade_id=gid)
        cell: dict[str, Any] = {
            "cell_type": "code",
            "metadata": {"nbgrader": {"grade_id": gid}, "dl7": {"test_cell": gid}},
            "source": source,
            "outputs": [],
            "execution_count": None,
        }
        if cell_id is not None:
            cell["id"] = cell_id
        return cell

    cells: list[Any] = []
    placed: set[str] = set()
    for cell in run.get("cells", []):
        gid = grade_id(cell)
        if gid in tests:
            if gid in placed:
                continue  # a copy the learner made of a test cell: the course's runs once
            placed.add(gid)
            cells.append(call(gid, cell.get("id")))
        else:
            cells.append(cell)
    course_cells = course.get("cells", [])
    for n, cell in enumerate(course_cells):
        gid = grade_id(cell)
        if gid not in tests or gid in placed:
            continue
        at = 0  # after the nearest earlier cell of the course that the notebook still has
        for before in reversed(course_cells[:n]):
            found = _find(cells, before)
            if found is not None:
                at = found + 1
                break
        cells.insert(at, call(gid, f"dl7-test-{len(placed)}"))
        placed.add(gid)
    run["cells"] = cells
    return run


def _find(cells: list[Any], wanted: Any) -> int | None:
    gid, cell_id = grade_id(wanted), wanted.get("id")
    for index, cell in enumerate(cells):
        if gid is not None:
            if grade_id(cell) == gid:
                return index
        elif cell_id is not None:
            if cell.get("id") == cell_id:
                return index
        elif cell.get("cell_type") == wanted.get("cell_type") and cell_source(cell) == cell_source(wanted):
            return index
    return None


def for_run(curriculum: Curriculum, nb: Notebook, run: Any) -> Any:
    """``run`` ready to execute: the course's test cells in place (nothing to do for a notebook
    whose exercises are all ``check(...)`` calls)."""
    if not any(e.test_cell for e in nb.exercises):
        return run
    from dl7.workspace import read_notebook

    path = curriculum.source_path(nb)
    return with_course_tests(nb, path, read_notebook(path), run)


def test_cells(course: Any) -> dict[str, int]:
    """grade_id → index of every autograded test cell of a course notebook."""
    return {gid: i for i, c in enumerate(course.get("cells", [])) if is_test_cell(c) and (gid := grade_id(c))}


def manual_cells(course: Any) -> dict[str, int]:
    return {
        gid: i for i, c in enumerate(course.get("cells", [])) if is_manual_cell(c) and (gid := grade_id(c))
    }


_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


def cell_comment(cell: Any) -> str | None:
    """A test cell's own first words: the first line of its docstring or of its first comment
    (``\"\"\"Check that squares returns the correct output\"\"\"``, ``# squares of 1 to 10``)."""
    for line in cell_source(cell).splitlines():
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            words = text.lstrip("#").strip()
            if words and not words.upper().startswith(("BEGIN ", "END ")):  # a marker is no title
                return words
            continue
        for quote in ('"""', "'''"):
            if text.startswith(quote):
                words = text[3:].split(quote)[0].strip()
                return words or None
        return None  # code before any comment: the cell has no title of its own
    return None


def exercise_titles(cells: list[Any]) -> dict[str, str]:
    """grade_id → a readable title for every graded or task cell: the nearest heading above it
    (a Markdown cell's own counts); where
    there is none, or several cells share it, the cell's first comment or docstring line
    (``Part A: Check that squares raises an error``); the grade_id only when neither exists."""
    headings: dict[str, str] = {}
    comments: dict[str, str | None] = {}
    heading = ""
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for line in cell_source(cell).splitlines():
                match = _HEADING.match(line)
                if match and "BEGIN " not in line and "END " not in line:
                    heading = match.group(1).strip()
        gid = grade_id(cell)
        if gid is not None and (nbgrader_meta(cell).get("grade") or nbgrader_meta(cell).get("task")):
            headings[gid] = heading
            comments[gid] = cell_comment(cell) if cell.get("cell_type") == "code" else None
    shared = {h for h in headings.values() if h and list(headings.values()).count(h) > 1}
    titles: dict[str, str] = {}
    for gid, head in headings.items():
        comment = comments[gid]
        if head and head not in shared:
            titles[gid] = head
        elif head and comment:
            titles[gid] = f"{head}: {comment}"
        else:
            titles[gid] = comment or (f"{head} ({gid})" if head else gid)
    return titles


def has_hidden_tests(nb: Any) -> bool:
    """Whether any cell still holds a hidden-tests marker, spelled as loosely as nbgrader
    matches it (``#BEGIN HIDDEN TESTS`` too): a learner's copy must hold none."""
    from dl7.authoring import NBGRADER_HIDDEN

    return any(NBGRADER_HIDDEN in cell_source(c) for c in nb.get("cells", []))
