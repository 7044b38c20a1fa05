"""A learner notebook renamed in JupyterLab: found and used, never replaced by a blank copy.

JupyterLab's File ▸ Rename is a rename of the file (``os.rename``): the course's name is gone,
and a notebook with the same cells sits beside it under the new name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dl7.curriculum import load
from dl7.workspace import find_renamed, open_workspace


def cli(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a fresh process, as a learner runs it."""
    command = [sys.executable, "-m", "dl7", "--curriculum", str(course), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def _status(course: Path) -> dict[str, Any]:
    done = cli(course, "status", "--json")
    assert done.returncode == 0, done.stderr
    return {s["id"]: s for s in json.loads(done.stdout)["steps"]}


@pytest.mark.kernel
def test_a_renamed_notebook_is_used_and_the_progress_kept(course: Path, isolated: Path) -> None:
    # Before: the next command made a blank basics.ipynb ("Added 1 new notebook(s)"), the next
    # run recorded the blank copy, and step1 dropped from 2/2 to 0/2.
    assert cli(course, "next").returncode == 0  # the workspace, with its learner copies
    mine = isolated / "notebooks" / "basics.ipynb"
    shutil.copy(course / "notebooks" / "basics.ipynb", mine)  # the learner's solution
    assert cli(course, "run", "step1").returncode == 0
    assert _status(course)["step1"]["complete"]

    renamed = isolated / "notebooks" / "my basics.ipynb"
    os.rename(mine, renamed)  # JupyterLab's File ▸ Rename
    shown = cli(course, "next")
    assert shown.returncode == 0
    told = " ".join((shown.stdout + shown.stderr).split())
    assert "Added" not in told and not mine.exists(), "no blank copy under the course's name"
    assert "basics.ipynb was renamed to notebooks/my basics.ipynb" in told, told
    assert f"mv '{renamed}' {mine}" in told, "the command that gives it back its name"

    run = cli(course, "run", "step1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert not mine.exists()
    assert _status(course)["step1"]["complete"], "the renamed copy was checked: its passes stand"


def test_two_copies_with_its_cells_make_no_copy_and_name_both(course: Path, isolated: Path) -> None:
    curriculum = load(course / "curriculum.yaml")
    open_workspace(curriculum)
    mine = isolated / "notebooks" / "basics.ipynb"
    shutil.copy(mine, mine.with_name("basics-Copy1.ipynb"))  # File ▸ Duplicate, then a rename
    os.rename(mine, mine.with_name("mine.ipynb"))
    prepared = open_workspace(curriculum)
    assert not mine.exists() and prepared.added == ()
    [moved] = prepared.renamed
    assert [p.name for p in moved.found] == ["basics-Copy1.ipynb", "mine.ipynb"]

    from rich.console import Console

    from dl7.views import workspace_notice

    console = Console(record=True, width=300)
    workspace_notice(console, prepared)
    text = console.export_text()
    assert "basics-Copy1.ipynb and notebooks/mine.ipynb both hold its cells" in text, text
    assert f"mv {mine.with_name('basics-Copy1.ipynb')} {mine}" in text
    assert "dl7 reset step1 basics.ipynb" in text


def test_an_unrelated_notebook_is_no_rename(course: Path, isolated: Path) -> None:
    curriculum = load(course / "curriculum.yaml")
    open_workspace(curriculum)
    mine = isolated / "notebooks" / "basics.ipynb"
    other = {"cells": [{"cell_type": "markdown", "source": "my notes", "metadata": {}}], "metadata": {}}
    (mine.parent / "notes.ipynb").write_text(json.dumps({**other, "nbformat": 4, "nbformat_minor": 5}))
    mine.unlink()  # deleted: a fresh copy, as before
    prepared = open_workspace(curriculum)
    assert prepared.added == ("notebooks/basics.ipynb",) and prepared.renamed == ()
    assert mine.exists()


def test_reset_of_a_renamed_notebook_backs_it_up_and_restores_the_name(course: Path, isolated: Path) -> None:
    from dl7.workspace import reset

    curriculum = load(course / "curriculum.yaml")
    open_workspace(curriculum)
    mine = isolated / "notebooks" / "basics.ipynb"
    text = mine.read_text().replace("NotImplementedError", "NotImplementedError  # mine")
    mine.write_text(text)
    os.rename(mine, mine.with_name("renamed.ipynb"))
    prepared = open_workspace(curriculum)
    nb = next(iter(curriculum.notebooks))
    assert prepared.workspace.learner_path(nb).name == "renamed.ipynb"
    done = reset(prepared.workspace, curriculum, nb)
    assert done.path == mine and mine.exists() and "# mine" not in mine.read_text()
    assert done.backup is not None and done.backup.read_text() == text, "the learner's work is kept"


def test_watch_follows_a_rename_without_running_it_again(course: Path, isolated: Path) -> None:
    from dl7.progress import Progress
    from dl7.watch import Watcher, code_digest

    curriculum = load(course / "curriculum.yaml")
    prepared = open_workspace(curriculum)
    ws = prepared.workspace
    nb = next(iter(curriculum.notebooks))
    renames: list[Path] = []
    with Progress(ws.progress_path, curriculum.id) as progress:
        watcher = Watcher(
            curriculum,
            ws,
            progress,
            curriculum.steps[0],
            lambda run: None,
            on_rename=lambda nb, p: renames.append(p),
        )
        _, source = watcher.read(nb)
        watcher.digests[nb.path] = code_digest(source)  # as if it had just run
        mine = ws.learner_path(nb)
        moved = mine.with_name("renamed.ipynb")
        os.rename(mine, moved)
        assert list(watcher.changed({str(mine), str(moved)})) == [], "same code: nothing runs"
        assert renames == [moved] and ws.learner_path(nb) == moved
        data = json.loads(moved.read_text())
        data["cells"].append({"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": []})
        moved.write_text(json.dumps(data))
        assert [n.path for n, _, _ in watcher.changed({str(moved)})] == [nb.path], "its saves run"
    assert find_renamed(curriculum, ws, nb) == (moved,)
