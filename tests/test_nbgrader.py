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


def test_one_assignment_folder_imports_as_one_step_and_a_notebook_without_tests_is_kept(
    tmp_path: Path,
) -> None:
    source = tmp_path / "ps2"
    shutil.copytree(SOURCE / "ps2", source)
    notes = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Notes"}], "metadata": {}}
    (source / "notes.ipynb").write_text(json.dumps(notes))
    code, output = dl7("import", "nbgrader", str(source), str(tmp_path / "out"))
    assert code == 0, output
    assert "ps2/notes.ipynb: no autograded test; the learner gets it" in output
    course = load(tmp_path / "out")
    assert [s.id for s in course.steps] == ["ps2"]
    assert [nb.path for nb in course.step("ps2").notebooks] == ["ps2/cubes.ipynb", "ps2/notes.ipynb"]
    assert course.step("ps2").notebooks[1].exercises == ()


def test_import_refuses_a_source_without_assignments(tmp_path: Path) -> None:
    (tmp_path / "empty" / "notes").mkdir(parents=True)
    code, output = dl7("import", "nbgrader", str(tmp_path / "empty"), str(tmp_path / "out"))
    assert code != 0 and "no nbgrader assignment" in output and "Traceback" not in output
    assert not (tmp_path / "out").exists()


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
        # never its line, only where it stands (issue 23 item 7)
        (
            {"f": lambda x: x * x if x < 4 else 0},
            "failed",
            "a hidden test failed (line 1 of the hidden tests)",
        ),
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
    dl7(*course, "next")  # a fresh copy of the deleted notebook
    solve(imported, isolated, "ps1/squares.ipynb")
    code, output = dl7(*course, "run", "ps1", "--json")
    assert code == 0, output
    assert set(statuses(output).values()) == {"passed"}
    code, output = dl7(*course, "next")
    assert code == 0 and "ps2" in output and "Problem set 2" in output
    status = json.loads(dl7(*course, "status", "--json")[1])
    assert status["steps"][0]["complete"] is True  # the manually graded cell does not block it
    # a person's points count in what is possible, never as earned (issue 23, item 5)
    assert status["steps"][0]["points"] == {"earned": 3, "possible": 5, "by_hand": 2}
    assert status["points"] == {"earned": 3, "possible": 6, "by_hand": 2}
    code, output = dl7(*course, "status")
    assert "Points: 3 of 6 (2 of them graded by hand by your teacher)" in output
    code, output = dl7(*course, "solution", "ps1", "test_squares")
    assert code == 0 and "return [i * i for i in range(1, n + 1)]" in output and "squares(10)" not in output
    code, output = dl7(*course, "run", "ps1")
    assert code == 0 and "graded by your teacher, not by dl7: Why do squares grow faster than n?" in output
    (isolated / "ps1" / "numbers.txt").write_text("mine\n")  # a data file the learner changed stays theirs
    dl7(*course, "next")
    assert (isolated / "ps1" / "numbers.txt").read_text() == "mine\n"
    # nothing of the hidden tests anywhere in the workspace: notebooks, executed copies, progress
    for path in isolated.rglob("*"):
        if path.is_file():
            data_bytes = path.read_bytes()
            assert not any(h.encode() in data_bytes for h in HIDDEN), path


# -- links in a teacher's folder: nothing outside it comes along ------------------------------


def _everything(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink())


