"""The CLI without kernels: next, status, hint, read, reset, list, show, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dl7 import __version__
from dl7.cli import app
from tests.conftest import snapshot
from tests.test_solution import record
from tests.test_yamldoc import billion_laughs

runner = CliRunner()


def dl7(course: Path | None, *args: str) -> tuple[int, str]:
    prefix = ["--curriculum", str(course)] if course else []
    result = runner.invoke(app, [*prefix, *args])
    return result.exit_code, result.output


def test_next_creates_the_workspace_and_shows_step_one(isolated: Path) -> None:
    code, output = dl7(None, "next")
    assert code == 0
    assert "Created your workspace" in output and str(isolated) in output
    assert "step1 — Introducing Deep Learning" in output
    assert "Michael Nielsen" in output and "neuralnetworksanddeeplearning.com/chap1.html" in output
    assert "dl7 run step1" in output and "$ dl7 open" in output and "$ dl7 watch" in output
    assert (isolated / ".dl7" / "progress.sqlite").is_file()
    assert list((isolated / "notebooks" / "step1").glob("*.ipynb"))


def test_status_json_shape(isolated: Path) -> None:
    code, output = dl7(None, "status", "--json")
    data = json.loads(output)
    assert code == 0
    assert data["workspace"] == str(isolated)
    assert [s["id"] for s in data["steps"]] == [f"step{n}" for n in range(1, 9)]
    first = data["steps"][0]
    assert set(first) >= {"id", "title", "complete", "exercises", "readings"}
    assert all(e["status"] == "not_run" for e in first["exercises"])
    assert first["readings"] == {"done": 0, "total": 3}


def test_read_marks_and_unmarks(course: Path) -> None:
    assert dl7(course, "read", "step1", "2")[0] == 0
    data = json.loads(dl7(course, "read", "step1", "--json")[1])
    assert [r["done"] for r in data["readings"]] == [False, True]
    assert dl7(course, "read", "step1", "r-two", "--undo")[0] == 0
    data = json.loads(dl7(course, "read", "1", "--json")[1])
    assert [r["done"] for r in data["readings"]] == [False, False]
    code, output = dl7(course, "read", "step1", "7")
    assert code == 2 and "no reading '7'" in output


def test_hints_are_progressive(course: Path) -> None:
    first = dl7(course, "hint", "step1")[1]
    assert "Hint 1 of 2: Multiply by two." in first and "Hint 2" not in first
    second = dl7(course, "hint", "step1", "double")[1]
    assert "Hint 2 of 2" in second and "last hint" in second
    assert "Hint 1 of 1" in dl7(course, "hint", "1", "step1.greet")[1]
    code, output = dl7(course, "hint", "step1", "nope")
    assert code == 2 and "no exercise 'nope'" in output


def test_reset_backs_up_the_learners_work(course: Path, isolated: Path) -> None:
    dl7(course, "next")  # makes the workspace
    mine = isolated / "notebooks" / "basics.ipynb"
    mine.write_text('{"cells": [], "mine": true}')
    code, output = dl7(course, "reset", "step1", "basics")
    assert code == 0 and "previous version is kept" in output
    backups = list((isolated / "backups").rglob("basics.*.ipynb"))
    assert len(backups) == 1 and '"mine": true' in backups[0].read_text()
    assert "NotImplementedError" in mine.read_text()


def test_list_and_show(course: Path) -> None:
    code, output = dl7(course, "list")
    assert code == 0 and "Basics" in output and "Slow" in output
    data = json.loads(dl7(course, "list", "--json")[1])
    assert data["steps"][0]["notebooks"][0]["exercises"][0] == {
        "id": "step1.double",
        "title": "Double a number",
        "reading": "r-one",
        "hints": 2,
    }
    code, output = dl7(course, "show", "2")
    assert code == 0 and "step2 — Slow" in output and "2 s a cell" in output


def test_unknown_step_is_exit_2_with_hint(course: Path, isolated: Path) -> None:
    for command in ("run", "show", "hint", "read", "reset"):
        code, output = dl7(course, command, "step9")
        assert code == 2, command
        assert "error: unknown step 'step9'" in output and "steps in this course: step1, step2" in output
        assert not isolated.exists(), "an unknown step fails before the workspace is created"


def test_malformed_manifest_is_exit_2_and_touches_nothing(course: Path, isolated: Path) -> None:
    dl7(course, "status")
    before = snapshot(isolated)
    manifest = course / "curriculum.yaml"
    manifest.write_text(
        manifest.read_text().replace("    title: Basics\n", "    title: Basics\n    colour: x\n")
    )
    for command in (["status"], ["next"], ["run", "step1"], ["reset", "step1"]):
        code, output = dl7(course, *command)
        assert code == 2, command
        assert f"{manifest}:11: steps[0].colour: unknown key" in output
        assert "Traceback" not in output
    assert snapshot(isolated) == before


def test_version_and_help() -> None:
    assert "dl7 0." in dl7(None, "--version")[1]
    code, output = dl7(None, "--help")
    assert code == 0
    for command in ("next", "run", "status", "hint", "read", "reset", "list", "show"):
        assert command in output
    assert "save it in Jupyter first" in dl7(None, "run", "--help")[1]


def test_next_and_status_import_no_heavy_modules(isolated: Path) -> None:
    probe = (
        "import sys\n"
        "from dl7.cli import app\n"
        "for argv in (['next'], ['status'], ['status', '--json']):\n"
        "    try:\n"
        "        app(argv)\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, e.code\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'nbclient', 'nbconvert', 'jupyter_client', 'sklearn',"
        " 'numpy', 'matplotlib', 'nbformat', 'jsonschema', 'rich.progress', 'dl7.runner', 'dl7.cli_data',"
        " 'dl7.cli_validate', 'dl7.validate') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_python_dash_m(isolated: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "dl7", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and "dl7" in done.stdout


def test_corrupt_progress_file_is_moved_aside_and_reported(course: Path, isolated: Path) -> None:
    dl7(course, "next")  # makes the workspace
    db = isolated / ".dl7" / "progress.sqlite"
    for side in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        side.unlink(missing_ok=True)
    db.write_bytes(b"garbage" * 1000)
    code, output = dl7(course, "status")
    assert code == 0
    assert "the progress file was corrupt; it was moved to" in output
    moved = list(db.parent.glob("progress.sqlite.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes().startswith(b"garbage")


BROKEN_MANIFESTS = {
    "unknown key": (
        "    title: Basics\n",
        "    title: Basics\n    colour: x\n",
        ":11: steps[0].colour: unknown key",
    ),
    "alias bomb": (
        "title: Fixture course\n",
        "title: Fixture course\n" + billion_laughs(),
        ":5: &a: YAML anchors",
    ),
    "no exercises": (
        "        exercises:\n          - id: step3.triple\n            title: Triple a number\n"
        "            hints:\n              - Multiply by three.\n",
        "        exercises: []\n",
        ":64: steps[2].notebooks[0].exercises: a notebook needs at least one exercise",
    ),
}
EVERY_COMMAND = (
    ["next"],
    ["status"],
    ["status", "--json"],
    ["list"],
    ["show", "1"],
    ["run", "step1"],
    ["hint", "step1"],
    ["read", "step1"],
    ["reset", "step1"],
    ["validate"],
    ["validate", "step1", "--json"],
)


@pytest.mark.parametrize("kind", BROKEN_MANIFESTS)
def test_a_broken_manifest_is_exit_2_from_every_command(course: Path, isolated: Path, kind: str) -> None:
    # Before: `dl7 validate` said exit 1 (as if a notebook failed); the alias bomb ran for minutes.
    old, new, where = BROKEN_MANIFESTS[kind]
    manifest = course / "curriculum.yaml"
    text = manifest.read_text()
    assert old in text
    manifest.write_text(text.replace(old, new, 1))
    for command in EVERY_COMMAND:
        started = time.perf_counter()
        code, output = dl7(course, *command)
        assert code == 2, (command, output)
        assert f"{manifest}{where}" in output, (command, output)
        assert "Traceback" not in output and len(output.strip().splitlines()) <= 2, output
        assert time.perf_counter() - started < 5, command
    assert not isolated.exists()


def test_the_parsed_manifest_is_cached_and_never_stale(
    course: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dl7 import curriculum

    dl7(course, "next")  # creates the workspace (status only reads: it makes none)
    dl7(course, "status")  # parses, and caches the result in it
    cache = isolated / ".dl7" / "manifest-cache.json"
    assert cache.is_file()
    real_load = curriculum.load

    def must_not_parse(*args: object) -> None:
        raise AssertionError("parsed the manifest again")

    monkeypatch.setattr(curriculum, "load", must_not_parse)
    code, output = dl7(course, "status", "--json")
    assert code == 0 and json.loads(output)["steps"][0]["id"] == "step1"
    monkeypatch.setattr(curriculum, "load", real_load)

    manifest = course / "curriculum.yaml"
    manifest.write_text(manifest.read_text().replace("title: Fixture course", "title: Renamed course"))
    assert "Renamed course" in dl7(course, "status")[1], "a changed manifest is parsed again"

    checks = course / "checks.py"  # registrations are read from the checkers: a change counts too
    checks.write_text(checks.read_text().replace('@checker("step1.greet")', '@checker("step1.other")'))
    code, output = dl7(course, "status")
    assert code == 2 and "step1.greet" in output

    checks.write_text(checks.read_text().replace('@checker("step1.other")', '@checker("step1.greet")'))
    head = json.dumps({"format": 1, "dl7": __version__})[:-1]  # this version's header, then a cut-off entry
    cache.write_text(head + ', "entries": {"' + str(manifest) + '": {"deps": [[')
    code, output = dl7(course, "status")
    assert code == 0 and "Renamed course" in output, "a corrupt cache is only a miss"
    entries = json.loads(cache.read_text())["entries"]
    entries[str(manifest)]["curriculum"] = {"__dc__": "Popen", "fields": {"args": ["touch", "pwned"]}}
    cache.write_text(json.dumps({"format": 1, "dl7": __version__, "entries": entries}))
    code, output = dl7(course, "status")
    assert code == 0 and "Renamed course" in output, "a foreign entry builds nothing but the manifest"


def test_a_cached_manifest_loads_without_pyyaml(course: Path, isolated: Path) -> None:
    for _ in range(2):
        dl7(course, "next")
    probe = (
        "import sys\n"
        "from dl7.cli import app\n"
        f"for argv in (['-c', {str(course)!r}, 'next'], ['-c', {str(course)!r}, 'status']):\n"
        "    try:\n"
        "        app(argv)\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, e.code\n"
        "lazy = ('yaml', 'rich.progress', 'dl7.runner', 'dl7.results')\n"
        "print('LOADED', [m for m in lazy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "LOADED []" in out


def test_the_run_path_skips_jsonschemas_format_checkers() -> None:
    """nbformat needs jsonschema, whose format checkers would build an IRI grammar (seconds) and
    import arrow: the run and validate paths import neither, and nothing else is affected."""
    probe = (
        "import sys\n"
        "import dl7.execute, dl7.validate.static\n"
        "from dl7.notebook_format import nbformat\n"
        "skipped = ('rfc3987_syntax', 'lark', 'isoduration', 'arrow', 'webcolors')\n"
        "loaded = [m for m in skipped if m in sys.modules]\n"
        "print('LOADED', loaded)\n"
        "nbformat.validate(nbformat.v4.new_notebook())\n"
        "import rfc3987_syntax\n"
        "print('LATER', rfc3987_syntax.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "LOADED []" in out and "LATER rfc3987_syntax" in out


# -- an 80-column terminal, progress bars, a teacher's course (issue 12) -----------------------


def dl7_at(columns: int, *args: str) -> str:
    """dl7 in a subprocess whose terminal is ``columns`` wide, as a learner runs it."""
    import os

    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"}
    done = subprocess.run(
        [sys.executable, "-m", "dl7", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_view_reads_well_at_80_columns(isolated: Path) -> None:
    from dl7.curriculum import load

    step1 = load().step("step1")
    for args in (["next"], ["show", "step1"], ["read", "step1"]):
        output = dl7_at(80, *args)
        for r in step1.readings:
            assert any(line.strip() == r.url for line in output.splitlines()), (args, r.url)  # whole
        assert "…" not in output, (args, output)  # nothing cut short
        for line in output.splitlines():
            assert len(line.rstrip()) <= 80 or line.strip().startswith(("http", "$ ", "/")), (args, line)
    status = dl7_at(80, "status")
    for step in load().steps:
        row = next(line for line in status.splitlines() if line.startswith(f"{step.id} "))
        assert f" 0/{len(step.exercises)}" in row and "never" in row, row
    assert "…" not in status and "◀ now" in status
    assert all(len(line.rstrip()) <= 80 for line in status.splitlines() if not line.startswith("times in"))


def test_next_reflows_the_summary_and_uses_the_width_it_has(isolated: Path) -> None:
    from dl7.curriculum import load
    from dl7.views import reflow

    summary = load().step("step1").summary
    assert "\n" in summary.strip(), "the manifest hard-wraps it"
    wide = dl7_at(120, "next")
    assert reflow(summary).split(". ")[0] in wide.replace("│", "").replace("\n", " ").replace("  ", " ")
    assert max(len(line) for line in wide.splitlines()) > 80, "a wider terminal is used"
    assert reflow("one\ntwo\n\n- a\n- b\n  more") == "one two\n\n- a\n- b more"


def test_status_shows_bars_and_the_current_steps_unfinished_exercises(course: Path, isolated: Path) -> None:
    from dl7.progress import Progress

    dl7(course, "status")
    with Progress(isolated / ".dl7" / "progress.sqlite", "fixture") as progress:
        progress.record_attempt(
            "step1",
            "notebooks/basics.ipynb",
            "2026-03-04T05:06:07",
            1.0,
            "completed",
            None,
            [("step1.double", "passed", "", 0.1), ("step1.greet", "failed", "nope", 0.1)],
        )
    code, output = dl7(course, "status")
    assert code == 0
    row = next(line for line in output.splitlines() if line.startswith("step1 "))
    assert "━━━━━─────  1/2" in row and "03-04 05:06" in row and "◀ now" in row
    assert "──────────  0/1" in next(line for line in output.splitlines() if line.startswith("step2 "))
    todo = output.split("Still to do in step1 (1 of 2):")[1]
    assert "greet" in todo and "Greet someone" in todo and "double" not in todo


def test_a_teachers_course_prints_commands_that_work(course: Path, isolated: Path) -> None:
    code, output = dl7(course, "next")
    assert code == 0
    assert f"dl7 --curriculum {course} run step1" in output
    assert f"dl7 --curriculum {course} hint step1" in output
    data = json.loads(dl7(course, "next", "--json")[1])
    assert data["next"]["commands"][0] == f"dl7 --curriculum {course} run step1"
    # The learner types a printed command without --curriculum: the workspace's course is used.
    code, output = dl7(None, "hint", "step1")
    assert code == 0 and "Multiply by two." in output
    code, output = dl7(None, "status", "--json")
    assert code == 0 and [s["id"] for s in json.loads(output)["steps"]] == ["step1", "step2", "step3"]


def test_curriculum_is_accepted_after_the_subcommand(course: Path, isolated: Path) -> None:
    for args in (
        ["status", "--json", "--curriculum", str(course)],
        ["status", f"--curriculum={course}", "--json"],
        ["status", "-c", str(course), "--json"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
        assert json.loads(result.output)["steps"][0]["exercises"][0]["id"] == "step1.double"
    result = runner.invoke(app, ["list", "--curriculum", str(course / "nope.yaml")])
    assert result.exit_code == 2 and "curriculum not found" in result.output


# -- one console, one guard, one course option for every command ---------------------------------

NBGRADER = Path(__file__).parent / "fixtures" / "nbgrader" / "source"


def _reader_gone(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    """``dl7 ARGS | head -1`` where the reader is gone before dl7 writes a byte: the pipe's read
    end is closed as soon as the child starts, so every write dl7 makes meets a closed pipe."""
    child = subprocess.Popen(
        [sys.executable, "-m", "dl7", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    stderr = child.stderr.read()
    return child.wait(timeout=120), stderr


def test_every_sub_app_ends_quietly_with_141_when_its_reader_stops(
    course: Path, isolated: Path, tmp_path: Path
) -> None:
    # Before: `dl7 data list | head -1` exited 1 (Rich's own console), which in dl7 means "not passing".
    c = ["--curriculum", str(course)]
    assert subprocess.run([sys.executable, "-m", "dl7", *c, "next"], capture_output=True).returncode == 0
    record(isolated, ("step1.double", "passed"))
    nb = course / "notebooks" / "basics.ipynb"  # an output left in: validate fails it statically, no kernel
    data = json.loads(nb.read_text(encoding="utf-8"))
    code_cell = next(cell for cell in data["cells"] if cell["cell_type"] == "code")
    code_cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["left over\n"]}]
    nb.write_text(json.dumps(data), encoding="utf-8")
    commands = {
        "data": ["data", "list"],
        "data --json": ["data", "list", "--json"],
        "import": ["import", "nbgrader", str(NBGRADER), str(tmp_path / "imported")],
        "learn": [*c, "solution", "step1", "double"],
        "validate": [*c, "validate", "step1"],
        "main": [*c, "list"],
        "main, course after the command": ["show", "step1", *c],
    }
    for name, args in commands.items():
        code, stderr = _reader_gone(args)
        # validate names its course on stderr before it writes to stdout; nothing else is said.
        said = [line for line in stderr.splitlines() if not line.startswith("validating Fixture course")]
        assert (code, said) == (141, []), name
    # The same commands with a reader, so the 141 above is the pipe's doing and nothing else's.
    assert subprocess.run([sys.executable, "-m", "dl7", "data", "list"], capture_output=True).returncode == 0
    done = subprocess.run(
        [sys.executable, "-m", "dl7", *c, "solution", "step1", "double"], capture_output=True
    )
    assert done.returncode == 0 and b"return 2 * x" in done.stdout
    done = subprocess.run([sys.executable, "-m", "dl7", *c, "validate", "step1"], capture_output=True)
    assert done.returncode == 1 and b"output" in done.stdout


def test_a_data_error_is_one_line_from_the_shared_guard() -> None:
    code, output = dl7(None, "data", "fetch", "no-such-set")
    assert code == 2 and "Traceback" not in output
    assert (
        output.startswith("error: unknown data set 'no-such-set'") and len(output.strip().splitlines()) <= 2
    )


def _every_command() -> dict[str, Any]:
    """Each command's callback as Typer registered it, sub-apps and lazy commands included."""
    import typer

    found: dict[str, Any] = {}

    def walk(group: Any, prefix: str) -> None:
        ctx = typer.Context(group)  # Typer vendors Click: reach it through Typer's own names
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            if hasattr(command, "list_commands"):
                walk(command, f"{prefix}{name} ")
            else:
                found[prefix + name] = command.callback

    walk(typer.main.get_command(app), "")
    return found


