"""The fast path: `dl7 next` and `dl7 status` run without Typer, and print exactly what the
full CLI prints for the same command line; any other shape goes to Typer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dl7.fastpath import match

FULL_CLI = "import sys; from dl7.cli import main; sys.argv[0] = 'dl7'; main()"


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (["next"], ("next", None, False)),
        (["status", "--json"], ("status", None, True)),
        (["--curriculum", "c.yaml", "next"], ("next", "c.yaml", False)),
        (["-c", "c.yaml", "status", "--json"], ("status", "c.yaml", True)),
        (["next", "--curriculum", "c.yaml"], ("next", "c.yaml", False)),
        (["status", "--json", "--curriculum=c.yaml"], ("status", "c.yaml", True)),
    ],
)
def test_plain_shapes_take_the_fast_path(args: list[str], want: tuple[str, str | None, bool]) -> None:
    assert match(args) == want


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["run", "step1"],
        ["next", "--help"],
        ["--help"],
        ["next", "status"],
        ["next", "--json", "--json"],
        ["--json", "next"],
        ["next", "extra"],
        ["-c", "a.yaml", "-c", "b.yaml", "next"],
        ["next", "--curriculum"],
        ["next", "--jsn"],
        ["--version"],
        ["next", "--"],
        ["-cpath.yaml", "next"],
    ],
)
def test_everything_else_goes_to_typer(args: list[str]) -> None:
    assert match(args) is None


def _both(args: list[str], env: dict[str, str], home: Path) -> tuple[subprocess.CompletedProcess[str], ...]:
    """The same command both ways, each with its own workspace (named alike in the output)."""
    fast = subprocess.run(
        [sys.executable, "-m", "dl7", *args],
        capture_output=True,
        text=True,
        env={**env, "DL7_HOME": str(home / "fast" / "ws")},
    )
    full = subprocess.run(
        [sys.executable, "-c", FULL_CLI, *args],
        capture_output=True,
        text=True,
        env={**env, "DL7_HOME": str(home / "full" / "ws")},
    )
    for done, name in ((fast, "fast"), (full, "full")):
        done.stdout = done.stdout.replace(str(home / name), "HOME")
        done.stderr = done.stderr.replace(str(home / name), "HOME")
    return fast, full


@pytest.mark.parametrize(
    "args",
    [
        ["next"],
        ["status"],
        ["next", "--json"],
        ["status", "--json"],
        ["--curriculum", "{course}", "next"],
        ["status", "-c", "{course}"],
        ["next", "--json", "--curriculum={course}"],
        ["--curriculum", "{broken}", "next"],
        ["--curriculum", "{missing}", "status"],
    ],
)
def test_the_fast_path_prints_what_the_full_cli_prints(args: list[str], course: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("format: 1\nid: x\nsteps: [\n", encoding="utf-8")
    names = {"course": str(course), "broken": str(broken), "missing": str(tmp_path / "nope.yaml")}
    args = [a.format(**names) for a in args]
    env = {**os.environ, "COLUMNS": "80"}
    first_fast, first_full = _both(args, env, tmp_path)  # the first call creates the workspace
    fast, full = _both(args, env, tmp_path)
    for a, b in ((first_fast, first_full), (fast, full)):
        assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)
    if "{broken}" in " ".join(args) or "{missing}" in " ".join(args):
        assert fast.returncode == 2 and fast.stderr.startswith("error:")


def test_the_course_from_the_environment_is_used_but_not_repeated_in_commands(
    course: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "COLUMNS": "80", "DL7_CURRICULUM": str(course)}
    fast, full = _both(["next"], env, tmp_path)
    assert (fast.returncode, fast.stdout) == (full.returncode, full.stdout)
    assert "--curriculum" not in fast.stdout


def test_the_fast_path_does_not_import_typer(isolated: Path) -> None:
    probe = (
        "import sys\n"
        "sys.argv = ['dl7', 'status']\n"
        "import dl7\n"
        "dl7.main()\n"
        "print('LOADED', [m for m in ('typer', 'click', 'dl7.cli', 'dl7.cli_types') if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "LOADED []" in done.stdout


@pytest.mark.parametrize("args", [["status"], ["status", "--json"], ["next"], ["show", "step1"]])
def test_a_reader_that_stops_early_is_no_error(args: list[str], isolated: Path) -> None:
    """`dl7 status | head -1`: exit 141 (128 + SIGPIPE) quietly, not "error: cannot use: Broken pipe"."""
    subprocess.run([sys.executable, "-m", "dl7", "next"], capture_output=True, check=True)  # workspace
    child = subprocess.Popen(
        [sys.executable, "-m", "dl7", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # long before the child has started up and written anything
    stderr = child.stderr.read()
    assert child.wait(timeout=60) == 141
    assert stderr == ""
