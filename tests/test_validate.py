"""`dl7 validate` on the fixture course: each failure kind is caught, and the cache works."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from dl7.cli import app

pytestmark = pytest.mark.kernel
runner = CliRunner()


def validate(course: Path, *args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["--curriculum", str(course), "validate", "--json", *args])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def problems(report: dict) -> list[tuple[str, str, str | None, str]]:
    return [
        (c["notebook"], c["case"], p["exercise"], p["reason"]) for c in report["cases"] for p in c["problems"]
    ]


def edit_source(course: Path, name: str, index: int, source: str | None) -> None:
    path = course / "notebooks" / name
    nb = json.loads(path.read_text())
    if source is None:
        del nb["cells"][index]
    else:
        nb["cells"][index]["source"] = source
    path.write_text(json.dumps(nb, indent=1))


def test_a_sound_course_validates_and_the_cache_skips_unchanged_notebooks(
    course: Path, tmp_path: Path
) -> None:
    code, report = validate(course, "step1", "step3", "--junit", str(tmp_path / "junit.xml"))
    assert code == 0, problems(report)
    assert report["executed"] == 4
    suite = ElementTree.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("tests") == "6" and suite.get("failures") == "0"
    assert {(t.get("classname"), t.get("name")) for t in suite} >= {
        ("notebooks/basics.ipynb", "solved"),
        ("notebooks/basics.ipynb", "unsolved"),
    }

    code, again = validate(course, "step1", "step3")
    assert code == 0 and again["executed"] == 0
    assert all(c["cached"] for c in again["cases"] if c["case"] != "static")

    edit_source(course, "triple.ipynb", 0, "# Triple, reworded")
    code, third = validate(course, "step1", "step3")
    assert code == 0 and third["executed"] == 2
    rerun = {c["notebook"] for c in third["cases"] if c["case"] != "static" and not c["cached"]}
    assert rerun == {"notebooks/triple.ipynb"}

    more = course / "more_checks.py"
    more.write_text(more.read_text() + "\n# a comment changes the checker's source\n")
    code, fourth = validate(course, "step1", "step3")
    rerun = {c["notebook"] for c in fourth["cases"] if c["case"] != "static" and not c["cached"]}
    assert code == 0 and rerun == {"notebooks/triple.ipynb"}, "only the notebook that checker judges"

    code, forced = validate(course, "step1", "step3", "--no-cache")
    assert forced["executed"] == 4


def test_wrong_solution(course: Path) -> None:
    edit_source(
        course,
        "basics.ipynb",
        2,
        "def double(x):\n    ### BEGIN SOLUTION\n    return x + x + 1\n    ### END SOLUTION",
    )
    code, report = validate(course, "step1")
    assert code == 1
    assert (
        "notebooks/basics.ipynb",
        "solved",
        "step1.double",
        "the solution does not pass (failed): double(0) returned 1; expected 0",
    ) in problems(report)


def test_vacuous_check(course: Path) -> None:
    checks = course / "checks.py"
    checks.write_text(
        checks.read_text().replace('    got = greet("Ada")\n', '    return "ok"\n    got = greet("Ada")\n')
    )
    code, report = validate(course, "step1")
    assert code == 1
    assert (
        "notebooks/basics.ipynb",
        "unsolved",
        "step1.greet",
        "passes without a solution: the check is vacuous",
    ) in problems(report)


def test_exercise_listed_but_never_called(course: Path) -> None:
    edit_source(course, "basics.ipynb", 5, None)
    code, report = validate(course, "step1")
    assert code == 1
    reasons = problems(report)
    assert any(
        p[1] == "static" and p[2] == "step1.greet" and "never calls check('step1.greet')" in p[3]
        for p in reasons
    )
    assert [c["skipped"] for c in report["cases"]] == [False, True, True]


def test_call_not_listed(course: Path) -> None:
    edit_source(course, "basics.ipynb", 5, 'check("step1.greet", greet)\ncheck("step1.extra", 1)')
    code, report = validate(course, "step1")
    assert code == 1
    assert any(p[2] == "step1.extra" and "the manifest does not list it" in p[3] for p in problems(report))


def test_notebook_over_its_budget(course: Path) -> None:
    manifest = course / "curriculum.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "cell_timeout: 2\n        budget: 20", "cell_timeout: 60\n        budget: 3"
        )
    )
    code, report = validate(course, "step2")
    assert code == 1
    assert any(p[1] == "solved" and "ran past its time budget of 3 s" in p[3] for p in problems(report))


def test_committed_outputs(course: Path) -> None:
    path = course / "notebooks" / "basics.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]
    nb["cells"][1]["execution_count"] = 1
    path.write_text(json.dumps(nb))
    code, report = validate(course, "step1")
    assert code == 1
    assert any("committed with outputs or execution counts (cells 2)" in p[3] for p in problems(report))


def test_unbalanced_markers(course: Path) -> None:
    edit_source(course, "basics.ipynb", 2, "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n")
    code, report = validate(course, "step1")
    assert code == 1
    assert any(
        "solution markers: cell 2, line 2: ### BEGIN SOLUTION is never closed" in p[3]
        for p in problems(report)
    )


def test_kernel_that_dies(course: Path) -> None:
    edit_source(
        course,
        "basics.ipynb",
        4,
        "import os\nos._exit(1)\n"
        "def greet(name):\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
    )
    code, report = validate(course, "step1", "--jobs", "1")
    assert code == 1
    assert any(p[1] == "solved" and "the kernel died" in p[3] for p in problems(report))


def test_broken_manifest_fails_validation(course: Path) -> None:
    manifest = course / "curriculum.yaml"
    manifest.write_text(manifest.read_text().replace("- id: step1.greet", "- id: step1.wave"))
    result = runner.invoke(app, ["--curriculum", str(course), "validate"])
    assert result.exit_code == 1
    assert "no checker is registered for 'step1.wave'" in result.output


def test_bad_usage_is_exit_2(course: Path) -> None:
    assert runner.invoke(app, ["--curriculum", str(course), "validate", "step9"]).exit_code == 2
    assert runner.invoke(app, ["--curriculum", str(course), "validate", "--jobs", "0"]).exit_code == 2