def test_links_and_special_files_in_the_source_are_not_copied_and_each_is_named(
    tmp_path: Path, isolated: Path
) -> None:
    import os

    secret = tmp_path / "learner" / ".ssh" / "id_ed25519"  # what a hostile course reaches for
    secret.parent.mkdir(parents=True)
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY----- not for a course\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "notes.txt").write_text("someone else's notes\n")
    source = tmp_path / "source"
    shutil.copytree(SOURCE, source)
    ps1 = source / "ps1"
    (ps1 / "photo.png").symlink_to(secret)
    (ps1 / "env.txt").symlink_to("/proc/self/environ")
    (ps1 / "images").symlink_to(outside, target_is_directory=True)
    (ps1 / "same.txt").symlink_to("numbers.txt")  # even a link inside: only regular files come
    (ps1 / "gone.txt").symlink_to(tmp_path / "missing")
    os.mkfifo(ps1 / "pipe")
    (ps1 / "data").mkdir()
    (ps1 / "data" / "real.csv").write_text("a,b\n1,2\n")  # a regular file in a folder still comes

    course = tmp_path / "course"
    code, output = dl7("import", "nbgrader", str(source), str(course))
    assert code == 0, output
    for name in ("photo.png", "env.txt", "images", "same.txt", "gone.txt"):
        assert f"not copied ps1/{name}: is a symbolic link" in output, output
    assert "not copied ps1/pipe: is not a regular file" in output
    assert sorted(p.name for p in (course / "ps1").iterdir()) == ["data", "numbers.txt", "squares.ipynb"]
    manifest = yaml.safe_load((course / "curriculum.yaml").read_text())
    assert manifest["steps"][0]["notebooks"][0]["files"] == ["data/real.csv", "numbers.txt"]
    everything = _everything(course)
    assert b"OPENSSH" not in everything and b"someone else" not in everything
    assert os.environ["DL7_HOME"].encode() not in everything, "nothing of /proc/self/environ"
    code, output = dl7("import", "nbgrader", str(source), str(course), "--json")
    refused = {r["path"]: r["why"] for r in json.loads(output)["steps"][0]["refused"]}
    assert set(refused) == {"photo.png", "env.txt", "images", "same.txt", "gone.txt", "pipe"}
    # and so into no learner's workspace
    assert dl7("--curriculum", str(course), "next")[0] == 0
    assert b"OPENSSH" not in _everything(isolated) and (isolated / "ps1" / "data" / "real.csv").is_file()


def test_a_notebook_or_an_assignment_that_is_a_link_out_of_the_source_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(SOURCE / "ps2", elsewhere)
    source = tmp_path / "source"
    shutil.copytree(SOURCE / "ps1", source / "ps1")
    (source / "ps1" / "cubes.ipynb").symlink_to(elsewhere / "cubes.ipynb")
    code, output = dl7("import", "nbgrader", str(source), str(tmp_path / "one"))
    assert code == 0 and "not copied ps1/cubes.ipynb: is a symbolic link" in output, output
    assert not (tmp_path / "one" / "ps1" / "cubes.ipynb").exists()
    (source / "ps2").symlink_to(elsewhere, target_is_directory=True)
    code, output = dl7("import", "nbgrader", str(source), str(tmp_path / "two"))
    assert code == 2 and f"is a link to {elsewhere}, outside {source}" in output, output
    assert "Traceback" not in output and not (tmp_path / "two" / "curriculum.yaml").exists()


def test_a_file_swapped_for_a_link_after_the_walk_is_not_followed(tmp_path: Path) -> None:
    from dl7.importers.nbgrader import _copy_regular

    secret = tmp_path / "secret"
    secret.write_text("secret")
    link = tmp_path / "source" / "numbers.txt"
    link.parent.mkdir()
    link.symlink_to(secret)
    dest = tmp_path / "course" / "numbers.txt"
    assert "symbolic link" in str(_copy_regular(link, dest))
    assert not dest.exists()


def test_the_workspace_copies_no_course_file_that_became_a_link_out_of_it(
    imported: Path, isolated: Path, tmp_path: Path
) -> None:
    """The manifest's parse is cached: a data file of the course turned into a link (a `git pull`
    of a course that commits one) is not seen by a load, so the copy itself must refuse it."""
    course = ["--curriculum", str(imported)]
    assert dl7(*course, "next")[0] == 0
    assert (isolated / "ps1" / "numbers.txt").is_file()
    secret = tmp_path / "id_ed25519"
    secret.write_text("PRIVATE KEY\n")
    (imported / "ps1" / "numbers.txt").unlink()
    (imported / "ps1" / "numbers.txt").symlink_to(secret)
    (isolated / "ps1" / "numbers.txt").unlink()  # the learner deleted it: dl7 copies it again
    code, output = dl7(*course, "next")
    assert (
        code == 2 and "not copied to the workspace: it leads to" in output and "outside the course" in output
    )
    assert "Traceback" not in output
    assert not (isolated / "ps1" / "numbers.txt").exists()
    assert b"PRIVATE KEY" not in _everything(isolated)