def test_every_command_runs_inside_the_one_guard() -> None:
    from dl7.cli_common import guard

    guarded = guard(lambda: None).__code__  # every guarded function runs this same wrapper
    commands = _every_command()
    assert {"next", "status", "validate", "data list", "data fetch", "import nbgrader", "doctor"} <= set(
        commands
    )
    unguarded = [
        name
        for name, callback in commands.items()
        if getattr(getattr(callback, "__wrapped__", None), "__code__", None) is not guarded
    ]
    assert unguarded == []


@pytest.mark.parametrize(
    ("args", "named", "moved"),
    [
        (
            ["validate", "--curriculum", "c.yaml", "step1"],
            ("c.yaml",),
            ["--curriculum", "c.yaml", "validate", "step1"],
        ),
        (["-c", "a", "next", "-c", "b"], ("a", "b"), ["-c", "a", "-c", "b", "next"]),
        (["run", "step1", "--curriculum=c.yaml"], ("c.yaml",), ["--curriculum=c.yaml", "run", "step1"]),
        (["open", "--", "--curriculum", "x"], (), ["open", "--", "--curriculum", "x"]),  # JupyterLab's own
        (["next", "--curriculum"], (), ["next", "--curriculum"]),  # no value: Click says so
        (["-cpath.yaml", "next"], (), ["-cpath.yaml", "next"]),
    ],
)
def test_the_course_option_is_read_in_one_place(
    args: list[str], named: tuple[str, ...], moved: list[str]
) -> None:
    from dl7.cli_common import hoist_course

    course = hoist_course(args)
    assert course.named == named and [*course.options, *course.rest] == moved


