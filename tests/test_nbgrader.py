"""nbgrader assignments in dl7: `dl7 import nbgrader`, test cells as exercises, hidden tests kept
from the learner. The fixture (tests/fixtures/nbgrader/source) is written in nbgrader's format:
solution cells, visible and hidden tests, a manually graded cell, a locked cell, a data file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dl7.authoring import learner_version, solved_version, strip_hidden_tests
from dl7.checks.testcell import evaluate
from dl7.cli import app
from dl7.curriculum import load
from dl7.errors import ManifestError
from dl7.testcells import grade_id, with_course_tests

SOURCE = Path(__file__).parent / "fixtures" / "nbgrader" / "source"
HIDDEN = ("HIDDEN TESTS", "squares(10)", "squares(0)", "isinstance(mean")
runner = CliRunner()


def dl7(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    code, output = dl7("import", "nbgrader", str(SOURCE), str(course))
    assert code == 0, output
    return course


def notebook(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def cell_with(nb: dict[str, Any], gid: str) -> dict[str, Any]:
    return next(c for c in nb["cells"] if grade_id(c) == gid)


def solve(course: Path, home: Path, rel: str) -> None:
    """What a learner who solved every exercise has: their copy with each solution cell filled in."""
    solved = solved_version(notebook(course / rel))
    mine = notebook(home / rel)
    for cell in mine["cells"]:
        gid = grade_id(cell)
        if gid and cell_with(solved, gid)["metadata"]["nbgrader"].get("solution"):
            cell["source"] = cell_with(solved, gid)["source"]
    (home / rel).write_text(json.dumps(mine), encoding="utf-8")


def statuses(output: str) -> dict[str, str]:
    data = json.loads(output)
    return {e["id"]: e["status"] for nb in data["notebooks"] for e in nb["exercises"]}


# -- import (no kernel) ---------------------------------------------------------------------


def test_import_writes_a_course_with_one_exercise_per_test_cell(imported: Path) -> None:
    manifest = yaml.safe_load((imported / "curriculum.yaml").read_text())
    assert manifest["format"] == 2
    assert [s["id"] for s in manifest["steps"]] == ["ps1", "ps2"]
    nb = manifest["steps"][0]["notebooks"][0]
    assert nb["path"] == "ps1/squares.ipynb" and nb["files"] == ["numbers.txt"]
    assert nb["exercises"] == [
        {"id": "ps1.test_squares", "title": "Squares", "test_cell": "test_squares", "points": 2},
        {
            "id": "ps1.test_mean",
            "title": "The mean of the numbers in `numbers.txt`",
            "test_cell": "test_mean",
            "points": 1,
        },
    ]
    assert nb["manual"] == [
        {"grade_id": "explain_growth", "title": "Why do squares grow faster than n?", "points": 2}
    ]
    assert (imported / "ps1" / "numbers.txt").read_text().split() == [str(i) for i in range(1, 9)]
    course = load(imported)
    assert [e.test_cell for e in course.step("ps1").exercises] == ["test_squares", "test_mean"]
    copied = notebook(imported / "ps1" / "squares.ipynb")
    assert cell_with(copied, "intro")["metadata"]["editable"] is False  # a locked cell stays locked
    assert cell_with(copied, "test_squares")["metadata"]["deletable"] is False


def test_the_learner_version_has_no_hidden_tests_but_keeps_the_visible_ones(imported: Path) -> None:
    learner = learner_version(notebook(imported / "ps1" / "squares.ipynb"))
    text = json.dumps(learner)
    assert not any(h in text for h in HIDDEN)
    assert cell_with(learner, "test_squares")["source"] == (
        'assert squares(1) == [1]\nassert squares(3) == [1, 4, 9], "squares(3) should be [1, 4, 9]"'
    )
    assert "NotImplementedError" in cell_with(learner, "squares")["source"]


def test_unbalanced_hidden_markers_are_refused_with_their_line() -> None:
    with pytest.raises(ValueError, match="line 2: ### BEGIN HIDDEN TESTS is never closed"):
        strip_hidden_tests("assert 1\n### BEGIN HIDDEN TESTS\nassert 2\n", 3)


def test_reimport_keeps_what_the_teacher_added(imported: Path, tmp_path: Path) -> None:
    path = imported / "curriculum.yaml"
    manifest = yaml.safe_load(path.read_text())
    step = manifest["steps"][0]
    step["summary"] = "Squares, means, and why they matter."
    step["readings"] = [
        {
            "id": "squares",
            "title": "Square numbers",
            "author": "Wikipedia",
            "kind": "article",
            "url": "https://en.wikipedia.org/wiki/Square_number",
            "minutes": 5,
        }
    ]
    ex = step["notebooks"][0]["exercises"][0]
    ex["hints"] = ["range(1, n + 1) counts from 1 to n"]
    ex["reading"] = "squares"
    ex["title"] = "The squares of 1..n"
    manifest["steps"].append({"id": "extra", "title": "Further reading", "summary": "More.", "readings": []})
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    # the teacher changes the source: a new test cell in ps2
    source = tmp_path / "source"
    shutil.copytree(SOURCE, source)
    cubes = notebook(source / "ps2" / "cubes.ipynb")
    extra = json.loads(json.dumps(cell_with(cubes, "test_cube")))
    extra["id"], extra["source"] = "d", "assert cube(-1) == -1"
    extra["metadata"]["nbgrader"]["grade_id"] = "test_negative"
    cubes["cells"].append(extra)
    (source / "ps2" / "cubes.ipynb").write_text(json.dumps(cubes))
    code, output = dl7("import", "nbgrader", str(source), str(imported))
    assert code == 0, output
    assert "Updated" in output and "kept your step extra" in output
    again = yaml.safe_load(path.read_text())
    kept = again["steps"][0]
    assert (
        kept["summary"] == "Squares, means, and why they matter." and kept["readings"][0]["id"] == "squares"
    )
    ex = kept["notebooks"][0]["exercises"][0]
    assert ex["hints"] == ["range(1, n + 1) counts from 1 to n"] and ex["reading"] == "squares"
    assert ex["title"] == "The squares of 1..n" and ex["test_cell"] == "test_squares"
    assert [e["id"] for e in again["steps"][1]["notebooks"][0]["exercises"]] == [
        "ps2.test_cube",
        "ps2.test_negative",
    ]
    assert [s["id"] for s in again["steps"]] == ["ps1", "ps2", "extra"]
    load(imported)


def test_one_assignment_folder_imports_as_one_step_and_a_notebook_without_tests_is_skipped(
    tmp_path: Path,
) -> None:
    source = tmp_path / "ps2"
    shutil.copytree(SOURCE / "ps2", source)
    notes = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Notes"}], "metadata": {}}
    (source / "notes.ipynb").write_text(json.dumps(notes))
    code, output = dl7("import", "nbgrader", str(source), str(tmp_path / "out"))
    assert code == 0, output
    assert "skipped ps2/notes.ipynb: it has no autograded test cell" in output
    course = load(tmp_path / "out")
    assert [s.id for s in course.steps] == ["ps2"]
    assert [nb.path for nb in course.step("ps2").notebooks] == ["ps2/cubes.ipynb"]


def test_import_refuses_a_source_without_assignments(tmp_path: Path) -> None:
    (tmp_path / "empty" / "notes").mkdir(parents=True)
    code, output = dl7("import", "nbgrader", str(tmp_path / "empty"), str(tmp_path / "out"))
    assert code != 0 and "no nbgrader assignment" in output and "Traceback" not in output


def test_import_names_a_duplicate_grade_id(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(SOURCE / "ps2", source / "ps2")
    nb = notebook(source / "ps2" / "cubes.ipynb")
    nb["cells"][2]["metadata"]["nbgrader"]["grade_id"] = "cube"
    (source / "ps2" / "cubes.ipynb").write_text(json.dumps(nb))
    code, output = dl7("import", "nbgrader", str(source), str(tmp_path / "out"))
    assert code != 0 and "cubes.ipynb: cell 3: grade_id 'cube' is used by cell 2 too" in output


def test_format_1_refuses_test_cell_with_file_line_field(imported: Path) -> None:
    path = imported / "curriculum.yaml"
    text = path.read_text().replace("format: 2", "format: 1")
    path.write_text(text)
    with pytest.raises(ManifestError) as info:
        load(imported)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "files:" in t)
    assert f"curriculum.yaml:{line}:" in str(info.value) and "'files' needs format 2" in str(info.value)


# -- test cells in the notebook that runs (no kernel) ---------------------------------------


def test_course_tests_replace_the_learners_edited_deleted_and_copied_test_cells(imported: Path) -> None:
    course = load(imported)
    nb = course.step("ps1").notebooks[0]
    source = notebook(imported / nb.path)
    mine = learner_version(source)
    cell_with(mine, "test_squares")["source"] = "pass  # the learner 'fixed' the test"
    mine["cells"] = [c for c in mine["cells"] if grade_id(c) != "test_mean"]  # deleted
    mine["cells"].append(json.loads(json.dumps(cell_with(mine, "test_squares"))))  # a copy
    mine["cells"].reverse()  # order changes nothing: cells are matched by grade_id
    mine["cells"].reverse()
    run = with_course_tests(nb, imported / nb.path, source, mine)
    gids = [grade_id(c) for c in run["cells"]]
    assert gids.count("test_squares") == 1 and gids.count("test_mean") == 1
    assert gids.index("test_mean") == gids.index("mean") + 1  # back after the cell it followed
    for gid in ("test_squares", "test_mean"):
        cell = cell_with(run, gid)
        assert f"check('ps1.{gid}'" in cell["source"] and "pass  #" not in cell["source"]
    assert not any(h in json.dumps(run) for h in HIDDEN)  # the kernel reads them from the course


def _course_notebook(tmp_path: Path, test: str) -> str:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "nb.ipynb"
    cell = {"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "grade_id": "t"}}, "source": test}
    path.write_text(json.dumps({"cells": [cell]}))
    return str(path)


@pytest.mark.parametrize(
    ("namespace", "status", "message"),
    [
        ({"f": lambda x: x * x}, "passed", "all tests passed"),
        ({"f": lambda x: x + x}, "failed", "f(3) should be 9"),
        ({"f": lambda x: x + 1}, "failed", "the test failed: assert f(1) == 1"),  # no message: the line
        ({"f": lambda x: x * x if x < 4 else 0}, "failed", "a hidden test failed"),  # never its line
    ],
)
def test_a_test_cell_passes_or_fails_by_its_asserts(
    tmp_path: Path, namespace: dict[str, Any], status: str, message: str
) -> None:
    hidden = "### BEGIN HIDDEN TESTS\nassert f(4) == 16\n### END HIDDEN TESTS"
    test = "assert f(3) == 9, 'f(3) should be 9'\nassert f(1) == 1\n" + hidden
    namespace = dict(namespace)
    if message == "the test failed: assert f(1) == 1":
        test = "assert f(1) == 1\n" + hidden
    result = evaluate("a.t", _course_notebook(tmp_path, test), "t", namespace)
    assert (result.status, result.message) == (status, message)
    assert "f(4)" not in result.message


def test_a_stub_is_not_attempted_and_another_error_names_its_line(tmp_path: Path) -> None:
    nb = _course_notebook(tmp_path, "x = 1\nassert f(2) == 4")

    def stub(x: int) -> int:
        raise NotImplementedError

    def broken(x: int) -> int:
        return x / 0  # type: ignore[return-value]

    assert evaluate("a.t", nb, "t", {"f": stub}).status == "not_attempted"
    result = evaluate("a.t", nb, "t", {"f": broken})
    assert result.status == "error" and result.message.startswith("your code raised ZeroDivisionError")
    assert "in broken, line" in result.message
    result = evaluate("a.t", nb, "t", {})
    assert (result.status, result.message) == (
        "error",
        "the test raised NameError: name 'f' is not defined (test line 2: assert f(2) == 4)",
    )
    assert evaluate("a.t", nb, "missing", {}).status == "course_error"
    broken = _course_notebook(tmp_path / "x", "assert f(2) == 4 4")
    result = evaluate("a.t", broken, "t", {"f": stub})
    assert result.status == "course_error" and "is not valid Python (line 1" in result.message


# -- end to end, with a kernel ----------------------------------------------------------------


@pytest.mark.kernel
def test_validate_proves_the_imported_course(imported: Path) -> None:
    code, output = dl7("--curriculum", str(imported), "validate", "--json", "-j", "2")
    report = json.loads(output)
    assert code == 0 and report["ok"], output
    assert {(c["notebook"], c["case"]) for c in report["cases"]} >= {
        ("ps1/squares.ipynb", "solved"),
        ("ps1/squares.ipynb", "unsolved"),
    }


@pytest.mark.kernel
def test_validate_refuses_a_graded_cell_that_is_no_exercise_and_a_vacuous_test(imported: Path) -> None:
    path = imported / "curriculum.yaml"
    manifest = yaml.safe_load(path.read_text())
    manifest["steps"][0]["notebooks"][0]["exercises"].pop()  # test_mean no longer an exercise
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    nb = notebook(imported / "ps2" / "cubes.ipynb")
    cell_with(nb, "test_cube")["source"] = "assert True"  # passes without a solution
    (imported / "ps2" / "cubes.ipynb").write_text(json.dumps(nb))
    code, output = dl7("--curriculum", str(imported), "validate", "--json")
    reasons = [p["reason"] for c in json.loads(output)["cases"] for p in c["problems"]]
    assert code == 1
    assert any("is an autograded test ('test_mean') but no exercise names it" in r for r in reasons)
    assert any("passes without a solution" in r for r in reasons)


@pytest.mark.kernel
def test_a_learner_runs_an_imported_assignment_end_to_end(imported: Path, isolated: Path) -> None:
    course = ["--curriculum", str(imported)]
    code, output = dl7(*course, "run", "ps1", "--json")
    assert code == 1
    assert statuses(output) == {"ps1.test_squares": "not_attempted", "ps1.test_mean": "not_attempted"}
    assert (isolated / "ps1" / "numbers.txt").is_file()  # the data file came along
    # a learner who edits one test cell and deletes the other is still checked by the originals
    mine = notebook(isolated / "ps1" / "squares.ipynb")
    cell_with(mine, "test_squares")["source"] = "pass"
    mine["cells"] = [c for c in mine["cells"] if grade_id(c) != "test_mean"]
    (isolated / "ps1" / "squares.ipynb").write_text(json.dumps(mine))
    cell = cell_with(mine, "squares")
    cell["source"] = "def squares(n):\n    return [i * i for i in range(1, n)]"  # off by one
    (isolated / "ps1" / "squares.ipynb").write_text(json.dumps(mine))
    code, output = dl7(*course, "run", "ps1", "--json")
    data = json.loads(output)
    found = {e["id"]: e for nb in data["notebooks"] for e in nb["exercises"]}
    assert code == 1
    assert found["ps1.test_squares"]["status"] == "failed"
    assert found["ps1.test_squares"]["message"] == "the test failed: assert squares(1) == [1]"
    assert found["ps1.test_mean"]["status"] == "not_attempted"
    # solved: every test passes (hidden ones included), the step completes, next moves on
    (isolated / "ps1" / "squares.ipynb").unlink()
    dl7(*course, "status")  # a fresh copy of the deleted notebook
    solve(imported, isolated, "ps1/squares.ipynb")
    code, output = dl7(*course, "run", "ps1", "--json")
    assert code == 0, output
    assert set(statuses(output).values()) == {"passed"}
    code, output = dl7(*course, "next")
    assert code == 0 and "ps2" in output and "Problem set 2" in output
    status = json.loads(dl7(*course, "status", "--json")[1])
    assert status["steps"][0]["complete"] is True  # the manually graded cell does not block it
    assert status["steps"][0]["points"] == {"earned": 3, "possible": 3}
    assert status["points"] == {"earned": 3, "possible": 4}
    code, output = dl7(*course, "status")
    assert "Points: 3 of 4 (and 2 graded by hand by your teacher)" in output
    code, output = dl7(*course, "solution", "ps1", "test_squares")
    assert code == 0 and "return [i * i for i in range(1, n + 1)]" in output and "squares(10)" not in output
    code, output = dl7(*course, "run", "ps1")
    assert code == 0 and "graded by your teacher, not by dl7: Why do squares grow faster than n?" in output
    (isolated / "ps1" / "numbers.txt").write_text("mine\n")  # a data file the learner changed stays theirs
    dl7(*course, "status")
    assert (isolated / "ps1" / "numbers.txt").read_text() == "mine\n"
    # nothing of the hidden tests anywhere in the workspace: notebooks, executed copies, progress
    for path in isolated.rglob("*"):
        if path.is_file():
            data_bytes = path.read_bytes()
            assert not any(h.encode() in data_bytes for h in HIDDEN), path