def test_two_notebooks_beside_the_same_files_each_list_them(tmp_path: Path) -> None:
    # Before: both entries shared one list, which YAML wrote as an alias the loader refuses.
    source = tmp_path / "ps1"
    shutil.copytree(SOURCE / "ps1", source)
    shutil.copy(SOURCE / "ps2" / "cubes.ipynb", source)
    code, output = dl7("import", "nbgrader", str(source), str(tmp_path / "out"))
    assert code == 0, output
    course = load(tmp_path / "out")
    assert [nb.files for nb in course.step("ps1").notebooks] == [("numbers.txt",), ("numbers.txt",)]


# -- nbgrader courses as teachers write them (issue 23) ----------------------------------------

FIXTURES = SOURCE.parent
DOCS = FIXTURES / "docs_course"  # nbgrader's documentation course, with nbgrader's own release
UPSTREAM = FIXTURES / "upstream"  # cells from nbgrader's test fixtures


def _cells(nb: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
        for c in nb["cells"]
    ]


def _one_assignment(tmp_path: Path, *notebooks: Path | dict[str, Any], names: tuple[str, ...] = ()) -> Path:
    """An nbgrader course folder with source/ps1 holding the given notebooks."""
    folder = tmp_path / "nbcourse" / "source" / "ps1"
    folder.mkdir(parents=True, exist_ok=True)
    for n, nb in enumerate(notebooks):
        name = names[n] if n < len(names) else (nb.name if isinstance(nb, Path) else f"nb{n}.ipynb")
        text = nb.read_text() if isinstance(nb, Path) else json.dumps(nb)
        (folder / name).write_text(text)
    return tmp_path / "nbcourse"


@pytest.mark.parametrize("given", ["course", "source", "assignment"])
def test_item1_nbgraders_documented_layout_with_its_header(tmp_path: Path, given: str) -> None:
    """The course folder, its source/ or one assignment: header.ipynb is not an assignment, its
    cells go before every notebook's, and the learner copy is nbgrader's release, cell by cell."""
    where = {"course": DOCS, "source": DOCS / "source", "assignment": DOCS / "source" / "ps1"}[given]
    course = tmp_path / "course"
    code, output = dl7("import", "nbgrader", str(where), str(course))
    assert code == 0, output
    assert f"header {DOCS / 'source' / 'header.ipynb'} put before every notebook" in output.replace("\n", "")
    loaded = load(course)
    assert [s.id for s in loaded.steps] == ["ps1"]
    assert [nb.path for nb in loaded.step("ps1").notebooks] == ["ps1/problem1.ipynb", "ps1/problem2.ipynb"]
    for name in ("problem1", "problem2"):
        mine = learner_version(notebook(course / "ps1" / f"{name}.ipynb"))
        released = notebook(DOCS / "release" / "ps1" / f"{name}.ipynb")
        assert _cells(mine) == _cells(released), name


def test_item1_a_learner_is_not_told_the_docs_course_is_complete(tmp_path: Path, isolated: Path) -> None:
    course = tmp_path / "course"
    assert dl7("import", "nbgrader", str(DOCS), str(course))[0] == 0
    code, output = dl7("--curriculum", str(course), "next")
    assert code == 0 and "complete" not in output.lower() and "ps1" in output, output
    assert (isolated / "ps1" / "problem2.ipynb").is_file()  # graded by hand, and the learner has it
    released = json.dumps(notebook(isolated / "ps1" / "problem1.ipynb"))
    assert "return sum_of_squares(n)" not in released and "YOUR CODE HERE" in released


