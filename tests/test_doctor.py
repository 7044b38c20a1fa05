"""`dl7 doctor`: one line per check, a fix for each problem, exit 0 only when all is well."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dl7 import doctor
from dl7.cli import app

runner = CliRunner()


@pytest.mark.kernel
def test_doctor_quick_on_a_fresh_machine_is_all_well(isolated: Path) -> None:
    result = runner.invoke(app, ["doctor", "--quick"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in ("python", "dl7", "kernel", "jupyterlab", "workspace", "disk", "data sets"):
        assert any(re.match(rf"✔\s+{name}\b", line) for line in lines), (name, result.output)
    assert "starts from this environment in" in result.output
    assert "not created yet" in result.output and "All is well" in result.output
    assert "MissingIDFieldWarning" not in result.output
    assert not isolated.exists(), "the doctor creates no workspace"


@pytest.mark.kernel
def test_doctor_json_lists_every_check_with_its_time(isolated: Path) -> None:
    result = runner.invoke(app, ["doctor", "--quick", "--json"])
    data = json.loads(result.output)
    assert data["ok"] is True and result.exit_code == 0
    kernel = next(c for c in data["checks"] if c["name"] == "kernel")
    assert kernel["ok"] and 0 < kernel["seconds"] < 60


def test_a_damaged_progress_file_is_a_problem_with_a_fix_and_is_left_alone(isolated: Path) -> None:
    dot = isolated / ".dl7"
    dot.mkdir(parents=True)
    (dot / "progress.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x00" * 200 + b"garbage" * 100)
    before = (dot / "progress.sqlite").read_bytes()
    found = doctor.workspace(isolated)
    assert [f.name for f in found] == ["workspace", "progress"]
    assert found[0].ok and not found[1].ok
    assert "damaged" in found[1].detail and "moves it aside" in found[1].fix
    assert (dot / "progress.sqlite").read_bytes() == before, "the doctor never repairs"


def test_a_healthy_progress_file_counts_its_runs(isolated: Path) -> None:
    runner.invoke(app, ["--curriculum", "tests/fixtures/course", "status"])
    found = doctor.progress_file(isolated / ".dl7" / "progress.sqlite")
    assert found.ok and "0 run(s)" in found.detail
    sqlite3.connect(isolated / ".dl7" / "progress.sqlite").close()


@pytest.mark.kernel
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_workspace_is_a_problem_and_exit_1(isolated: Path) -> None:
    dot = isolated / ".dl7"
    dot.mkdir(parents=True)
    dot.chmod(0o500)
    try:
        result = runner.invoke(app, ["doctor", "--quick"])
    finally:
        dot.chmod(0o700)
    assert result.exit_code == 1
    assert re.search(r"✘\s+workspace", result.output)
    assert "not writable" in result.output and "DL7_HOME" in result.output
    assert "1 problem(s)" in result.output


def test_little_free_disk_is_a_problem(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "MIN_FREE_BYTES", 1 << 62)
    found = doctor.disk(isolated)
    assert not found.ok and "GiB free at" in found.detail and "free at least" in found.fix


def test_a_python_without_jupyterlab_is_told_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor.importlib.util, "find_spec", lambda name: None)
    found = doctor.jupyterlab()
    assert not found.ok and "pip install 'jupyterlab>=4'" in found.fix and sys.executable in found.fix


@pytest.mark.kernel
def test_a_kernel_that_cannot_start_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dl7.execute.KERNEL_MODULE", "no_such_kernel_module")
    found = doctor.kernel()
    assert not found.ok and "no kernel starts" in found.detail and "pip install ipykernel" in found.fix


def test_tensorflow_that_does_not_import_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent / "fixtures" / "broken_tf"))
    found = doctor.tensorflow()
    assert not found.ok and "does not import" in found.detail and "tensorflow" in found.fix


@pytest.mark.slow
def test_tensorflow_imports_and_is_timed() -> None:
    found = doctor.tensorflow()
    assert found.ok, found
    assert found.seconds is not None and found.seconds > 0 and "Keras 3" in found.detail
