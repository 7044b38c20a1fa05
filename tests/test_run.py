"""`dl7 run` end to end on the fixture course, through the real CLI and a real kernel."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dl7.cli import app
from tests.conftest import snapshot

pytestmark = pytest.mark.kernel
runner = CliRunner()


def dl7(course: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--curriculum", str(course), *args])
    return result.exit_code, result.output


def run_json(course: Path, step: str) -> tuple[int, dict[str, str]]:
    code, output = dl7(course, "run", step, "--json")
    data = json.loads(output)
    return code, {e["id"]: e for nb in data["notebooks"] for e in nb["exercises"]}


def edit_cell(home: Path, index: int, source: str) -> None:
    path = home / "notebooks" / "basics.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][index]["source"] = source
    path.write_text(json.dumps(nb))


def test_unsolved_is_not_attempted(course: Path, isolated: Path) -> None:
    code, results = run_json(course, "step1")
    assert code == 1
    assert {k: v["status"] for k, v in results.items()} == {
        "step1.double": "not_attempted",
        "step1.greet": "not_attempted",
    }


def test_solved_passes_and_completes_the_step(course: Path, isolated: Path) -> None:
    dl7(course, "next")
    shutil.copy(course / "notebooks" / "basics.ipynb", isolated / "notebooks" / "basics.ipynb")
    before = (isolated / "notebooks" / "basics.ipynb").read_bytes()
    code, output = dl7(course, "run", "1")
    assert code == 0, output
    assert "✔ passed" in output and "greets politely" in output and "All 2 exercises of step1 pass" in output
    assert (isolated / "notebooks" / "basics.ipynb").read_bytes() == before, "the learner's file is untouched"
    runs = list((isolated / ".dl7" / "runs" / "step1").glob("basics.*.ipynb"))
    assert len(runs) == 1 and json.loads(runs[0].read_text())["cells"][3]["outputs"]
    status = json.loads(dl7(course, "status", "--json")[1])
    assert status["steps"][0]["complete"] is True
    assert status["steps"][0]["exercises"] == [
        {"id": "step1.double", "status": "passed"},
        {"id": "step1.greet", "status": "passed"},
    ]
    assert status["current"] == "step2"


def test_wrong_answer_fails_with_the_checkers_message(course: Path, isolated: Path) -> None:
    dl7(course, "next")
    edit_cell(isolated, 2, "def double(x):\n    return x + 1")
    code, results = run_json(course, "step1")
    assert code == 1
    assert results["step1.double"]["status"] == "failed"
    assert results["step1.double"]["message"] == "double(0) returned 1; expected 0"


def test_learner_exception_is_an_error_with_its_line(course: Path, isolated: Path) -> None:
    dl7(course, "next")
    edit_cell(isolated, 2, "def double(x):\n    y = 2\n    return x * undefined_name")
    _, results = run_json(course, "step1")
    message = results["step1.double"]["message"]
    assert results["step1.double"]["status"] == "error"
    assert "NameError" in message and "line 3" in message and "in double" in message


def test_a_failed_cell_makes_later_dependent_exercises_not_reached(course: Path, isolated: Path) -> None:
    dl7(course, "next")
    edit_cell(isolated, 2, "raise ValueError('boom')")
    edit_cell(isolated, 4, "greet = double")
    _, results = run_json(course, "step1")
    assert results["step1.double"]["status"] == "error"
    assert "ValueError: boom (cell 3, line 1)" in results["step1.double"]["message"]
    assert results["step1.greet"]["status"] == "not_reached"
    assert "an earlier cell failed: ValueError: boom (cell 3" in results["step1.greet"]["message"]


def test_cell_timeout_stops_the_run(course: Path, isolated: Path) -> None:
    code, results = run_json(course, "step2")
    assert code == 1
    assert results["step2.after"]["status"] == "not_reached"
    assert "limit of 2 s" in results["step2.after"]["message"]


def test_dead_kernel_is_an_outcome(course: Path, isolated: Path) -> None:
    dl7(course, "next")
    edit_cell(isolated, 4, "import os\nos._exit(1)")
    code, output = dl7(course, "run", "step1", "--json")
    data = json.loads(output)
    assert code == 1
    assert data["notebooks"][0]["outcome"] == "dead"
    statuses = {e["id"]: e["status"] for e in data["notebooks"][0]["exercises"]}
    assert statuses == {"step1.double": "not_attempted", "step1.greet": "not_reached"}


def test_unreadable_notebook_is_exit_2_and_changes_nothing(course: Path, isolated: Path) -> None:
    dl7(course, "next")
    (isolated / "notebooks" / "basics.ipynb").write_text("{ not json")
    before = snapshot(isolated)
    code, output = dl7(course, "run", "step1")
    assert code == 2
    assert "basics.ipynb:1:3: not a valid notebook" in output
    assert "Traceback" not in output
    assert snapshot(isolated) == before


def test_html_export(course: Path, isolated: Path) -> None:
    code, _ = dl7(course, "run", "step1", "--html")
    assert code == 1
    assert list((isolated / ".dl7" / "exports" / "step1").glob("*.html"))


def test_ctrl_c_stops_the_run_with_exit_130(course: Path, isolated: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    manifest = course / "curriculum.yaml"
    manifest.write_text(manifest.read_text().replace("cell_timeout: 2\n", "cell_timeout: 60\n"))
    env = {**os.environ, "DL7_CURRICULUM": str(course)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dl7", "run", "step2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    runs = isolated / ".dl7" / "runs" / "kernel.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "Kernel" not in (runs.read_text() if runs.exists() else ""):
        time.sleep(0.2)  # wait until the kernel is up and the slow cell is running
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, output
    assert "interrupted" in output
    assert "Traceback" not in output


def test_a_kernel_that_cannot_start_is_a_dl7_error(
    course: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dl7 import kernels

    monkeypatch.setattr(kernels, "KERNEL_MODULE", "no_such_kernel_module")
    code, output = dl7(course, "run", "step1")
    assert code == 2
    assert "error: could not start a Jupyter kernel" in output and "no_such_kernel_module" in output
    assert "pip install ipykernel" in output and "Traceback" not in output


def test_two_runs_at_once_both_land(course: Path, isolated: Path) -> None:
    import os
    import subprocess
    import sys

    dl7(course, "next")
    env = {**os.environ, "DL7_CURRICULUM": str(course)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dl7", "run", step, "--json"], env=env, stdout=subprocess.PIPE
        )
        for step in ("step1", "step3")
    ]
    for proc in procs:
        proc.communicate(timeout=120)
        assert proc.returncode == 1
    status = json.loads(dl7(course, "status", "--json")[1])
    last_runs = {s["id"]: s["last_run"] for s in status["steps"]}
    assert last_runs["step1"] and last_runs["step3"], "both attempts were recorded"


def test_overlapping_runs_restore_the_jupyter_loggers() -> None:
    """Validate runs notebooks in threads: the loggers are quiet while any run is on, and
    exactly as before once the last one ends, whatever order they end in."""
    import logging

    from dl7.execute import _quiet_jupyter_logs

    logger = logging.getLogger("jupyter_client")
    logger.setLevel(logging.WARNING)
    first = _quiet_jupyter_logs()
    second = _quiet_jupyter_logs()
    first()
    assert logger.level == logging.CRITICAL, "still quiet while the second run is on"
    second()
    assert logger.level == logging.WARNING
    logger.setLevel(logging.NOTSET)


def add_cell(home: Path, source: str, tags: tuple[str, ...] = ()) -> None:
    path = home / "notebooks" / "basics.ipynb"
    nb = json.loads(path.read_text())
    cell = {
        "cell_type": "code",
        "id": "extra",
        "source": source,
        "metadata": {"tags": list(tags)},
        "outputs": [],
    }
    nb["cells"].append({**cell, "execution_count": None})
    path.write_text(json.dumps(nb))


def test_a_cell_raising_after_the_checks_fails_the_run(course: Path, isolated: Path) -> None:
    dl7(course, "next")
    shutil.copy(course / "notebooks" / "basics.ipynb", isolated / "notebooks" / "basics.ipynb")
    add_cell(isolated, "x = 1\nraise ValueError('the plot needs two lists')")
    code, output = dl7(course, "run", "step1")
    assert code == 1, output
    assert "ValueError: the plot needs two lists (cell 7, line 2)" in output
    assert "All 2 exercises of step1 pass" not in output
    status = json.loads(dl7(course, "status", "--json")[1])
    assert status["steps"][0]["complete"] is False and status["current"] == "step1"
    data = json.loads(dl7(course, "run", "step1", "--json")[1])
    assert data["passed"] is False
    assert data["notebooks"][0]["cell_errors"] == [
        {"cell": 7, "error": "ValueError", "message": "the plot needs two lists", "line": 2}
    ]


def test_cells_failing_after_an_unfinished_exercise_are_named_as_its_consequence(
    course: Path, isolated: Path
) -> None:
    dl7(course, "next")  # the learner's copy: its exercises still raise NotImplementedError
    add_cell(isolated, "x = 1\nraise NameError('model')")
    code, output = dl7(course, "run", "step1")
    assert code == 1, output
    assert "probably because an exercise above is not done yet" in output, output
    assert "NameError: model (cell 7, line 2)" in output
    assert "! a cell raised an error" not in output


def test_a_cell_tagged_raises_exception_may_raise(course: Path, isolated: Path) -> None:
    dl7(course, "next")
    shutil.copy(course / "notebooks" / "basics.ipynb", isolated / "notebooks" / "basics.ipynb")
    add_cell(isolated, "1 / 0", tags=("raises-exception",))
    code, output = dl7(course, "run", "step1")
    assert code == 0, output
    assert json.loads(dl7(course, "status", "--json")[1])["steps"][0]["complete"] is True


def test_a_broken_checker_module_is_the_courses_fault_exit_2(course: Path, isolated: Path) -> None:
    checks = course / "checks.py"
    lines = checks.read_text().splitlines()
    broken = lines.index("def check_greet(greet):")
    lines[broken] = "def check_greet(greet)"  # the colon is missing
    checks.write_text("\n".join(lines) + "\n")
    dl7(course, "next")
    shutil.copy(course / "notebooks" / "basics.ipynb", isolated / "notebooks" / "basics.ipynb")
    result = runner.invoke(app, ["--curriculum", str(course), "run", "step1", "--json"])
    code, output = result.exit_code, result.output
    assert code == 2, output
    data = json.loads(result.stdout)
    for exercise in data["notebooks"][0]["exercises"]:
        assert exercise["status"] == "course_error", exercise
        assert f"{checks.resolve()}:{broken + 1}" in exercise["message"]
        assert "not your code" in exercise["message"]
    assert "the course is at fault here, not your code" in output
    assert data["notebooks"][0]["cell_errors"] == [], "the learner's cells did not fail"


def kernels_in(folder: Path) -> list[int]:
    """Kernel processes (ipykernel) still running with their cwd inside ``folder``."""
    import os

    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            continue
        if b"ipykernel_launcher" in args and cwd.is_relative_to(folder):
            found.append(int(pid))
    return found


def interrupt(
    args: list[str], course: Path, ready: Callable[[int], bool], delay: float
) -> tuple[int, str, float]:
    """Start `dl7 ARGS`, wait until ``ready(pid)``, then ``delay`` s more, and press Ctrl-C.
    The exit code, the output, and the seconds from Ctrl-C to exit."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "DL7_CURRICULUM": str(course)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dl7", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not ready(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    pressed = time.monotonic()
    output, _ = proc.communicate(timeout=120)
    return proc.returncode, output, time.monotonic() - pressed


def open_files(pid: int) -> list[str]:
    """Where the process's file descriptors point (an empty list once it is gone)."""
    import os

    links = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                pass
    except OSError:
        pass
    return links


@pytest.mark.parametrize("moment", ["starting", "kernel starting", "kernel up"])
def test_ctrl_c_at_any_moment_of_run_is_exit_130_one_line_and_no_kernel(
    course: Path, isolated: Path, moment: str
) -> None:
    dl7(course, "next")
    log = isolated / ".dl7" / "runs" / "kernel.log"

    def ready(pid: int) -> bool:
        if moment == "starting":  # dl7 itself is running (its progress file is open), no kernel yet
            return any("progress.sqlite" in link for link in open_files(pid))
        text = log.read_text() if log.exists() else ""
        return "---" in text and (moment == "kernel starting" or "Kernel" in text)

    code, output, _ = interrupt(["run", "step1"], course, ready, 0.0)
    assert code == 130, output
    assert "Traceback" not in output and "CancelledError" not in output, output
    assert [line for line in output.splitlines() if "interrupted" in line], output
    assert not kernels_in(isolated), "no kernel outlives the run"


def test_ctrl_c_during_validate_is_exit_130_one_line_and_no_kernel(course: Path, isolated: Path) -> None:
    manifest = course / "curriculum.yaml"  # step 2's notebooks now sleep 30 s each, solved and not
    manifest.write_text(manifest.read_text().replace("cell_timeout: 2\n", "cell_timeout: 60\n"))
    from dl7.locations import validate_kernel_log

    log = validate_kernel_log(course)

    def slow_running(pid: int) -> bool:
        return "slow.ipynb" in (log.read_text() if log.exists() else "") and bool(kernels_in(course))

    code, output, seconds = interrupt(["validate", "--no-cache", "--jobs", "2"], course, slow_running, 1.0)
    assert code == 130, output
    assert "Traceback" not in output, output
    assert output.strip().splitlines()[-1].endswith("interrupted"), output
    assert not kernels_in(course), "no kernel outlives validation"
    assert seconds < 20, "it stops at once, without running the notebooks still queued"


def declare_kernel_env(course: Path) -> None:
    manifest = course / "curriculum.yaml"
    block = 'kernel:\n  env:\n    COURSE_GREETING: "bonjour"\n'
    manifest.write_text(manifest.read_text().replace("steps:\n", block + "steps:\n", 1))


@pytest.mark.parametrize("last", ["print('done')", "import time\ntime.sleep(120)", "os._exit(1)"])
def test_run_gives_the_kernel_the_courses_env_and_leaves_none_of_its_processes(
    course: Path, isolated: Path, last: str
) -> None:
    from tests.processes import CHILD_CELL, kill_if_alive, wait_for_file, wait_gone

    declare_kernel_env(course)
    manifest = course / "curriculum.yaml"  # basics' 30 s cell limit: 3 s for the sleeping cell
    manifest.write_text(manifest.read_text().replace("cell_timeout: 30\n", "cell_timeout: 3\n", 1))
    dl7(course, "next")
    add_cell(isolated, CHILD_CELL + "print(os.environ.get('COURSE_GREETING'))\n" + last)
    child = None
    try:
        code, output = dl7(course, "run", "step1", "--json")
        assert code == 1, output
        child = int(wait_for_file(isolated / "notebooks" / "child.pid"))
        assert wait_gone(child), "a process the kernel started outlived `dl7 run`"
        outcome = json.loads(output)["notebooks"][0]["outcome"]
        assert outcome == {"print('done')": "completed", "os._exit(1)": "dead"}.get(last, "timeout")
        if outcome != "dead":  # a kernel that dies at once may take its last outputs with it
            executed = sorted((isolated / ".dl7" / "runs" / "step1").glob("*.ipynb"))[-1]
            outputs = json.loads(executed.read_text())["cells"][-1]["outputs"]
            assert outputs[0]["text"].startswith("bonjour"), "the course's env reached the kernel"
    finally:
        kill_if_alive(child)


def test_ctrl_c_during_run_leaves_none_of_the_kernels_processes(course: Path, isolated: Path) -> None:
    from tests.processes import CHILD_CELL, kill_if_alive, wait_gone

    dl7(course, "next")
    add_cell(isolated, CHILD_CELL + "import time\ntime.sleep(120)")
    pid_file = isolated / "notebooks" / "child.pid"
    child = None
    try:
        code, output, _ = interrupt(["run", "step1"], course, lambda pid: pid_file.exists(), 0.2)
        assert code == 130, output
        child = int(pid_file.read_text())
        assert wait_gone(child), "a process the kernel started outlived Ctrl-C"
        assert not kernels_in(isolated), "no kernel outlives the run"
    finally:
        kill_if_alive(child)


def test_one_notebook_of_a_longer_step_does_not_call_the_step_done(isolated: Path) -> None:
    """The real course's step 2 has three notebooks; solving and running one of them says so."""
    from dl7.authoring import solved_version
    from dl7.curriculum import load

    course = load(None)
    runner.invoke(app, ["next"])  # makes the workspace
    source = course.source_path(course.step("step2").notebooks[0])
    solved = solved_version(json.loads(source.read_text(encoding="utf-8")))
    (isolated / "notebooks" / "step2" / source.name).write_text(json.dumps(solved), encoding="utf-8")
    result = runner.invoke(app, ["run", "step2", source.name])
    assert result.exit_code == 0, result.output
    assert f"exercises of {source.name} pass" in result.output
    assert "what is left of step2" in result.output
    assert "exercises of step2 pass" not in result.output


# -- issue 22: every verdict is the newest truth -------------------------------------------------


def basics_limits(course: Path, cell_timeout: int, budget: int) -> None:
    manifest = course / "curriculum.yaml"
    text = manifest.read_text().replace("cell_timeout: 30\n", f"cell_timeout: {cell_timeout}\n", 1)
    manifest.write_text(text.replace("budget: 60\n", f"budget: {budget}\n", 1))


def insert_cell(home: Path, at: int, source: str) -> None:
    path = home / "notebooks" / "basics.ipynb"
    nb = json.loads(path.read_text())
    cell = {"cell_type": "code", "id": f"inserted-{at}", "source": source, "metadata": {}, "outputs": []}
    nb["cells"].insert(at, {**cell, "execution_count": None})
    path.write_text(json.dumps(nb))


def wait_cell(started: Path, go: Path) -> str:
    """A cell that says it is running (a file), then waits for the file ``go`` (at most 300 s)."""
    return (
        "import os, time\n"
        f"open({str(started)!r}, 'w').close()\n"
        "deadline = time.monotonic() + 300\n"
        f"while not os.path.exists({str(go)!r}) and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
    )


@pytest.mark.parametrize("last", ["import time\ntime.sleep(120)", "import os\nos._exit(1)"])
def test_a_cell_that_times_out_or_kills_the_kernel_after_the_checks_is_no_pass(
    course: Path, isolated: Path, last: str
) -> None:
    basics_limits(course, 8, 60)  # the sleeping cell stops at 8 s; the others take far less
    dl7(course, "next")
    shutil.copy(course / "notebooks" / "basics.ipynb", isolated / "notebooks" / "basics.ipynb")
    add_cell(isolated, last)
    code, output = dl7(course, "run", "step1", "--json")
    assert code == 1 and output.startswith("{"), output
    data = json.loads(output)
    assert data["passed"] is False
    assert [e["status"] for e in data["notebooks"][0]["exercises"]] == ["passed", "passed"]
    assert [e["cell"] for e in data["notebooks"][0]["cell_errors"]] == [7]
    status = json.loads(dl7(course, "status", "--json")[1])
    assert status["steps"][0]["complete"] is False and status["current"] == "step1"


def test_ctrl_c_after_the_step_passed_leaves_it_passed(course: Path, isolated: Path) -> None:
    basics_limits(course, 300, 600)
    dl7(course, "next")
    shutil.copy(course / "notebooks" / "basics.ipynb", isolated / "notebooks" / "basics.ipynb")
    assert dl7(course, "run", "step1")[0] == 0
    started = isolated / "waiting"
    insert_cell(isolated, 4, wait_cell(started, isolated / "never"))  # after double's check, before greet
    code, output, _ = interrupt(["run", "step1"], course, lambda pid: started.exists(), 0.0)
    assert code == 130, output
    status = json.loads(dl7(course, "status", "--json")[1])
    assert status["steps"][0]["exercises"] == [
        {"id": "step1.double", "status": "passed"},
        {"id": "step1.greet", "status": "passed"},
    ], "what the interrupted run never reached keeps its verdict"
    assert status["steps"][0]["complete"] is True
    from dl7.progress import Progress

    with Progress(isolated / ".dl7" / "progress.sqlite", "fixture") as progress:
        assert progress.attempt_count("step1") == 2, "the interrupted run is recorded (what it saw)"


def test_the_run_of_the_newer_save_wins_over_a_slower_run_of_an_older_one(
    course: Path, isolated: Path
) -> None:
    """`dl7 run` in two terminals (or watch and run): the older save's run starts first and
    finishes last, held by a cell that waits for a file."""
    import os
    import subprocess
    import sys

    from dl7.progress import Progress
    from dl7.watch import code_digest
    from tests.processes import wait_for_file

    basics_limits(course, 300, 600)
    dl7(course, "next")
    learner = isolated / "notebooks" / "basics.ipynb"
    edit_cell(isolated, 2, "def double(x):\n    return x + 1")  # the older save: wrong
    started, go = isolated / "slow-started", isolated / "go"
    insert_cell(isolated, 4, wait_cell(started, go))
    older = json.loads(learner.read_text())
    env = {**os.environ, "DL7_CURRICULUM": str(course)}
    slow = subprocess.Popen(
        [sys.executable, "-m", "dl7", "run", "step1", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_file(started, timeout=120)
        shutil.copy(course / "notebooks" / "basics.ipynb", learner)  # the newer save: right
        newer = json.loads(learner.read_text())
        fast = subprocess.run(
            [sys.executable, "-m", "dl7", "run", "step1", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert fast.returncode == 0, fast.stdout + fast.stderr
        go.touch()
        output, _ = slow.communicate(timeout=300)
    finally:
        go.touch()
        if slow.poll() is None:
            slow.kill()
            slow.wait()
    assert slow.returncode == 1, output
    assert {e["status"] for e in json.loads(output)["notebooks"][0]["exercises"]} != {"passed"}
    with Progress(isolated / ".dl7" / "progress.sqlite", "fixture") as progress:
        recorded = [row[0] for row in progress.db.execute("SELECT code_digest FROM attempts ORDER BY id")]
        assert recorded == [code_digest(newer), code_digest(older)], "the older save's run finished last"
        assert progress.last_attempts()["step1"].code_digest == code_digest(newer)
    status = json.loads(dl7(course, "status", "--json")[1])
    assert status["steps"][0]["complete"] is True, "the newer save's verdict stands"


# -- `run --html` says where, and the export outlives the pruning of executed copies (issue 26) --


def test_run_html_prints_its_path_and_keeps_it_past_pruning(course: Path, isolated: Path) -> None:
    from dl7.runner import KEEP_RUNS

    code, output = dl7(course, "run", "step1.double", "--html")  # an exercise: the notebook it is in
    export = isolated / ".dl7" / "exports" / "step1" / "basics.html"
    assert code == 1 and f"HTML export: {export}" in output, output
    assert "<html" in export.read_text()[:2000].lower()
    first_copy = next((isolated / ".dl7" / "runs" / "step1").glob("basics.*.ipynb"))
    for _ in range(KEEP_RUNS):
        assert dl7(course, "run", "step1")[0] == 1
    assert not first_copy.exists(), "its executed copy was pruned"
    assert export.is_file(), "the latest export is kept however many runs follow"
    code, output = dl7(course, "run", "1", "--json", "--html")
    assert code == 1 and "HTML export" not in output and json.loads(output)
