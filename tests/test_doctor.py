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
    runner.invoke(app, ["--curriculum", "tests/fixtures/course", "next"])
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
    monkeypatch.setattr("dl7.kernels.KERNEL_MODULE", "no_such_kernel_module")
    found = doctor.kernel()
    assert not found.ok and "no kernel starts" in found.detail and "pip install ipykernel" in found.fix


def course_with_libraries(course: Path, libraries: str, env: str = "") -> Path:
    manifest = course / "curriculum.yaml"
    block = f"kernel:\n  libraries: {libraries}\n" + (f"  env:\n{env}" if env else "")
    manifest.write_text(manifest.read_text().replace("steps:\n", block + "steps:\n", 1))
    return course


def test_the_courses_libraries_are_imported_with_its_env_and_timed(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dl7.curriculum import load

    site = tmp_path / "site"
    site.mkdir()  # a library that imports only with the course's environment
    (site / "needs_env.py").write_text(
        "import os\nassert os.environ['COURSE_FLAG'] == 'on'\n__version__ = '1.2'\n"
    )
    (site / "broken_lib.py").write_text("raise ImportError('broken on purpose (dl7 test)')\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    course_with_libraries(course, "[needs_env, broken_lib, no_such_lib_dl7]", '    COURSE_FLAG: "on"\n')
    found = {f.name: f for f in doctor.libraries(load(course).kernel)}
    assert list(found) == ["needs_env", "broken_lib", "no_such_lib_dl7"]
    assert found["needs_env"].ok and "1.2 imports in" in found["needs_env"].detail, found
    assert found["needs_env"].seconds is not None and found["needs_env"].seconds > 0
    assert not found["broken_lib"].ok and "broken on purpose" in found["broken_lib"].detail
    assert (
        "does not import" in found["no_such_lib_dl7"].detail
        and "pip install no_such_lib_dl7" in found["no_such_lib_dl7"].fix
    )


@pytest.mark.kernel
def test_quick_skips_the_libraries_and_a_full_doctor_tries_them(course: Path, isolated: Path) -> None:
    course_with_libraries(course, "[json, no_such_lib_dl7]")
    quick = json.loads(
        runner.invoke(app, ["--curriculum", str(course), "doctor", "--quick", "--json"]).output
    )
    names = [c["name"] for c in quick["checks"]]
    assert "course" in names and "json" not in names and quick["ok"]
    result = runner.invoke(app, ["--curriculum", str(course), "doctor", "--json"])
    full = {c["name"]: c for c in json.loads(result.output)["checks"]}
    assert full["json"]["ok"] and not full["no_such_lib_dl7"]["ok"] and result.exit_code == 1


def test_a_broken_manifest_is_one_finding(course: Path) -> None:
    (course / "curriculum.yaml").write_text("format: 1\nid: x\nkernel: [a]\n")
    from dl7.curriculum import load

    finding, loaded = doctor.course(lambda: load(course))
    assert not finding.ok and loaded is None and "curriculum.yaml:3: kernel" in finding.detail


@pytest.mark.kernel
def test_the_doctors_kernel_has_the_courses_env_and_leaves_none_of_its_processes(tmp_path: Path) -> None:
    from tests.processes import kill_if_alive, wait_for_file, wait_gone

    site = tmp_path / "site"
    site.mkdir()  # runs at the kernel's start, with the course's environment only
    (site / "sitecustomize.py").write_text(
        "import os, subprocess\n"
        "if os.environ.get('CHILD_PID_FILE'):\n"
        "    child = subprocess.Popen(['sleep', '300'])\n"
        "    with open(os.environ['CHILD_PID_FILE'], 'w') as f:\n"
        "        f.write(str(child.pid))\n"
    )
    pid_file = tmp_path / "child.pid"
    child = None
    try:
        found = doctor.kernel({"PYTHONPATH": str(site), "CHILD_PID_FILE": str(pid_file)})
        assert found.ok, found
        child = int(wait_for_file(pid_file))
        assert wait_gone(child), "a process the doctor's kernel started outlived it"
    finally:
        kill_if_alive(child)


@pytest.mark.parametrize("name", ["what?now", "no#1", "100%41", "a b&c=d;e"])
def test_the_progress_file_is_read_in_a_workspace_whose_path_has_uri_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    home = tmp_path / name
    monkeypatch.setenv("DL7_HOME", str(home))
    assert runner.invoke(app, ["--curriculum", "tests/fixtures/course", "next"]).exit_code == 0
    progress = home / ".dl7" / "progress.sqlite"
    assert progress.is_file()
    before = sorted(p.name for p in tmp_path.iterdir())
    found = doctor.progress_file(progress)
    assert found.ok and "0 run(s)" in found.detail, found.detail
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "the doctor created no other file"
