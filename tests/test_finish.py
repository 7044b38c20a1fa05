"""The end of the course: `dl7 next` congratulates and says what to read next, as text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dl7.cli import app
from dl7.progress import Progress

runner = CliRunner()

CLOSING_READINGS = """    readings:
      - id: r-survey
        title: A survey to read after the course
        author: Grace Hopper
        kind: paper
        url: https://example.org/survey
        minutes: 90
      - id: r-optional
        title: An optional paper
        author: Edsger Dijkstra
        kind: paper
        url: https://example.org/optional
        minutes: 20
        optional: true
"""


def dl7(course: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--curriculum", str(course), *args])
    return result.exit_code, result.output


def with_closing_readings(course: Path) -> Path:
    """The fixture course, its last step given readings as the article's last step has."""
    manifest = course / "curriculum.yaml"
    text = manifest.read_text(encoding="utf-8")
    marker = "    summary: A second quick notebook, for validation's cache.\n"
    assert marker in text
    manifest.write_text(text.replace(marker, marker + CLOSING_READINGS), encoding="utf-8")
    return course


def pass_everything(home: Path) -> None:
    runs = {
        "step1": ("notebooks/basics.ipynb", ["step1.double", "step1.greet"]),
        "step2": ("notebooks/slow.ipynb", ["step2.after"]),
        "step3": ("notebooks/triple.ipynb", ["step3.triple"]),
    }
    with Progress(home / ".dl7" / "progress.sqlite", "fixture") as progress:
        for step, (notebook, ids) in runs.items():
            results = [(i, "passed", "ok", 0.1) for i in ids]
            progress.record_attempt(step, notebook, "2026-11-29T12:00:00", 1.0, "completed", None, results)


def test_next_before_the_end_has_no_finish(course: Path, isolated: Path) -> None:
    data = json.loads(dl7(with_closing_readings(course), "next", "--json")[1])
    assert data["next"]["step"] == "step1"
    assert data["finished"] is None


def test_next_congratulates_and_points_to_the_closing_readings(course: Path, isolated: Path) -> None:
    course = with_closing_readings(course)
    assert dl7(course, "status")[0] == 0  # creates the workspace and its store
    pass_everything(isolated)

    code, output = dl7(course, "next")
    assert code == 0, output
    assert "Congratulations!" in output and "all 3 steps of Fixture course" in output
    assert "all 4 exercises pass" in output
    assert "Read next" in output and "step3 (More)" in output
    assert "A survey to read after the course" in output and "https://example.org/survey" in output
    assert "(optional)" in output
    assert "Still unread from earlier steps (2)" in output and "A first reading" in output
    dl7_again = f"dl7 --curriculum {course}"  # the course was named, so the commands name it too
    assert f"{dl7_again} read step3 1" in output and f"{dl7_again} status" in output

    data = json.loads(dl7(course, "next", "--json")[1])
    assert data["next"] is None and data["current"] is None
    finished = data["finished"]
    assert finished["steps"] == 3 and finished["exercises_passed"] == 4
    first = finished["read_next"][0]
    assert (first["step"], first["number"], first["id"]) == ("step3", 1, "r-survey")
    assert [r["id"] for r in finished["read_next"]] == ["r-survey", "r-optional", "r-one", "r-two"]
    assert finished["commands"] == [
        f"dl7 --curriculum {course} read step3 1",
        f"dl7 --curriculum {course} status",
    ]


def test_next_after_reading_everything(course: Path, isolated: Path) -> None:
    course = with_closing_readings(course)
    dl7(course, "status")
    pass_everything(isolated)
    for step, reading in (("step3", "1"), ("step3", "2"), ("step1", "1"), ("step1", "2")):
        assert dl7(course, "read", step, reading)[0] == 0

    code, output = dl7(course, "next")
    assert code == 0 and "Congratulations!" in output
    assert "read everything the course recommends" in output and "Read next" not in output
    finished = json.loads(dl7(course, "next", "--json")[1])["finished"]
    assert finished["read_next"] == [] and finished["commands"] == [f"dl7 --curriculum {course} status"]


def test_a_failing_exercise_keeps_the_course_open(course: Path, isolated: Path) -> None:
    dl7(course, "status")
    pass_everything(isolated)
    with Progress(isolated / ".dl7" / "progress.sqlite", "fixture") as progress:
        results = [("step3.triple", "failed", "off by one", 0.1)]
        progress.record_attempt(
            "step3", "notebooks/triple.ipynb", "2026-11-29T13:00:00", 1.0, "completed", None, results
        )
    code, output = dl7(course, "next")
    assert code == 0 and "Congratulations" not in output and "step3" in output
