"""`dl7 validate NOTEBOOK`: a teacher checks the notebook they are editing, not the whole step."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dl7.cli import app
from dl7.curriculum import load
from dl7.validate import chosen_notebooks

ROOT = Path(__file__).resolve().parents[1]


def test_refs_name_notebooks_in_every_form() -> None:
    course = load(ROOT / "curriculum.yaml")
    by_path = chosen_notebooks(course, ("notebooks/step2/03_many_variables.ipynb",))
    assert [nb.path for nb in by_path] == ["notebooks/step2/03_many_variables.ipynb"]
    assert chosen_notebooks(course, ("03_many_variables",)) == by_path
    assert chosen_notebooks(course, ("03_many_variables.ipynb",)) == by_path
    assert chosen_notebooks(course, (str(ROOT / "notebooks/step2/03_many_variables.ipynb"),)) == by_path
    # A step and a notebook of another step together, in course order.
    both = chosen_notebooks(course, ("03_many_variables", "step1"))
    assert [nb.step for nb in both] == ["step1", "step1", "step2"]


def test_an_unknown_notebook_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(
        app, ["--curriculum", str(ROOT / "curriculum.yaml"), "validate", "--json", "nope.ipynb"]
    )
    assert result.exit_code == 2, result.output
    assert "nope.ipynb" in result.output


def test_validate_runs_only_the_named_notebook() -> None:
    result = CliRunner().invoke(
        app,
        ["--curriculum", str(ROOT / "curriculum.yaml"), "validate", "--json", "01_linear_algebra"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    paths = {case["notebook"] for case in report["cases"]}
    assert paths == {"notebooks/step2/01_linear_algebra.ipynb"}
