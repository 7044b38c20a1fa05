"""Validate's unsolved run records the cells that would stop JupyterLab's Run All on a learner's
copy: information in the report, never a failure (an nbgrader import's stubs raise by design)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from dl7.cli import app
from dl7.validate.model import CaseResult, Report, RunAllStop
from dl7.validate.reports import report_from_json, report_json

runner = CliRunner()


def validate(course: Path, *args: str) -> dict:
    result = runner.invoke(app, ["--curriculum", str(course), "validate", "--json", *args])
    assert result.exit_code == 0, result.output  # stopping Run All is not a validation failure
    return json.loads(result.stdout)


def add_demo_cell(course: Path, source: str) -> None:
    """A cell that shows `double` at work, right after its definition (cell 3, 1-based: 4)."""
    path = course / "notebooks" / "basics.ipynb"
    nb = json.loads(path.read_text())
    cell = {"cell_type": "code", "execution_count": None, "id": "demo", "metadata": {}, "outputs": []}
    nb["cells"].insert(3, {**cell, "source": source})
    path.write_text(json.dumps(nb, indent=1))


def stops(report: dict, case: str) -> list[dict]:
    found = [c for c in report["cases"] if c["notebook"] == "notebooks/basics.ipynb" and c["case"] == case]
    return found[0].get("stopped_run_all", [])


@pytest.mark.kernel
def test_a_bare_demo_cell_is_recorded_with_its_cell_and_error(course: Path, tmp_path: Path) -> None:
    add_demo_cell(course, "print(double(21))")
    report = validate(course, "basics", "--junit", str(tmp_path / "junit.xml"))
    assert stops(report, "unsolved") == [{"cell": 4, "error": "NotImplementedError"}]
    assert stops(report, "solved") == []  # solved, every cell runs: nothing to record
    unsolved = next(
        t for t in ElementTree.parse(tmp_path / "junit.xml").getroot() if t.get("name") == "unsolved"
    )
    assert unsolved.findtext("system-out") == "Run All in JupyterLab stops at cell 4 (NotImplementedError)"


@pytest.mark.kernel
def test_a_demo_cell_wrapped_in_demo_lets_run_all_go_on(course: Path) -> None:
    path = course / "notebooks" / "basics.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][1]["source"] = "from dl7 import check, demo"
    path.write_text(json.dumps(nb, indent=1))
    add_demo_cell(course, "with demo():\n    print(double(21))")
    assert stops(validate(course, "basics"), "unsolved") == []


@pytest.mark.kernel
def test_a_cached_unsolved_case_still_reports_its_stops(course: Path) -> None:
    add_demo_cell(course, "print(double(21))")
    validate(course, "basics")
    again = validate(course, "basics")
    assert all(c["cached"] for c in again["cases"] if c["case"] != "static")
    assert stops(again, "unsolved") == [{"cell": 4, "error": "NotImplementedError"}]


def test_the_json_report_reads_back_with_its_stops() -> None:
    case = CaseResult(
        "nb.ipynb",
        "unsolved",
        True,
        stopped_run_all=(RunAllStop(8, "NotImplementedError"), RunAllStop(9, "NameError")),
    )
    report = Report("course", (case, CaseResult("nb.ipynb", "solved", True)), 1.0, 2)
    data = report_json(report)
    assert data["cases"][0]["stopped_run_all"] == [
        {"cell": 8, "error": "NotImplementedError"},
        {"cell": 9, "error": "NameError"},
    ]
    assert "stopped_run_all" not in data["cases"][1]
    assert report_from_json(json.loads(json.dumps(data))).cases == report.cases
