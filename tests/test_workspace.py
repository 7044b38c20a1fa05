"""The workspace: located by DL7_HOME or a parent .dl7/, created once, never overwriting."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


# -- a file that is JSON but no notebook (issue 22, item 13) ---------------------------------------

NOT_NOTEBOOKS = {
    "a cell that is a number": ('{"cells": [1]}', "cell 1 is a JSON int, not an object"),
    "a source that is a number": (
        json.dumps(
            {
                "cells": [{"cell_type": "code", "source": 5, "metadata": {}, "outputs": []}],
                "metadata": {},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        ),
        "cell 1: its source is a JSON int, not text or a list of lines",
    ),
    "nbformat 3": (
        json.dumps({"cells": [], "metadata": {}, "nbformat": 3, "nbformat_minor": 0}),
        "nbformat 3; dl7 reads nbformat 4",
    ),
}


def cli(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a fresh process, as a learner runs it."""
    command = [sys.executable, "-m", "dl7", "--curriculum", str(course), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def one_line(done: subprocess.CompletedProcess[str], first: str) -> None:
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr, done
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[0] == "error: " + first and all(line.startswith("hint: ") for line in lines[1:]), done


@pytest.mark.parametrize("case", NOT_NOTEBOOKS)
def test_a_learners_file_that_is_no_notebook_is_one_line_and_exit_2_for_run(
    course: Path, isolated: Path, case: str
) -> None:
    # Before: `dl7 run` ended in a traceback (TypeError, AttributeError, nbformat's
    # ValidationError) and exit 1.
    text, problem = NOT_NOTEBOOKS[case]
    open_workspace(load(course))
    mine = isolated / "notebooks" / "basics.ipynb"
    mine.write_text(text)
    one_line(cli(course, "run", "step1"), f"{mine}: not a valid notebook ({problem})")
    assert mine.read_text() == text


@pytest.mark.parametrize("case", NOT_NOTEBOOKS)
def test_a_course_file_that_is_no_notebook_is_one_line_and_exit_2_for_next(course: Path, case: str) -> None:
    # Before: `dl7 next`, making the learner's copies, ended in a traceback and exit 1.
    text, problem = NOT_NOTEBOOKS[case]
    source = course / "notebooks" / "triple.ipynb"
    source.write_text(text)
    one_line(cli(course, "next"), f"{source}: not a valid notebook ({problem})")


# -- JupyterLab saves in place (issue 22, item 16) -------------------------------------------------

# A save as JupyterLab's contents manager makes one: the file opened in place, truncated, then
# written; here it stops halfway until told to go on (a line on stdin).
IN_PLACE_WRITER = """
import sys
path, text = sys.argv[1], sys.argv[2]
half = len(text) // 2
with open(path, "w", encoding="utf-8") as fh:
    fh.write(text[:half])
    fh.flush()
    print("half", flush=True)
    sys.stdin.readline()
    fh.write(text[half:])
print("done", flush=True)
"""


class InPlaceSave:
    """A process saving ``text`` into ``path`` in place, stopped halfway until :meth:`finish`."""

    def __init__(self, path: Path, text: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", IN_PLACE_WRITER, str(path), text],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline() == "half\n", "the writer died before its first half"

    def finish(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == "done\n"
        assert self.proc.wait(30) == 0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def test_reset_during_an_in_place_save_keeps_the_whole_save(course: Path, isolated: Path) -> None:
    # Before: reset copied the half-written file as the backup, then replaced the notebook,
    # so the rest of the save went nowhere: the learner's work was lost.
    c = load(course)
    ws = open_workspace(c).workspace
    mine = isolated / "notebooks" / "basics.ipynb"
    saved = (course / "notebooks" / "basics.ipynb").read_text().replace("# Basics", "# Basics, my save")
    assert saved != (course / "notebooks" / "basics.ipynb").read_text()
    writer = InPlaceSave(mine, saved)
    try:
        done = reset(ws, c, c.step("step1").notebooks[0])
        writer.finish()
    finally:
        writer.kill()
    assert done.backup is not None and done.backup.read_text() == saved, "the whole save is kept"
    assert "NotImplementedError" in mine.read_text() and "my save" not in mine.read_text()
    assert read_notebook(done.backup)["cells"]


def _wait_for_a_reader(path: Path, start: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Call ``start`` and return what it returns once some process has opened ``path`` for
    reading and closed it again (inotify's IN_CLOSE_NOWRITE), waiting at most ``timeout``."""
    import ctypes
    import select

    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    assert fd >= 0, os.strerror(ctypes.get_errno())
    try:
        assert libc.inotify_add_watch(fd, str(path).encode(), 0x10) >= 0  # IN_CLOSE_NOWRITE
        started = start()
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, f"nothing read {path} within {timeout} s"
        return started
    finally:
        os.close(fd)


@pytest.mark.kernel
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="waits for the read with inotify")
def test_run_during_an_in_place_save_runs_the_whole_save(course: Path, isolated: Path) -> None:
    # Before: `dl7 run` read the half-written file and called the notebook corrupt, exit 2.
    open_workspace(load(course))
    mine = isolated / "notebooks" / "basics.ipynb"
    solved = (course / "notebooks" / "basics.ipynb").read_text()
    writer = InPlaceSave(mine, solved)
    command = [sys.executable, "-m", "dl7", "--curriculum", str(course), "run", "step1"]
    try:
        run = _wait_for_a_reader(
            mine, lambda: subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
        writer.finish()  # the run has read half the file: now the save ends
        out, err = run.communicate(timeout=120)
    finally:
        writer.kill()
    assert run.returncode == 0 and "not a valid notebook" not in err, (out, err)
    assert "Traceback" not in out + err


# -- executed copies (issue 22, item 17) ------------------------------------------------------------


def test_executed_copies_of_intro_and_intro_extra_are_kept_apart(course: Path) -> None:
    # Before: the copies were matched by prefix, so saving one of `intro` pruned those of
    # `intro.extra` (and the copy just written).
    from dl7.runner import KEEP_RUNS, _save_executed

    c = load(course)
    ws = open_workspace(c).workspace
    template = c.step("step1").notebooks[0]
    intro = dataclasses.replace(template, path="notebooks/intro.ipynb")
    extra = dataclasses.replace(template, path="notebooks/intro.extra.ipynb")
    executed = json.loads((course / "notebooks" / "basics.ipynb").read_text())
    extras = [_save_executed(ws, extra, executed, lost=[]) for _ in range(KEEP_RUNS)]
    intros = [_save_executed(ws, intro, executed, lost=[]) for _ in range(KEEP_RUNS + 2)]
    folder = ws.runs_dir / template.step
    kept = [p for p in intros[-KEEP_RUNS:] + extras if p is not None]
    assert sorted(folder.glob("intro.*.ipynb")) == sorted(kept) and len(kept) == 2 * KEEP_RUNS
