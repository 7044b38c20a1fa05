"""The workspace: located by DL7_HOME or a parent .dl7/, created once, never overwriting."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dl7.curriculum import load
from dl7.errors import Dl7Error
from dl7.workspace import locate, open_workspace, read_notebook, reset, write_atomic


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


@pytest.mark.parametrize("path", ["../outside.ipynb", "notebooks/../../outside.ipynb", "/tmp/abs.ipynb"])
def test_a_learner_path_never_leaves_the_workspace(course: Path, isolated: Path, path: str) -> None:
    # The manifest refuses such paths at load; this guards code that builds a Notebook itself.
    c = load(course)
    ws = open_workspace(c).workspace
    nb = dataclasses.replace(c.step("step1").notebooks[0], path=path)
    with pytest.raises(Dl7Error, match="outside the workspace"):
        ws.learner_path(nb)
    with pytest.raises(Dl7Error, match="outside the workspace"):
        reset(ws, c, nb)
    assert not (isolated.parent / "outside.ipynb").exists()


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_keeps_the_old_files_mode(tmp_path: Path, umask_022: None) -> None:
    # Before: every rewrite left the file owner-only (0o600, mkstemp's mode).
    target = tmp_path / "shared.ipynb"
    target.write_text("old")
    target.chmod(0o664)
    write_atomic(target, "new")
    assert target.read_text() == "new" and _mode(target) == 0o664


@pytest.mark.parametrize("exclusive", [False, True])
def test_atomic_write_gives_a_new_file_the_umask_mode(
    tmp_path: Path, umask_022: None, exclusive: bool
) -> None:
    target = tmp_path / "sub" / "new.json"
    write_atomic(target, "{}", exclusive=exclusive)
    assert _mode(target) == 0o644
    os.umask(0o077)
    other = tmp_path / "private.json"
    write_atomic(other, "{}", exclusive=exclusive)
    assert _mode(other) == 0o600
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["new.json", "private.json", "sub"]


def test_atomic_write_syncs_the_data_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync " + os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append("replace " + os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "data.json"
    write_atomic(target, "{}")
    renamed = [e for e in events if e.startswith("replace ")]
    assert len(renamed) == 1, events
    temp = renamed[0].removeprefix("replace ")
    assert events.index(f"fsync {temp}") < events.index(renamed[0]), events
