"""An author previewing a source notebook in the course folder, and nbformat's warnings kept quiet."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dl7.cli import app
from dl7.execute import normalised

CHECK = (
    "from dl7 import check\ncheck('step1.double', lambda x: 2 * x)\ncheck('step3.triple', lambda x: 3 * x)\n"
)


def in_folder(folder: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DL7_CHECKERS", "DL7_HOME")}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, env=env, check=False
    )


def test_checks_find_the_courses_checkers_from_its_notebook_folder(course: Path) -> None:
    done = in_folder(course / "notebooks", CHECK)
    assert "no checker is registered" not in done.stdout, done.stdout
    assert "step1.double: passed" in done.stdout and "step3.triple: passed" in done.stdout, done.stdout


def test_a_broken_manifest_gives_no_checkers_and_no_traceback(course: Path) -> None:
    (course / "curriculum.yaml").write_text("format: 1\nsteps: [", encoding="utf-8")
    done = in_folder(course / "notebooks", CHECK)
    assert "no checker is registered for 'step1.double'" in done.stdout and "Traceback" not in done.stderr


def test_a_workspace_still_wins_over_a_course_around_it(course: Path, tmp_path: Path) -> None:
    ws = course / "notebooks" / "ws"
    (ws / ".dl7").mkdir(parents=True)
    (ws / ".dl7" / "workspace.json").write_text(json.dumps({"checkers": []}), encoding="utf-8")
    done = in_folder(ws, CHECK)
    assert "no checker is registered" in done.stdout, "the workspace names its own (here: no) checkers"


def test_missing_cell_ids_get_fresh_ones_and_the_file_is_untouched() -> None:
    nb = {
        "cells": [
            {"cell_type": "code", "source": "1", "metadata": {}, "outputs": [], "execution_count": None},
            {"cell_type": "code", "id": "same", "source": "2", "metadata": {}, "outputs": []},
            {"cell_type": "markdown", "id": "same", "source": "x", "metadata": {}},
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    before = json.dumps(nb)
    ids = [c["id"] for c in normalised(nb)["cells"]]
    assert len(set(ids)) == 3 and ids[1] == "same"
    assert json.dumps(nb) == before
    old = {**nb, "nbformat_minor": 4}
    assert normalised(old) == old, "before 4.5 cells have no ids"


@pytest.mark.kernel
def test_a_notebook_without_cell_ids_runs_without_nbformat_warnings(course: Path, isolated: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["--curriculum", str(course), "next"]).exit_code == 0
    mine = isolated / "notebooks" / "basics.ipynb"
    shutil.copy(course / "notebooks" / "basics.ipynb", mine)
    nb = json.loads(mine.read_text())
    for cell in nb["cells"]:
        cell.pop("id", None)  # as older tools save them, still declaring format 4.5
    mine.write_text(json.dumps(nb))
    done = subprocess.run(
        [sys.executable, "-m", "dl7", "--curriculum", str(course), "run", "step1"],
        capture_output=True,
        text=True,
        env={**os.environ, "DL7_HOME": str(isolated)},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stderr and "MissingIDField" not in done.stdout + done.stderr
    assert json.loads(mine.read_text()) == nb, "the learner's file is not rewritten"