def test_item2_two_notebooks_a_data_file_and_one_grade_id_twice(tmp_path: Path) -> None:
    squares = SOURCE / "ps1" / "squares.ipynb"
    root = _one_assignment(tmp_path, squares, squares, names=("squares.ipynb", "again.ipynb"))
    shutil.copy(SOURCE / "ps1" / "numbers.txt", root / "source" / "ps1")
    course = tmp_path / "course"
    code, output = dl7("import", "nbgrader", str(root), str(course))
    assert code == 0, output
    text = (course / "curriculum.yaml").read_text()
    assert "&id" not in text and "*id" not in text  # no YAML anchors or aliases
    ids = [e.id for e in load(course).step("ps1").exercises]
    # again.ipynb comes first (name order): the second notebook's ids take its name
    assert ids == ["ps1.test_squares", "ps1.test_mean", "ps1.squares_test_squares", "ps1.squares_test_mean"]
    assert [e.test_cell for e in load(course).step("ps1").exercises][2] == "test_squares"


def test_a_failed_import_leaves_nothing_half_written(tmp_path: Path) -> None:
    """Built beside the course, loaded, then swapped in: a refusal in the last notebook leaves no
    course (first import) and the old course untouched (re-import)."""
    root = _one_assignment(tmp_path, SOURCE / "ps1" / "squares.ipynb", UPSTREAM / "blank-points.ipynb")
    course = tmp_path / "out" / "course"
    code, output = dl7("import", "nbgrader", str(root), str(course))
    assert code == 2 and "blank-points.ipynb: cell 1 ('id1'): a graded cell without points" in output
    assert not course.exists() and list((tmp_path / "out").iterdir()) == []
    (root / "source" / "ps1" / "blank-points.ipynb").unlink()
    assert dl7("import", "nbgrader", str(root), str(course))[0] == 0
    before = {p: p.read_bytes() for p in course.rglob("*") if p.is_file()}
    shutil.copy(UPSTREAM / "blank-points.ipynb", root / "source" / "ps1")
    assert dl7("import", "nbgrader", str(root), str(course))[0] == 2
    assert {p: p.read_bytes() for p in course.rglob("*") if p.is_file()} == before
    assert [p.name for p in course.parent.iterdir()] == ["course"]


LOOSE = [
    ("###BEGIN SOLUTION", "###END SOLUTION"),
    ("# BEGIN SOLUTION", "# END SOLUTION"),
    ("    ### BEGIN SOLUTION (model answer)", "    ### END SOLUTION here"),
]


@pytest.mark.parametrize(("begin", "end"), LOOSE)
def test_item3_nbgraders_loose_marker_spellings(tmp_path: Path, begin: str, end: str) -> None:
    nb = notebook(SOURCE / "ps1" / "squares.ipynb")
    solution = cell_with(nb, "squares")
    solution["source"] = f"def squares(n):\n{begin}\n    return [i * i for i in range(1, n + 1)]\n{end}\n"
    test = cell_with(nb, "test_squares")
    test["source"] = (
        "assert squares(1) == [1]\n#BEGIN HIDDEN TESTS\nassert squares(10)[-1] == 100\n# END HIDDEN TESTS"
    )
    course = tmp_path / "course"
    code, output = dl7("import", "nbgrader", str(_one_assignment(tmp_path, nb)), str(course))
    assert code == 0, output
    mine = learner_version(notebook(course / "ps1" / "nb0.ipynb"))
    assert cell_with(mine, "squares")["source"].startswith("def squares(n):\n")
    assert "# YOUR CODE HERE\n" in cell_with(mine, "squares")["source"]
    assert "range(1, n + 1)" not in json.dumps(mine) and "squares(10)" not in json.dumps(mine)
    assert cell_with(mine, "test_squares")["source"] == "assert squares(1) == [1]"


def test_item3_markers_nbgrader_does_not_know_leave_a_solution_cell_stubbed_whole(tmp_path: Path) -> None:
    nb = notebook(SOURCE / "ps1" / "squares.ipynb")
    cell_with(nb, "squares")["source"] = (
        "### begin solution\ndef squares(n):\n    return [1]\n### end solution"
    )
    course = tmp_path / "course"
    assert dl7("import", "nbgrader", str(_one_assignment(tmp_path, nb)), str(course))[0] == 0
    mine = learner_version(notebook(course / "ps1" / "nb0.ipynb"))
    assert cell_with(mine, "squares")["source"] == "# YOUR CODE HERE\nraise NotImplementedError()"


