"""`dl7 watch`: runs the step, re-runs a notebook when its code is saved, a kernel waits ready."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dl7.watch import WarmKernel, code_digest, imports_of


def nb_with(*sources: str) -> dict[str, Any]:
    cells = [{"cell_type": "code", "source": s, "outputs": [], "metadata": {}} for s in sources]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_imports_of_finds_absolute_imports_in_order() -> None:
    nb = nb_with(
        "import numpy as np, os\nfrom keras import layers",
        "import matplotlib.pyplot as plt\nfrom . import mine\nfrom dl7 import check\nimport numpy",
        "# import nothing\nx = 'import not_a_module'",
    )
    assert imports_of(nb) == ("numpy", "os", "keras", "matplotlib.pyplot", "dl7")


def test_only_code_changes_count_not_outputs_or_markdown() -> None:
    before = nb_with("x = 1", "check('a.b', x)")
    ran = json.loads(json.dumps(before))
    ran["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1"}]
    ran["cells"][0]["execution_count"] = 3
    ran["cells"].append({"cell_type": "markdown", "source": "notes", "metadata": {}})
    assert code_digest(ran) == code_digest(before)
    edited = nb_with("x = 2", "check('a.b', x)")
    assert code_digest(edited) != code_digest(before)


@pytest.mark.kernel
def test_a_warm_kernel_has_the_imports_loaded_and_a_clean_namespace(tmp_path: Path) -> None:
    from dl7 import kernels
    from dl7.execute import execute

    (tmp_path / "mine.py").write_text("VALUE = 1\n")
    env = kernels.environment({"COURSE_GREETING": "bonjour"})
    warm = WarmKernel(tmp_path, env, ("json", "mine", "no_such_module_dl7"), timeout=120)
    km = warm.take()
    assert km is not None, warm.error
    nb = nb_with(
        "import sys\nprint(sorted(k for k in ('json', 'mine') if k in sys.modules))",
        "print([k for k in globals() if 'warm' in k])",
        "import os\nprint(os.environ['COURSE_GREETING'])",
    )
    process = km.provisioner.process
    execution = execute(nb, tmp_path, cell_timeout=30, budget=60, km=km)
    assert execution.completed
    outputs = [c["outputs"][0]["text"].strip() for c in execution.nb.cells]
    assert outputs[:2] == ["['json']", "[]"], "libraries warm; the learner's own module and namespace are not"
    assert outputs[2] == "bonjour", "the warm kernel has the course's environment"
    assert execution.nb.cells[0]["execution_count"] == 1, "the warm-up is no cell of the run"
    assert process.poll() is not None, "the kernel is shut down after the run, as every kernel"


@pytest.mark.kernel
def test_discard_kills_the_waiting_kernel(tmp_path: Path) -> None:
    from dl7 import kernels
    from tests.processes import CHILD_CELL, kill_if_alive, wait_for_file, wait_gone

    warm = WarmKernel(tmp_path, kernels.environment(), (), timeout=120)
    warm._ready.wait(120)
    assert warm.ready, warm.error
    process = warm.km.provisioner.process
    assert process.poll() is None
    kc = warm.km.blocking_client()  # as if the kernel had started a process of its own
    kc.start_channels()
    kc.execute_interactive(CHILD_CELL, timeout=60)
    kc.stop_channels()
    child = int(wait_for_file(tmp_path / "child.pid"))
    try:
        warm.discard()
        assert process.poll() is not None
        assert wait_gone(child), "a process the waiting kernel started outlived it"
    finally:
        kill_if_alive(child)


@pytest.mark.kernel
def test_a_kernel_discarded_while_it_starts_is_stopped_once_started(tmp_path: Path) -> None:
    from dl7 import kernels

    warm = WarmKernel(tmp_path, kernels.environment(), (), timeout=120)
    deadline = time.monotonic() + 60
    while warm.km is None or warm.km.provisioner is None:  # launched, not yet ready
        assert time.monotonic() < deadline and not warm._ready.is_set()
        time.sleep(0.001)
    km = warm.km
    warm.discard()
    assert warm._ready.wait(120)
    assert (
        km.provisioner is None or km.provisioner.process is None or km.provisioner.process.poll() is not None
    )


class Lines:
    """A subprocess's stdout lines, read in a thread, so a test can wait with a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.queue.put(line)

    def next_json(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            line = self.queue.get(timeout=max(0.1, deadline - time.monotonic()))
            if line.startswith("{"):
                return dict(json.loads(line))

    def quiet_for(self, seconds: float) -> bool:
        try:
            self.queue.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


def kernels_using(runtime: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(runtime) in cmdline:
                found.append(cmdline)
    return found


@pytest.mark.kernel
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to prove no kernel is left")
def test_watch_reruns_on_save_and_ctrl_c_leaves_no_kernel(
    course: Path, isolated: Path, tmp_path: Path
) -> None:
    runtime = tmp_path / "runtime"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "DL7_HOME": str(isolated)}
    command = [sys.executable, "-m", "dl7", "watch", "--curriculum", str(course), "--json"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = Lines(proc)
    try:
        first = lines.next_json(90)  # the current step: step1, run once at the start
        assert first["step"] == "step1" and not first["passed"]
        assert {e["status"] for e in first["notebooks"][0]["exercises"]} == {"not_attempted"}
        assert "watching" in lines.next_json(30)
        mine = isolated / "notebooks" / "basics.ipynb"
        time.sleep(1)
        shutil.copy(course / "notebooks" / "basics.ipynb", mine)  # the learner saves a solution
        saved = time.monotonic()
        second = lines.next_json(60)
        took = time.monotonic() - saved
        assert second["passed"], second
        assert "watching" in lines.next_json(30)
        # Running cells in Jupyter saves outputs, not code: nothing runs again.
        nb = json.loads(mine.read_text())
        nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi"}]
        mine.write_text(json.dumps(nb))
        assert lines.quiet_for(4), "an outputs-only save ran the notebook again"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130
        assert proc.stderr is not None and "interrupted" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.5)
    assert kernels_using(runtime) == [], "a kernel outlived dl7 watch"
    status = subprocess.run(
        [sys.executable, "-m", "dl7", "--curriculum", str(course), "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert json.loads(status.stdout)["steps"][0]["complete"], "watch records its runs"
    print(f"save to verdict on the fixture notebook: {took:.2f} s")


def test_watch_a_step_without_notebooks_or_unknown_is_exit_2(course: Path) -> None:
    from typer.testing import CliRunner

    from dl7.cli import app

    result = CliRunner().invoke(app, ["--curriculum", str(course), "watch", "step9"])
    assert result.exit_code == 2 and "unknown step 'step9'" in result.output


def _watch(course: Path, isolated: Path, runtime: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "DL7_HOME": str(isolated)}
    command = [sys.executable, "-m", "dl7", "watch", "--curriculum", str(course), "--json", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
    assert proc.stderr is not None
    print(proc.stderr.read())  # shown when the test fails


@pytest.mark.kernel
def test_a_save_made_while_the_first_runs_go_on_is_run(course: Path, isolated: Path, tmp_path: Path) -> None:
    # Issue 22, item 11. Before: watch compared with no run at all for a save made before its
    # watching began, so the learner's solution saved right after the first verdict, while the
    # step's second notebook still ran, was never run: the verdict on screen was the old one.
    manifest = course / "curriculum.yaml"
    text = manifest.read_text()
    step3 = text[text.index("  - id: step3") :]
    triple = step3[step3.index("      - path: notebooks/triple.ipynb") :].replace("step3.", "step1.")
    text = text.replace(step3, "").replace("  - id: step2\n", triple + "  - id: step2\n")
    manifest.write_text(text)  # step1: basics, then triple
    checks = course / "more_checks.py"
    checks.write_text(checks.read_text().replace('"step3.triple"', '"step1.triple"'))
    notebooks = isolated / "notebooks"
    notebooks.mkdir(parents=True)
    # The learner's triple holds its run until the test has saved basics: the save certainly
    # lands while the first runs go on.
    waits = (
        "import os, time\n"
        "deadline = time.monotonic() + 25\n"
        "while not os.path.exists('go') and time.monotonic() < deadline:\n"
        "    time.sleep(0.02)\n"
        "from dl7 import check\n"
        "check('step1.triple', lambda x: 3 * x)"
    )
    (notebooks / "triple.ipynb").write_text(json.dumps(nb_with(waits)))
    proc = _watch(course, isolated, tmp_path / "runtime", "step1")
    lines = Lines(proc)
    try:
        first = lines.next_json(90)
        assert first["notebooks"][0]["path"] == "notebooks/basics.ipynb" and not first["passed"], first
        shutil.copy(course / "notebooks" / "basics.ipynb", notebooks / "basics.ipynb")  # the solution
        (notebooks / "go").touch()
        second = lines.next_json(60)
        assert second["notebooks"][0]["path"] == "notebooks/triple.ipynb", second
        assert "watching" in lines.next_json(30)
        again = lines.next_json(60)  # before: nothing ever came
        assert again["notebooks"][0]["path"] == "notebooks/basics.ipynb" and again["passed"], again
    finally:
        _stop(proc)


@pytest.mark.kernel
def test_kernel_log_rotates_under_watch(course: Path, isolated: Path, tmp_path: Path) -> None:
    # Issue 22, item 17. Before: kernel.log was only ever appended to, and watch held one handle
    # on it for its whole session, which every kernel it started ahead wrote to.
    from dl7.atomic import LOG_LIMIT
    from dl7.locations import kernel_log

    log = kernel_log(isolated / ".dl7")
    log.parent.mkdir(parents=True)
    previous = log.with_name(log.name + ".1")
    old = "an old kernel's line\n" * (LOG_LIMIT // 21 + 1)
    log.write_text(old)
    notebooks = isolated / "notebooks"
    notebooks.mkdir()
    solved = json.loads((course / "notebooks" / "basics.ipynb").read_text())

    def save(mark: str) -> None:
        nb = json.loads(json.dumps(solved))
        cell = nb_with(f"import os\nos.write(2, b'{mark}\\n')")["cells"][0]  # the kernel's own stderr
        nb["cells"].append(cell)
        (notebooks / "basics.ipynb").write_text(json.dumps(nb))

    save("MARK-FIRST-RUN")
    proc = _watch(course, isolated, tmp_path / "runtime", "step1")
    lines = Lines(proc)
    try:
        assert lines.next_json(90)["passed"]
        assert "watching" in lines.next_json(30)
        assert previous.is_file() and previous.read_text() == old, "the first run rotated the log"
        save("MARK-KERNEL-STARTED-AHEAD")  # this run takes the kernel watch started ahead
        assert lines.next_json(60)["passed"]
        assert "watching" in lines.next_json(30)
    finally:
        _stop(proc)
    assert previous.read_text() == old, "the previous log is kept, as it was"
    now = log.read_text()
    assert len(now) < LOG_LIMIT and "MARK-FIRST-RUN" in now
    assert "MARK-KERNEL-STARTED-AHEAD" in now, "the kernel started ahead writes to the current log"