@pytest.mark.parametrize("args", [["--help"], ["validate", "--help"], ["data", "--help"], ["run", "--help"]])
def test_help_ends_quietly_with_141_when_its_reader_stops(args: list[str]) -> None:
    """Typer prints help through Rich consoles of its own, which exited 1 on a closed pipe."""
    code, stderr = _reader_gone(args)
    assert (code, stderr) == (141, "")


# -- one id, every form (issue 26) ----------------------------------------------------------------


def test_every_command_takes_an_exercise_as_the_verdicts_print_it(course: Path, isolated: Path) -> None:
    for form in (["step1.greet"], ["greet"], ["1", "greet"], ["step1", "step1.greet"], ["1.greet"]):
        code, output = dl7(course, "hint", *form)
        assert code == 0 and "step1.greet" in output and "Use an f-string." in output, (form, output)
    code, output = dl7(course, "show", "step3.triple")
    assert code == 0 and "step3 — More" in output
    data = json.loads(dl7(course, "read", "double", "--json")[1])
    assert data["step"] == "step1"
    for form in (["step1.greet"], ["greet"], ["1", "greet"]):
        code, output = dl7(course, "solution", *form)
        assert code == 1 and "step1.greet has not passed yet" in output, (form, output)
    record(isolated, ("step1.greet", "passed"))
    assert dl7(course, "solution", "greet")[0] == 0
    code, output = dl7(course, "solution", "step1")
    assert code == 2 and "name an exercise of step1" in output and "double, greet" in output
    mine = isolated / "notebooks" / "triple.ipynb"
    mine.write_text('{"cells": [], "mine": true}')
    code, output = dl7(course, "reset", "triple")
    assert code == 0 and "triple.ipynb" in output and "basics.ipynb" not in output, "its notebook only"
    assert list((isolated / "backups").rglob("triple.*.ipynb"))


