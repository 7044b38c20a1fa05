"""nbgrader test cells run in a real kernel (dl7.checks.testcell): which exception makes an
exercise *not attempted*. Only a NotImplementedError from the learner's stub does; an unrelated
stub elsewhere in the notebook must not hide another exercise's real error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dl7.execute import execute
from dl7.results import bundles
from dl7.testcells import CALL

pytestmark = pytest.mark.kernel

# The course's test cells, as a teacher writes them.
TESTS = {
    "test_cube": "assert cube(2) == 8",
    "test_mean": "assert mean == 4.5",
    "test_square": "assert square(3) == 9",
    "test_half": "assert half(4) == 2",
}


def code(source: str) -> dict[str, Any]:
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}


def run_tests(tmp_path: Path, learner: list[str]) -> dict[str, tuple[str, str]]:
    """Run the learner's cells, then every course test cell through dl7's call; exercise id →
    (status, message) as the kernel reported them."""
    course = tmp_path / "course.ipynb"
    cells = [
        {**code(source), "metadata": {"nbgrader": {"grade": True, "grade_id": gid, "solution": False}}}
        for gid, source in TESTS.items()
    ]
    course.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    calls = [code(CALL.format(id=f"a.{gid}", notebook=str(course), grade_id=gid)) for gid in TESTS]
    nb = {"cells": [code(s) for s in learner] + calls, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    execution = execute(nb, tmp_path, cell_timeout=60, budget=120)
    assert execution.completed, execution.message
    return {ex: (str(b["status"]), str(b["message"])) for ex, b in bundles(execution.nb).items()}


STUB = "# YOUR CODE HERE\nraise NotImplementedError()"  # nbgrader's stub for a whole solution cell


def test_an_unrelated_stub_does_not_hide_another_exercises_error(tmp_path: Path) -> None:
    got = run_tests(
        tmp_path,
        [
            STUB,  # `mean` is not done: the last exception the notebook saw is NotImplementedError
            "def cube(x):\n    return x ** '3'",  # done, and wrong: a TypeError
            "def half(x):\n    return x / two",  # done, and wrong: a NameError inside the learner's code
        ],
    )
    assert got["a.test_cube"][0] == "error", got
    assert got["a.test_cube"][1].startswith("your code raised TypeError"), got
    assert got["a.test_half"][0] == "error", got
    assert "NameError: name 'two' is not defined" in got["a.test_half"][1], got
    assert got["a.test_mean"] == (
        "not_attempted",
        "not done yet: an earlier cell still raises NotImplementedError",
    )


def test_a_stubs_not_implemented_error_is_not_attempted(tmp_path: Path) -> None:
    got = run_tests(
        tmp_path,
        [
            STUB,  # mean's cell: the test meets a name the stub never defined
            "def cube(x):\n    raise NotImplementedError()",  # the stub raised by the tested call
            # the learner's code turned a stub's NotImplementedError into another exception
            "def _todo():\n    raise NotImplementedError()\n"
            "def square(x):\n    try:\n        return _todo()\n"
            "    except NotImplementedError:\n        raise ValueError('not ready')",
            "def half(x):\n    return x / 2",
        ],
    )
    assert got["a.test_mean"][0] == "not_attempted", got
    assert got["a.test_cube"][0] == "not_attempted", got
    assert got["a.test_square"][0] == "not_attempted", got
    assert got["a.test_half"] == ("passed", "all tests passed")
