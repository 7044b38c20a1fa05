"""`dl7 watch` on a terminal: one redrawn screen that fits 80×24, single keys, Ctrl-C.

The screen is tried for real: `dl7 watch` runs in tmux at 80×24, keys are typed into it, and
Ctrl-C is the terminal's own (tmux's C-c: the line discipline sends SIGINT to the foreground
process group, as a learner's keyboard does).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from dl7.views import WatchScreen, watch_lines

tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux for a real terminal")


def _screen(**changes: object) -> WatchScreen:
    base: dict[str, object] = {
        "course": "Deep learning in seven steps, from a perceptron to a transformer's first layer",
        "notebook": "notebooks/step4/03_a_notebook_with_a_rather_long_name_indeed.ipynb",
        "title": "Reverse-mode automatic differentiation with a tape",
        "exercises": tuple(
            (f"step4.exercise_{n}", "passed" if n < 2 else "failed", f"message {n}", f"Exercise {n} " * 8)
            for n in range(9)
        ),
        "done": 31,
        "total": 98,
        "step": "step4",
        "step_done": 2,
        "step_total": 9,
        "status": "checked at 12:00:00 in 12.3 s · save to check again",
    }
    base.update(changes)
    return WatchScreen(**base)  # type: ignore[arg-type]


def _widths(lines: Sequence[Text]) -> list[int]:
    console = Console(width=200)
    return [console.measure(line).maximum for line in lines]


def test_the_screen_fits_80x24_and_shows_the_first_failure_in_full() -> None:
    message = "expected 6.0 for double(3), got 5.0: " + "the learner's function adds one too many " * 4
    screen = _screen(exercises=(("step1.double", "failed", message, "Double"),) + _screen().exercises[:3])
    lines = watch_lines(screen, 80, 24)
    text = [line.plain for line in lines]
    assert len(lines) == 24 and max(_widths(lines)) <= 80
    whole = " ".join(t.strip() for t in text)
    assert " ".join(message.split()) in " ".join(whole.split()), "the failing message, whole"
    assert text[-1].startswith("h hint") and "q quit" in text[-1]
    assert text[-3].startswith("course ") and "31/98" in text[-3]


def test_many_exercises_and_a_long_note_still_fit() -> None:
    note = tuple(f"line {n} of a long solution " * 5 for n in range(40))
    lines = watch_lines(_screen(note=note, note_title="the course's solution"), 80, 24)
    assert len(lines) == 24 and max(_widths(lines)) <= 80
    plain = [line.plain for line in lines]
    assert any("more: `l` lists them" in p for p in plain), "exercises that do not fit say so"
    assert plain[-1].startswith("h hint"), "the keys stay on screen"
    # A solution cut to fit: "press r" (run again) would not show the rest of it.
    cut = next(p for p in plain if p.strip().startswith("…") and "more:" not in p)
    assert "press r" not in cut and "taller terminal" in cut, cut


class Tmux:
    """One tmux server of its own, one 80×24 window running a command."""

    def __init__(self, command: str) -> None:
        self.name = f"dl7-{uuid.uuid4().hex[:8]}"
        subprocess.run(
            ["tmux", "-L", self.name, "new-session", "-d", "-x", "80", "-y", "24", "-s", "w", command],
            check=True,
        )

    def screen(self) -> list[str]:
        got = subprocess.run(
            ["tmux", "-L", self.name, "capture-pane", "-p", "-t", "w"], capture_output=True, text=True
        )
        return got.stdout.split("\n")

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.name, "send-keys", "-t", "w", *keys], check=True)

    def wait(self, found: Callable[[str], bool], what: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = "\n".join(self.screen())
            if found(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"waited {timeout} s for {what}; the screen:\n{text}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True)


@pytest.fixture
def terminal(course: Path, isolated: Path, tmp_path: Path) -> Iterator[tuple[Tmux, Path]]:
    done = tmp_path / "done"
    watch = [sys.executable, "-m", "dl7", "--curriculum", str(course), "watch"]
    # After dl7 exits: its exit code and the terminal's settings, which it must have put back.
    command = (
        f"env -u COLUMNS -u LINES DL7_HOME={shlex.quote(str(isolated))} {shlex.join(watch)} "
        f"2>{shlex.quote(str(tmp_path / 'stderr'))}; echo $? > {shlex.quote(str(tmp_path / 'code'))}; "
        f"stty -a > {shlex.quote(str(tmp_path / 'stty'))}; touch {shlex.quote(str(done))}; sleep 300"
    )
    term = Tmux(command)
    try:
        yield term, tmp_path
    finally:
        term.close()


def _attempts(isolated: Path) -> int:
    with sqlite3.connect(isolated / ".dl7" / "progress.sqlite") as db:
        return int(db.execute("select count(*) from attempts").fetchone()[0])


@tmux
@pytest.mark.kernel
def test_watch_screen_keys_moving_on_and_ctrl_c_in_a_real_terminal(
    terminal: tuple[Tmux, Path], course: Path, isolated: Path
) -> None:
    term, folder = terminal
    first = term.wait(lambda s: "checked at" in s, "the first verdict")
    lines = first.split("\n")[:24]
    assert max(len(line) for line in lines) <= 80, first
    assert "▶ notebooks/basics.ipynb" in first and "step1.double (not attempted)" in first
    assert "course ─" in first and "h hint · s solution" in first
    assert "step1.double (not attempted)" in first and "no such" not in first

    term.keys("h")
    term.wait(lambda s: "hint 1 of 2 for double" in s and "Multiply by two." in s, "the first hint")
    term.keys("s")
    term.wait(lambda s: "no solution yet" in s, "the solution refused before a pass")

    # Ctrl-C during a run stops it cleanly: no "kernel died", nothing recorded, watch goes on.
    recorded = _attempts(isolated)
    mine = isolated / "notebooks" / "basics.ipynb"
    nb = json.loads(mine.read_text())
    nb["cells"].insert(
        1, {"cell_type": "code", "metadata": {}, "outputs": [], "source": "import time\ntime.sleep(60)"}
    )
    mine.write_text(json.dumps(nb))
    term.wait(lambda s: "running cell 1 of" in s, "the run of the save")
    term.keys("C-c")
    stopped = term.wait(lambda s: "stopped (Ctrl-C)" in s or "died" in s, "the run to stop")
    assert "died" not in stopped and "nothing recorded" in stopped, stopped
    assert _attempts(isolated) == recorded, "a run stopped by Ctrl-C is not recorded"

    # The solution saved: the notebook passes, and watch moves on to the next unfinished one.
    shutil.copy(course / "notebooks" / "basics.ipynb", mine)
    moved = term.wait(
        lambda s: "passes: now watching notebooks/slow.ipynb" in s and "in " in s.split("\n")[-3],
        "the move to the next notebook",
    )
    assert "▶ notebooks/slow.ipynb" in moved and "2/4" in moved, moved
    term.keys("l")
    listed = term.wait(lambda s: "the course's notebooks" in s, "the list")
    assert "✔ notebooks/basics.ipynb" in listed and "▶ notebooks/slow.ipynb" in listed

    term.keys("C-c")  # at rest: Ctrl-C quits
    deadline = time.monotonic() + 60
    while not (folder / "done").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (folder / "code").read_text().strip() == "130"
    stty = (folder / "stty").read_text().split()
    assert "icanon" in stty and "echo" in stty, "the terminal's settings are put back"
    assert "Traceback" not in (folder / "stderr").read_text()


@tmux
@pytest.mark.kernel
def test_q_quits_and_puts_the_terminal_back(terminal: tuple[Tmux, Path]) -> None:
    term, folder = terminal
    term.wait(lambda s: "checked at" in s, "the first verdict")
    term.keys("q")
    deadline = time.monotonic() + 60
    while not (folder / "done").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (folder / "code").read_text().strip() == "0"
    stty = (folder / "stty").read_text().split()
    assert "icanon" in stty and "echo" in stty


def test_a_long_hint_is_wrapped_whole_not_cut_at_the_edge() -> None:
    # Before: "1. The answer has one entry per ROW of A. Start with `m, n = A.shape` and an ar…"
    hint = "1. The answer has one entry per ROW of A. Start with `m, n = A.shape` and an array of zeros"
    lines = watch_lines(_screen(note=(hint,), note_title="hint 1 of 3 for matvec"), 80, 24)
    assert max(_widths(lines)) <= 80
    whole = " ".join(" ".join(line.plain.split()) for line in lines)
    assert " ".join(hint.split()) in whole
