"""The workspace: located by DL7_HOME or a parent .dl7/, created once, never overwriting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dl7.curriculum import load
from dl7.errors import Dl7Error
from dl7.workspace import locate, open_workspace, read_notebook, reset


def test_dl7_home_wins(isolated: Path) -> None:
    assert locate() == isolated.resolve()


def test_nearest_parent_with_dot_dl7(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DL7_HOME")
    (tmp_path / "ws" / ".dl7").mkdir(parents=True)
    deep = tmp_path / "ws" / "notebooks" / "step1"
    deep.mkdir(parents=True)
    assert locate(deep) == (tmp_path / "ws").resolve()


def test_per_user_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DL7_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert locate(tmp_path) == tmp_path / "xdg" / "dl7" / "workspace"


def test_created_with_learner_copies(course: Path, isolated: Path) -> None:
    prepared = open_workspace(load(course))
    assert prepared.created and set(prepared.added) == {
        "notebooks/basics.ipynb",
        "notebooks/slow.ipynb",
        "notebooks/triple.ipynb",
    }
    learner = read_notebook(isolated / "notebooks" / "basics.ipynb")
    text = json.dumps(learner)
    assert "NotImplementedError" in text and "2 * x" not in text
    info = json.loads((isolated / ".dl7" / "workspace.json").read_text())
    assert info["course"] == "fixture" and info["checkers"][0].endswith("checks.py")
    again = open_workspace(load(course))
    assert not again.created and again.added == ()


def test_existing_learner_work_is_never_overwritten(course: Path, isolated: Path) -> None:
    open_workspace(load(course))
    mine = isolated / "notebooks" / "basics.ipynb"
    mine.write_text('{"cells": [], "note": "my work"}')
    open_workspace(load(course))
    assert "my work" in mine.read_text()


def test_reset_keeps_a_backup(course: Path, isolated: Path) -> None:
    c = load(course)
    prepared = open_workspace(c)
    mine = isolated / "notebooks" / "basics.ipynb"
    mine.write_text('{"cells": [], "note": "my work"}')
    done = reset(prepared.workspace, c, c.step("step1").notebooks[0])
    assert done.backup is not None and "my work" in done.backup.read_text()
    assert done.backup.is_relative_to(isolated / "backups")
    assert "NotImplementedError" in mine.read_text()


def test_another_course_cannot_take_over_a_workspace(course: Path) -> None:
    open_workspace(load(course))
    other = course / "curriculum.yaml"
    other.write_text(other.read_text().replace("id: fixture", "id: other-course"))
    with pytest.raises(Dl7Error, match="belongs to the course 'fixture'"):
        open_workspace(load(course))


def test_unreadable_notebook_is_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ipynb"
    bad.write_text('{"cells": [\n  oops\n]}')
    with pytest.raises(Dl7Error) as info:
        read_notebook(bad)
    assert f"{bad}:2:3: not a valid notebook" in info.value.message