def test_item3_hidden_lines_are_found_however_nbgrader_spells_them() -> None:
    from dl7.authoring import hidden_lines

    assert hidden_lines("a\n#BEGIN HIDDEN TESTS\nb\n  ## END HIDDEN TESTS ##\nc") == {2, 3, 4}


def test_item4_solution_cells_without_markers_get_nbgraders_stubs_which_are_configurable(
    tmp_path: Path,
) -> None:
    course = tmp_path / "course"
    assert dl7("import", "nbgrader", str(DOCS), str(course))[0] == 0
    mine = learner_version(notebook(course / "ps1" / "problem1.ipynb"))
    assert (
        cell_with(mine, "sum_of_squares_application")["source"]
        == "# YOUR CODE HERE\nraise NotImplementedError()"
    )
    assert cell_with(mine, "sum_of_squares_equation")["source"] == "YOUR ANSWER HERE"
    code, output = dl7(
        "import",
        "nbgrader",
        str(DOCS),
        str(course),
        "--code-stub",
        "# TODO\nraise NotImplementedError",
        "--text-stub",
        "Write here.",
    )
    assert code == 0, output
    mine = learner_version(notebook(course / "ps1" / "problem1.ipynb"))
    assert cell_with(mine, "sum_of_squares_application")["source"] == "# TODO\nraise NotImplementedError"
    assert cell_with(mine, "sum_of_squares_equation")["source"] == "Write here."
    root = tmp_path / "configured"
    shutil.copytree(DOCS / "source", root / "source")
    (root / "nbgrader_config.py").write_text(
        'c = get_config()\nc.ClearSolutions.code_stub = {"python": "pass  # yours"}\n'
        'c.ClearSolutions.text_stub = "Answer:"\nc.IncludeHeaderFooter.header = ""\n'
    )
    assert dl7("import", "nbgrader", str(root), str(tmp_path / "c2"))[0] == 0
    mine = learner_version(notebook(tmp_path / "c2" / "ps1" / "problem1.ipynb"))
    assert cell_with(mine, "sum_of_squares_application")["source"] == "pass  # yours"
    assert cell_with(mine, "sum_of_squares_equation")["source"] == "Answer:"


def test_item5_notebooks_graded_by_hand_are_kept_with_their_points_and_no_mark_scheme(
    tmp_path: Path,
) -> None:
    root = _one_assignment(
        tmp_path, UPSTREAM / "test_taskcell.ipynb", DOCS / "source" / "ps1" / "problem2.ipynb"
    )
    course = tmp_path / "course"
    code, output = dl7("import", "nbgrader", str(root), str(course), "--json")
    assert code == 0, output
    step = json.loads(output)["steps"][0]
    assert step["notebooks"] == ["ps1/problem2.ipynb", "ps1/test_taskcell.ipynb"]
    assert {m["grade_id"]: m["points"] for m in step["manual"]} == {
        "part-a": 1,
        "part-b": 2,
        "task1": 2,
        "sum_of_squares_equation": 1,
        "sum_of_squares_application": 2,
    }
    nb = load(course).step("ps1").notebooks[0]
    assert nb.exercises == () and [m.grade_id for m in nb.manual] == ["part-a", "part-b"]
    mine = json.dumps(learner_version(notebook(course / "ps1" / "test_taskcell.ipynb")))
    assert "MARK SCHEME" not in mine and "1 mark for" not in mine and "Do your best!" in mine


def test_item6_autotest_lines_are_refused_with_the_cell_and_line(tmp_path: Path) -> None:
    root = _one_assignment(tmp_path, UPSTREAM / "autotest-problem1.ipynb")
    code, output = dl7("import", "nbgrader", str(root), str(tmp_path / "course"))
    assert code == 2 and "Traceback" not in output
    assert "autotest-problem1.ipynb: cell 6, line 2: '### AUTOTEST squares(1); squares(2)'" in output
    assert "AUTOTEST, autotests.yml) are not supported" in output.replace("\n", " ")
    assert not (tmp_path / "course").exists()