def test_a_misspelt_id_is_one_line_naming_the_closest(course: Path, isolated: Path) -> None:
    for command in ("run", "show", "hint", "read", "reset", "solution", "watch", "open"):
        code, output = dl7(course, command, "step1.gret")
        assert code == 2, (command, output)
        error = [line for line in output.splitlines() if line.startswith("error:")]
        assert error == ["error: unknown exercise 'step1.gret'; did you mean step1.greet?"], output
        assert "Traceback" not in output
    code, output = dl7(course, "show", "gret")
    assert code == 2 and "error: unknown step or exercise 'gret'; did you mean step1.greet?" in output
    code, output = dl7(course, "hint", "step2", "greet")
    assert code == 2 and "step step2 has no exercise 'greet'" in output and "its exercises: after" in output


def test_the_real_command_takes_the_id_a_step4_notebook_prints(isolated: Path) -> None:
    import os

    env = {**os.environ, "TERM": "dumb"}
    for form in ("step4.tape_derivative", "tape_derivative"):
        done = subprocess.run(
            [sys.executable, "-m", "dl7", "hint", form], capture_output=True, text=True, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert "step4.tape_derivative" in done.stdout and "Hint 1 of" in done.stdout


def test_next_suggests_dl7_open_and_watch_within_80_columns(isolated: Path) -> None:
    output = dl7_at(80, "next")
    assert "jupyter lab" not in output, "it fails as root and needs the venv activated"
    lines = output.splitlines()
    opens = [line for line in lines if line.strip().startswith("$ dl7 open")]
    watches = [line for line in lines if line.strip().startswith("$ dl7 watch")]
    assert len(opens) == 1 and len(watches) == 1, output
    assert "01_perceptrons.ipynb" in opens[0], "it says which notebook `dl7 open` opens"
    assert all(len(line.rstrip()) <= 80 for line in (*opens, *watches)), output
