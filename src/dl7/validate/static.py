"""Static checks of one notebook, before any kernel runs."""

from __future__ import annotations

import json
from typing import Any

from dl7.authoring import MarkerError, has_outputs, nbgrader_rules, solution_regions
from dl7.curriculum import Curriculum, Notebook
from dl7.errors import Dl7Error
from dl7.results import check_calls
from dl7.validate.links import bad_links
from dl7.validate.model import CaseResult, KnownMistake, Problem
from dl7.validate.rounds import Unowned, known_mistakes
from dl7.workspace import read_notebook


def static_checks(
    curriculum: Curriculum, nb: Notebook
) -> tuple[CaseResult, dict[str, Any], list[KnownMistake]]:
    """Valid nbformat, no committed outputs, balanced solution and mistake markers, links that
    are well-formed web addresses or existing relative paths, a python3 kernelspec, hints for
    every exercise, every check call listed and every listed exercise checked once. Returns the
    result, the notebook and its known mistakes."""
    problems: list[Problem] = []
    path = curriculum.source_path(nb)
    try:
        data = read_notebook(path)
    except Dl7Error as exc:
        return CaseResult(nb.path, "static", False, (Problem(None, exc.message),)), {}, []
    import warnings

    from dl7.notebook_format import nbformat  # without the IRI grammar: see there

    try:
        with warnings.catch_warnings():
            # A hand-written 4.5 notebook without cell ids: JupyterLab adds them on its first
            # save, and dl7 reads cells by position; the warning would only be noise in CI.
            warnings.filterwarnings("ignore", message="Cell is missing an id field")
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
    known: list[KnownMistake] = []
    try:
        # an nbgrader notebook nothing checks (read, or graded by a person) is released as it is
        released_as_is = nbgrader_rules(data) is not None and not nb.exercises
        if not solution_regions(data) and not released_as_is:
            problems.append(
                Problem(None, "has no ### BEGIN SOLUTION region, so its learner version is the same notebook")
            )
        known = known_mistakes(data)
    except MarkerError as exc:
        problems.append(Problem(None, f"solution markers: {exc}"))
    except Unowned as exc:
        problems.append(Problem(None, f"known mistakes: {exc}"))
    problems += [Problem(None, str(link)) for link in bad_links(data, path)]
    kernel = (data.get("metadata") or {}).get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(Problem(None, f"kernelspec is {kernel!r}; expected 'python3'"))
    calls = check_calls(data)
    listed = {e.id for e in nb.exercises}
    problems += test_cell_problems(nb, data)
    for ex in nb.exercises:
        if ex.test_cell:
            continue  # its check is the test cell itself (see test_cell_problems)
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
    return CaseResult(nb.path, "static", not problems, tuple(problems)), data, known


def test_cell_problems(nb: Notebook, data: dict[str, Any]) -> list[Problem]:
    """Every test-cell exercise names an autograded test cell of the notebook, and every graded
    cell of the notebook is an exercise or listed as graded by hand: none is silently ignored."""
    from dl7.authoring import learner_version
    from dl7.testcells import grade_id, has_hidden_tests, manual_cells, test_cells

    tests, manual = test_cells(data), manual_cells(data)
    if not tests and not manual and not any(e.test_cell for e in nb.exercises):
        return []
    problems: list[Problem] = []
    ids = [grade_id(c) for c in data.get("cells", []) if grade_id(c)]
    for gid in sorted({g for g in ids if g and ids.count(g) > 1}):
        problems.append(Problem(None, f"two cells have the grade_id {gid!r}"))
    named = {e.test_cell: e for e in nb.exercises if e.test_cell}
    for gid, ex in named.items():
        if gid not in tests:
            problems.append(Problem(ex.id, f"test_cell {gid!r} is not an autograded test cell of {nb.path}"))
    listed_manual = {m.grade_id for m in nb.manual}
    for gid, index in tests.items():
        if gid not in named:
            problems.append(
                Problem(
                    None,
                    f"cell {index + 1} is an autograded test ({gid!r}) but no exercise names it "
                    "with test_cell; re-run `dl7 import nbgrader` or add the exercise",
                )
            )
    for gid, index in manual.items():
        if gid not in listed_manual:
            problems.append(
                Problem(None, f"cell {index + 1} is graded by hand ({gid!r}) but not listed under manual")
            )
    for gid in sorted(listed_manual - set(manual)):
        problems.append(Problem(None, f"manual lists {gid!r}, which is not a manually graded cell"))
    try:
        if has_hidden_tests(learner_version(data)):
            problems.append(Problem(None, "the learner version still holds hidden tests"))
    except ValueError:
        pass  # marker problems are reported above
    return problems