def test_item8_old_metadata_string_points_become_numbers(tmp_path: Path) -> None:
    root = _one_assignment(tmp_path, UPSTREAM / "test-v0.ipynb")
    code, output = dl7("import", "nbgrader", str(root), str(tmp_path / "course"), "--json")
    assert code == 0, output
    step = json.loads(output)["steps"][0]
    assert {e["id"]: e["points"] for e in step["exercises"]}["ps1.correct_squares"] == 1
    assert {m["grade_id"]: m["points"] for m in step["manual"]} == {
        "sum_of_squares_equation": 1,
        "sum_of_squares_application": 2,
    }


@pytest.mark.parametrize(
    ("fixture", "why"),
    [
        ("blank-points.ipynb", "cell 1 ('id1'): a graded cell without points (nbgrader refuses it too)"),
        ("bad-markdown-cell-1.ipynb", "cell 1 ('foo'): a graded Markdown cell that is not a solution cell"),
    ],
)
def test_item8_what_nbgrader_refuses_is_refused_with_the_cell_and_why(
    tmp_path: Path, fixture: str, why: str
) -> None:
    code, output = dl7(
        "import", "nbgrader", str(_one_assignment(tmp_path, UPSTREAM / fixture)), str(tmp_path / "c")
    )
    assert code == 2 and f"{fixture}: {why}" in output.replace("\n", ""), output


def test_item8_blank_points_in_current_metadata_are_refused(tmp_path: Path) -> None:
    nb = notebook(SOURCE / "ps1" / "squares.ipynb")
    cell_with(nb, "test_squares")["metadata"]["nbgrader"].update({"points": "", "schema_version": 3})
    code, output = dl7("import", "nbgrader", str(_one_assignment(tmp_path, nb)), str(tmp_path / "c"))
    assert code == 2 and "('test_squares'): points must be a number, not ''" in output, output


def test_item8_a_reimport_backs_up_the_teachers_edits_and_says_so(tmp_path: Path) -> None:
    course = tmp_path / "course"
    assert dl7("import", "nbgrader", str(SOURCE), str(course))[0] == 0
    path = course / "ps1" / "squares.ipynb"
    edited = notebook(path)
    edited["cells"][0]["source"] = "# My better introduction"
    path.write_text(json.dumps(edited))
    untouched = notebook(course / "ps2" / "cubes.ipynb")
    untouched["cells"][0]["outputs"] = []  # re-saved by Jupyter: no edit
    (course / "ps2" / "cubes.ipynb").write_text(json.dumps(untouched, indent=2))
    code, output = dl7("import", "nbgrader", str(SOURCE), str(course))
    assert code == 0, output
    flat = output.replace("\n", "")
    assert "you had edited ps1/squares.ipynb: your version is kept as .dl7-import-backup/" in flat
    assert "cubes.ipynb" not in flat.split("Updated")[1].split("ps1 (")[0]
    backups = list((course / ".dl7-import-backup").rglob("squares.ipynb"))
    assert len(backups) == 1 and "My better introduction" in backups[0].read_text()
    assert "My better introduction" not in path.read_text()  # the source's notebook again
    assert not list((course / ".dl7-import-backup").rglob("cubes.ipynb"))


@pytest.mark.kernel
def test_item5_the_docs_course_validates_and_a_learner_runs_it(tmp_path: Path, isolated: Path) -> None:
    course = tmp_path / "course"
    assert dl7("import", "nbgrader", str(DOCS), str(course))[0] == 0
    code, output = dl7("--curriculum", str(course), "validate", "--json", "-j", "2")
    assert code == 0 and json.loads(output)["ok"], output
    code, output = dl7("--curriculum", str(course), "run", "ps1")
    assert code == 1, output
    flat = output.replace("\n", " ")
    assert "graded by your teacher, not by dl7" in flat and "Part B (2 points)" in flat  # problem2's
    status = json.loads(dl7("--curriculum", str(course), "status", "--json")[1])
    assert status["steps"][0]["complete"] is False
