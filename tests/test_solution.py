"""`dl7 solution STEP EXERCISE`: the course's solution, only once the learner's own answer passed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dl7.cli import app
from dl7.curriculum import load
from dl7.progress import Progress
from dl7.solutions import reference_solution

runner = CliRunner()


def dl7(course: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--curriculum", str(course), *args])
    return result.exit_code, result.output


def record(home: Path, *results: tuple[str, str]) -> None:
    with Progress(home / ".dl7" / "progress.sqlite", "fixture") as progress:
        progress.record_attempt(
            "step1",
            "notebooks/basics.ipynb",
            "2026-01-01T00:00:00",
            1.0,
            "completed",
            None,
            [(ex, status, "", 0.1) for ex, status in results],
        )


def test_before_a_pass_it_refuses_and_points_at_hint(course: Path, isolated: Path) -> None:
    code, output = dl7(course, "solution", "step1", "double")
    assert code == 1
    assert "step1.double has not passed yet" in output
    assert "dl7 hint step1 double" in output
    assert "return 2 * x" not in output
    record(isolated, ("step1.double", "failed"))
    code, output = dl7(course, "solution", "1", "step1.double")
    assert code == 1 and "return 2 * x" not in output


def test_after_a_pass_it_shows_only_that_exercises_solution(course: Path, isolated: Path) -> None:
    dl7(course, "status")
    record(isolated, ("step1.double", "passed"), ("step1.greet", "failed"))
    code, output = dl7(course, "solution", "step1", "double")
    assert code == 0, output
    assert "return 2 * x" in output and "def double(x):" in output
    assert "BEGIN SOLUTION" not in output and "hello" not in output, "markers and other exercises stay out"
    assert dl7(course, "solution", "step1", "greet")[0] == 1, "greet has not passed"


def test_a_pass_is_kept_even_if_the_answer_breaks_later(course: Path, isolated: Path) -> None:
    dl7(course, "status")
    record(isolated, ("step1.greet", "passed"))
    record(isolated, ("step1.greet", "failed"))
    code, output = dl7(course, "solution", "step1", "greet")
    assert code == 0 and 'return f"hello {name}"' in output


def test_unknown_exercise_is_exit_2_naming_the_known_ones(course: Path) -> None:
    code, output = dl7(course, "solution", "step1", "triple")
    assert code == 2 and "no exercise 'triple'" in output and "double, greet" in output


def test_known_mistakes_are_not_part_of_the_solution(course: Path) -> None:
    path = course / "notebooks" / "basics.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][2]["source"] = (
        "def double(x):\n    ### BEGIN SOLUTION\n    return x + x\n    ### END SOLUTION\n"
        "    ### BEGIN MISTAKE adds one\n    return x + 1\n    ### END MISTAKE\n"
    )
    path.write_text(json.dumps(nb))
    curriculum = load(course)
    step = curriculum.step("step1")
    found = reference_solution(curriculum, step, step.exercises[0])
    assert found.cells == ((3, "def double(x):\n    return x + x"),)


@pytest.mark.kernel
def test_a_real_run_unlocks_the_solution(course: Path, isolated: Path) -> None:
    pytest.importorskip("ipykernel")
    dl7(course, "next")  # `status` only reads: `next` makes the workspace
    shutil.copy(course / "notebooks" / "basics.ipynb", isolated / "notebooks" / "basics.ipynb")
    assert dl7(course, "run", "step1")[0] == 0
    code, output = dl7(course, "solution", "step1", "greet")
    assert code == 0 and "hello {name}" in output


def test_a_check_call_in_a_string_is_not_a_check(course: Path) -> None:
    # The one rule of dl7.results.calls_in: a call written in a string checks nothing, so it
    # does not end the cells that make double's solution.
    path = course / "notebooks" / "basics.ipynb"
    nb = json.loads(path.read_text())
    note = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
    nb["cells"].insert(3, note | {"source": "later = \"check('step1.greet', greet)\""})
    path.write_text(json.dumps(nb))
    curriculum = load(course)
    step = curriculum.step("step1")
    found = reference_solution(curriculum, step, step.exercises[0])
    assert found.cells == ((3, "def double(x):\n    return 2 * x"),)
