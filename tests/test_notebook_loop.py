"""The loop inside the notebook: every check recorded, ``hint()`` and ``solution()`` as their CLI twins.

The notebooks run in real kernels started as JupyterLab starts them: this Python, the
notebook's folder as the working directory, ``JPY_SESSION_NAME`` naming the notebook, and none
of the variables dl7 sets in its own kernels. Then the real CLI says what it sees.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from typer.testing import CliRunner

from dl7 import kernels, locations
from dl7.cli import app
from dl7.progress import Progress

pytestmark = pytest.mark.kernel
runner = CliRunner()
NOTEBOOK = "notebooks/basics.ipynb"
DOUBLE = "def double(x):\n    return 2 * x"
GREET = 'def greet(name):\n    return f"hello {name}"'
CHECK_DOUBLE = 'check("step1.double", double)'


def dl7(course: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--curriculum", str(course), *args])
    return result.exit_code, result.output


def status(course: Path) -> dict[str, Any]:
    code, output = dl7(course, "status", "--json")
    assert code in (0, 1), output
    return dict(json.loads(output))


def step1(course: Path) -> dict[str, Any]:
    return next(s for s in status(course)["steps"] if s["id"] == "step1")


def statuses(course: Path) -> dict[str, str]:
    return {e["id"]: e["status"] for e in step1(course)["exercises"]}


def in_lab(path: Path, *cells: str, env: dict[str, str] | None = None) -> list[str]:
    """Save ``cells`` as the notebook at ``path`` and run them in a kernel started as
    JupyterLab starts one; returns each cell's text output (stdout, stderr, displays)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])  # type: ignore[no-untyped-call]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)  # type: ignore[no-untyped-call]
    session = {"JPY_SESSION_NAME": path.name, **(env or {})}
    km = kernels.Manager(kernel_name=kernels.KERNEL_NAME, kernel_spec_manager=kernels.ThisPython(session))
    assert locations.CHECKERS_ENV not in os.environ and locations.RUNNER_KERNEL_ENV not in os.environ
    client = NotebookClient(nb, km=km, timeout=60, resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    finally:
        kernels.stop(km)
    texts = []
    for cell in nb.cells:
        parts = []
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
        texts.append("".join(parts))
    return texts


def attempts_by_source(home: Path) -> dict[str, int]:
    with sqlite3.connect(home / ".dl7" / "progress.sqlite") as db:
        rows = db.execute("SELECT source, count(*) FROM attempts GROUP BY source").fetchall()
    return {source: count for source, count in rows}


def test_a_pass_in_the_notebook_shows_in_status_and_unlocks_solution(course: Path, isolated: Path) -> None:
    dl7(course, "next")
    assert dl7(course, "solution", "step1", "double")[0] == 1
    outputs = in_lab(isolated / NOTEBOOK, "from dl7 import check", DOUBLE, 'check("step1.double", double)')
    assert "passed" in outputs[2] and "not recorded" not in outputs[2], outputs
    assert statuses(course) == {"step1.double": "passed", "step1.greet": "not_run"}
    code, output = dl7(course, "solution", "step1", "double")
    assert code == 0 and "return 2 * x" in output, output
    assert dl7(course, "solution", "step1", "greet")[0] == 1, "greet was never checked"
    with sqlite3.connect(isolated / ".dl7" / "progress.sqlite") as db:
        row = db.execute("SELECT notebook, outcome, source FROM attempts").fetchone()
    assert row == (NOTEBOOK, "checked", "notebook"), "marked as checked in the notebook, and where"


def test_a_step_is_complete_only_after_a_whole_run(course: Path, isolated: Path) -> None:
    dl7(course, "next")
    cells = ("from dl7 import check", DOUBLE, CHECK_DOUBLE, GREET, 'check("step1.greet", greet)')
    in_lab(isolated / NOTEBOOK, *cells)
    state = step1(course)
    assert [e["status"] for e in state["exercises"]] == ["passed", "passed"]
    assert not state["complete"] and state["last_run"] is None, "a notebook check is no run"
    output = dl7(course, "status")[1]
    assert "checked in the notebook: `dl7 run step1` makes it count" in output, output
    assert " run step1" in dl7(course, "next")[1], "next asks for the run that makes it count"
    code, output = dl7(course, "run", "step1")
    assert code == 0, output
    assert step1(course)["complete"]
    # dl7 run's kernel recorded nothing of its own checks: the run is one attempt
    assert attempts_by_source(isolated) == {"notebook": 2, "run": 1}


def test_a_check_in_a_kernel_dl7_started_is_not_recorded(course: Path, isolated: Path) -> None:
    """Even for a course with no checker modules to name (so no DL7_CHECKERS): the runner's mark."""
    dl7(course, "next")
    cells = ("from dl7 import check", DOUBLE, 'check("step1.double", double)')
    in_lab(isolated / NOTEBOOK, *cells, env={locations.RUNNER_KERNEL_ENV: "1"})
    assert statuses(course)["step1.double"] == "not_run"


def test_hint_climbs_the_same_ladder_as_dl7_hint(course: Path, isolated: Path) -> None:
    dl7(course, "next")
    outputs = in_lab(isolated / NOTEBOOK, "from dl7 import hint", 'hint("double")')
    assert "Hint 1 of 2: Multiply by two." in outputs[1] and "Hint 2" not in outputs[1], outputs
    code, output = dl7(course, "hint", "step1", "double")
    assert code == 0 and "Hint 2 of 2" in output, "the terminal goes on where the notebook stopped"
    outputs = in_lab(isolated / NOTEBOOK, "from dl7 import hint", 'hint("step1.double")', 'hint("nope")')
    assert "Hint 2 of 2: `return 2 * x`" in outputs[1] and "last hint" in outputs[1], outputs
    assert "exercise 'nope'" in outputs[2] and "Traceback" not in outputs[2], outputs


def test_solution_in_the_notebook_only_after_a_pass(course: Path, isolated: Path) -> None:
    dl7(course, "next")
    cells = (
        "from dl7 import check, solution",
        'solution("double")',
        DOUBLE,
        'check("step1.double", double)',
        'solution("double")',
    )
    outputs = in_lab(isolated / NOTEBOOK, *cells)
    assert "has not passed yet" in outputs[1] and "return 2 * x" not in outputs[1], outputs
    assert "the course's solution" in outputs[4] and "return 2 * x" in outputs[4], outputs
    assert "BEGIN SOLUTION" not in outputs[4]


def test_solution_still_works_when_the_import_cell_runs_again(course: Path, isolated: Path) -> None:
    """Run All after a first `solution(...)`: the import cell runs again in the same kernel, and
    `from dl7 import solution` must still give the function (it gave the `dl7.solution` module,
    so the call failed with "'module' object is not callable")."""
    dl7(course, "next")
    cells = (
        "from dl7 import check, solution",
        DOUBLE,
        'check("step1.double", double)',
        'solution("double")',
        "from dl7 import check, solution",
        'solution("double")',
    )
    outputs = in_lab(isolated / NOTEBOOK, *cells)
    assert "not callable" not in outputs[5] and "return 2 * x" in outputs[5], outputs


def test_no_runner_module_shadows_a_notebook_function() -> None:
    """Importing a submodule sets it as an attribute of the package: one named like a function
    of `dl7.__all__` would replace that function for every later `from dl7 import ...`."""
    import pkgutil

    import dl7

    modules = {m.name for m in pkgutil.iter_modules(dl7.__path__)}
    assert not modules & set(dl7.__all__), modules & set(dl7.__all__)


def test_a_notebook_outside_a_workspace_is_untouched(course: Path, isolated: Path, tmp_path: Path) -> None:
    """The checker module named as an author previewing would; no workspace above: nothing written."""
    dl7(course, "next")
    elsewhere = tmp_path / "elsewhere" / "scratch.ipynb"
    cells = (
        f"from dl7.checks import load_module; load_module({str(course / 'checks.py')!r})",
        "from dl7 import check, hint",
        DOUBLE,
        'check("step1.double", double)',
        'hint("double")',
    )
    outputs = in_lab(elsewhere, *cells)
    assert "passed" in outputs[3] and "recorded" not in outputs[3], outputs
    assert "not in a dl7 workspace" in outputs[4], outputs
    assert statuses(course)["step1.double"] == "not_run"


def test_a_check_started_before_a_run_does_not_hide_the_run(isolated: Path) -> None:
    """Attempts are ordered by start: a run that started after the check stays the newer."""
    with Progress(isolated / ".dl7" / "progress.sqlite", "fixture") as progress:
        before = time.time_ns()
        progress.record_attempt(
            "step1", NOTEBOOK, "2026-01-01T00:00:00", 1.0, "completed", None,
            [("step1.double", "failed", "wrong", 0.1)], started_ns=before + 1_000,
        )  # fmt: skip
        # the check landed last, but it started first
        progress.record_check("step1", NOTEBOOK, ("step1.double", "passed", "ok", 0.1), started_ns=before)
        latest = progress.latest_results()["step1.double"]
        assert (latest.status, latest.source, latest.run_status) == ("failed", "run", "failed")
        assert progress.last_attempts()["step1"].outcome == "completed"


def test_a_busy_store_costs_one_line_not_the_check(course: Path, isolated: Path) -> None:
    """Another process holds the store's write lock (a run recording): the check still shows
    its verdict within the store's short wait, says it was not recorded, and raises nothing."""
    dl7(course, "next")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; db = sqlite3.connect(sys.argv[1], isolation_level=None);"
            " db.execute('BEGIN IMMEDIATE'); print('locked', flush=True); sys.stdin.read()",
            str(isolated / ".dl7" / "progress.sqlite"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        outputs = in_lab(isolated / NOTEBOOK, "from dl7 import check", DOUBLE, CHECK_DOUBLE)
        took = time.monotonic() - start
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)
    assert "passed" in outputs[2] and "not recorded in your progress" in outputs[2], outputs
    assert took < 20, f"the check waited {took:.1f} s for the store"
    assert statuses(course)["step1.double"] == "not_run"
