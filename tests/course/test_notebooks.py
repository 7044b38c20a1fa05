"""The seven-step course itself, end to end through the real CLI and real kernels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dl7.authoring import solved_version
from dl7.cli import app
from dl7.curriculum import load

pytestmark = [pytest.mark.kernel, pytest.mark.slow]
runner = CliRunner()
COURSE = load()


def dl7(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout


def statuses(output: str) -> dict[str, str]:
    data = json.loads(output)
    return {e["id"]: e["status"] for nb in data["notebooks"] for e in nb["exercises"]}


@pytest.mark.parametrize("step", ["step1", "step2"])
def test_a_step_unsolved_then_solved(step: str, isolated: Path) -> None:
    exercises = {e.id for e in COURSE.step(step).exercises}
    assert len(exercises) >= 4

    code, output = dl7("run", step, "--json")
    assert code == 1
    assert statuses(output) == dict.fromkeys(exercises, "not_attempted")

    for nb in COURSE.step(step).notebooks:  # the learner solves every exercise, as the solutions do
        source = json.loads(COURSE.source_path(nb).read_text())
        (isolated / nb.path).write_text(json.dumps(solved_version(source)))  # no known mistakes
    code, output = dl7("run", step, "--json")
    assert code == 0, output
    assert statuses(output) == dict.fromkeys(exercises, "passed")

    status = json.loads(dl7("status", "--json")[1])
    entry = next(s for s in status["steps"] if s["id"] == step)
    assert entry["complete"] is True
    if step == "step1":
        assert status["current"] == "step2"
        assert "step2 — Getting Technical" in dl7("next")[1]


def test_the_whole_course_validates(tmp_path: Path) -> None:
    """Every solution passes and no check passes unsolved (cached by content hash); and Run All in
    JupyterLab reaches the end of every learner's copy: no cell of the unsolved run raises (demo
    cells are wrapped in `with demo():`). For a teacher's course that is information; here, a rule."""
    result = runner.invoke(app, ["validate", "--json", "--junit", str(tmp_path / "validate.xml")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and not [c for c in report["cases"] if not c["ok"]]
    stopped = {
        c["notebook"]: [f"cell {s['cell']} ({s['error']})" for s in c["stopped_run_all"]]
        for c in report["cases"]
        if c.get("stopped_run_all")
    }
    assert not stopped, f"Run All stops on a learner's copy: {stopped}"
