"""What `run`, `status` and `doctor` tell a learner where the cause is not their code (issue 26):
an unsaved edit, a notebook switched to a kernel without dl7, a later cell that fails only
because an exercise is unfinished, and what `doctor --quick` leaves out."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dl7 import doctor
from dl7.cli import app

runner = CliRunner()


def dl7(course: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--curriculum", str(course), *args])
    return result.exit_code, " ".join(result.output.split())


def _learner(isolated: Path) -> Path:
    return isolated / "notebooks" / "basics.ipynb"


def _edit(path: Path, change: object) -> None:
    nb = json.loads(path.read_text())
    change(nb)  # type: ignore[operator]
    path.write_text(json.dumps(nb))


@pytest.mark.kernel
def test_a_stub_that_still_raises_says_to_save_first(course: Path) -> None:
    code, output = dl7(course, "run", "step1")
    assert code == 1 and "not attempted" in output
    assert "save the notebook first (Ctrl-S)" in output, output


@pytest.fixture
def python_without_dl7(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real kernelspec, as another Python's ipykernel installs it: its Python has no dl7."""
    other = shutil.which("python3", path="/usr/bin:/bin") or ""
    if not other or Path(other).resolve() == Path(sys.executable).resolve():
        pytest.skip("needs a second Python on this machine")
    spec = tmp_path / "jupyter" / "kernels" / "system-python"
    spec.mkdir(parents=True)
    argv = [other, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python 3 (system)", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    doctor._kernel_has_dl7.cache_clear()
    yield "system-python"
    doctor._kernel_has_dl7.cache_clear()


@pytest.mark.kernel
def test_a_notebook_switched_to_a_kernel_without_dl7_gets_the_kernel_to_pick(
    course: Path, isolated: Path, python_without_dl7: str
) -> None:
    dl7(course, "next")
    mine = _learner(isolated)

    def switch(nb: dict[str, object]) -> None:
        nb["metadata"] = {"kernelspec": {"name": python_without_dl7, "display_name": "Python 3 (system)"}}

    _edit(mine, switch)
    code, output = dl7(course, "run", "step1")
    assert "JupyterLab runs it in the kernel “Python 3 (system)”" in output, output
    assert "which cannot import dl7" in output and "Change Kernel… ▸ “Python 3 (ipykernel)”" in output
    code, output = dl7(course, "doctor", "--quick", "--json")
    found = {c["name"]: c for c in json.loads(output)["checks"]}
    kernels = found["notebook kernels"]
    assert not kernels["ok"] and "notebooks/basics.ipynb" in kernels["detail"] and code == 1
    assert "Change Kernel" in kernels["fix"]


def test_saved_outputs_saying_no_module_dl7_get_the_kernel_to_pick(course: Path, isolated: Path) -> None:
    dl7(course, "next")

    def failed(nb: dict[str, object]) -> None:
        cells = nb["cells"]
        assert isinstance(cells, list)
        cells[1]["outputs"] = [
            {
                "output_type": "error",
                "ename": "ModuleNotFoundError",
                "evalue": "No module named 'dl7'",
                "traceback": [],
            }
        ]

    _edit(_learner(isolated), failed)
    doctor._kernel_has_dl7.cache_clear()
    finding = doctor.notebook_kernels(isolated, __import__("dl7.curriculum").curriculum.load(course))
    assert not finding.ok and "No module named 'dl7'" in finding.detail, finding


def test_doctor_quick_says_which_libraries_it_did_not_import(course: Path) -> None:
    manifest = course / "curriculum.yaml"
    manifest.write_text(
        manifest.read_text().replace("checkers:\n", "kernel:\n  libraries: [json]\ncheckers:\n", 1)
    )
    _, output = dl7(course, "doctor", "--quick")
    assert "not imported (--quick): json" in output, output
    assert "imports in" not in output


@pytest.mark.kernel
def test_status_shows_no_crash_mark_when_an_unfinished_exercise_makes_a_later_cell_fail(
    course: Path, isolated: Path
) -> None:
    dl7(course, "next")
    mine = _learner(isolated)

    def uses_it(nb: dict[str, object]) -> None:
        cells = nb["cells"]
        assert isinstance(cells, list)
        cells.append({"cell_type": "code", "source": "print(double(21))", "metadata": {}, "outputs": []})

    _edit(mine, uses_it)  # a demo cell after the last check: it fails while double is a stub
    dl7(course, "run", "step1")
    _, shown = dl7(course, "status")
    assert "!" not in shown, shown

    solved = json.loads((course / "notebooks" / "basics.ipynb").read_text())
    solved["cells"].append({"cell_type": "code", "source": "1 / 0", "metadata": {}, "outputs": []})
    mine.write_text(json.dumps(solved))  # every exercise passes; a real crash remains
    dl7(course, "run", "step1")
    _, shown = dl7(course, "status")
    assert "!" in shown and "a cell raises an error in that step" in shown, shown
