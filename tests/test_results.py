"""Reading results back from an executed notebook, without a kernel."""

from __future__ import annotations

from typing import Any

import pytest

from dl7.checks import MIME_TYPE
from dl7.curriculum import Exercise, Notebook
from dl7.execute import Execution
from dl7.results import calls_in, cell_errors, check_calls, collect, observed, stray_errors

MANIFEST = Notebook(
    "nb.ipynb",
    "NB",
    10,
    60,
    (Exercise("s.a", "A", None, (), "nb.ipynb"), Exercise("s.b", "B", None, (), "nb.ipynb")),
    "s",
)


def code(source: str, *outputs: dict[str, Any]) -> dict[str, Any]:
    return {"cell_type": "code", "source": source, "outputs": list(outputs)}


def bundle(ex: str, status: str, message: str = "m") -> dict[str, Any]:
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {MIME_TYPE: {"id": ex, "status": status, "message": message, "seconds": 0.1}},
    }


def error(ename: str, evalue: str, line: int = 2) -> dict[str, Any]:
    tb = ["\x1b[31m---\x1b[0m", f"Cell \x1b[32mIn[4]\x1b[39m, line {line}\n", f"{ename}: {evalue}"]
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": tb}


def run(
    cells: list[dict[str, Any]], outcome: str = "completed", stopped: int | None = None
) -> dict[str, str]:
    execution = Execution({"cells": cells}, outcome, stopped, "the kernel died", 1.0)
    return {r.id: f"{r.status}: {r.message}" for r in collect(MANIFEST, execution)}


def test_bundles_are_the_result() -> None:
    got = run(
        [
            code('check("s.a", f)', bundle("s.a", "passed", "fine")),
            code('check("s.b", g)', bundle("s.b", "failed", "g(0) returned 1")),
        ]
    )
    assert got == {"s.a": "passed: fine", "s.b": "failed: g(0) returned 1"}


def test_not_implemented_in_the_span_is_not_attempted() -> None:
    got = run(
        [
            code("x = todo()", error("NotImplementedError", "")),
            code('check("s.a", x)', error("NameError", "x")),
            code('check("s.b", g)', bundle("s.b", "passed")),
        ]
    )
    assert got["s.a"].startswith("not_attempted: not done yet: cell 1")


def test_own_error_then_dependent_not_reached() -> None:
    got = run(
        [
            code("def f(:", error("SyntaxError", "invalid syntax", 1)),
            code('check("s.a", f)', error("NameError", "f")),
            code('check("s.b", f)', error("NameError", "name 'f' is not defined")),
        ]
    )
    assert got["s.a"] == "error: SyntaxError: invalid syntax (cell 1, line 1)"
    assert got["s.b"].startswith("not_reached: not reached: an earlier cell failed: SyntaxError")


def test_dead_kernel_leaves_later_exercises_not_reached() -> None:
    got = run(
        [code('check("s.a", f)', bundle("s.a", "passed")), code("boom()"), code('check("s.b", g)')],
        outcome="dead",
        stopped=1,
    )
    assert got["s.b"] == "not_reached: not reached: the run stopped at cell 2: the kernel died"


def test_a_deleted_check_is_reported() -> None:
    got = run([code('check("s.a", f)', bundle("s.a", "passed"))])
    assert got["s.b"].startswith("not_reached: the notebook never calls check('s.b')")


def test_check_calls_ignore_comments_and_markdown() -> None:
    nb = {
        "cells": [
            code('# check("s.old", f)\ncheck("s.new", f)  # check("s.x")'),
            {"cell_type": "markdown", "source": 'check("s.md", f)'},
        ]
    }
    assert check_calls(nb) == {"s.new": [0]}


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ('# check("s.a", f)', []),  # commented out: it checks nothing
        ('x = 1  # then check("s.a", f)', []),
        ('print("#"); check("s.a", f)', [(1, "s.a")]),  # a `#` in a string starts no comment
        ("msg = \"run check('s.a', f) next\"", []),  # in a string: only words
        ('"""\ncheck("s.a", f)\n"""\ncheck("s.b", f)', [(4, "s.b")]),  # in a docstring
        ("check( 's.a' , f)", [(1, "s.a")]),
        ('check("s.a",\n      f)', [(1, "s.a")]),
        ('check("s.a", f); check("s.b", g)', [(1, "s.a"), (1, "s.b")]),  # two on one line
        ("check(name, f)", []),  # a non-literal id names no exercise the runner can know
        ('check(f"s.{n}", f)', []),
        ('check("s." + n, f)', []),
        ('dl7.check("s.a", f)', [(1, "s.a")]),  # an attribute call is a check call too
        ('recheck("s.a", f)\n_check("s.b")', []),
    ],
)
def test_one_rule_finds_check_calls(source: str, found: list[tuple[int, str]]) -> None:
    assert [(call.line, call.exercise) for call in calls_in(source)] == found


def test_a_bundle_names_only_what_a_check_can_end_in() -> None:
    got = run(
        [code('check("s.a", f)', bundle("s.a", "not_run")), code('check("s.b", f)', bundle("s.b", "passed"))]
    )
    assert got["s.a"] == "failed: m"


def test_error_line_is_read_from_the_traceback() -> None:
    errors = cell_errors({"cells": [code("x", error("ValueError", "bad", line=7))]})
    assert errors[0].line == 7 and errors[0].describe() == "ValueError: bad (cell 1, line 7)"


def strays(cells: list[dict[str, Any]]) -> list[str]:
    execution = Execution({"cells": cells}, "completed", None, "", 1.0)
    return [e.describe() for e in stray_errors(MANIFEST, execution, collect(MANIFEST, execution))]


def test_a_cell_that_raises_after_the_checks_is_reported() -> None:
    cells = [
        code('check("s.a", f)', bundle("s.a", "passed")),
        code('check("s.b", g)', bundle("s.b", "passed")),
        code("plot(history)", error("ValueError", "x and y differ", line=3)),
    ]
    assert strays(cells) == ["ValueError: x and y differ (cell 3, line 3)"]


def test_a_cell_that_raises_before_a_passing_check_is_reported() -> None:
    cells = [
        code("f = lambda x: x\nboom()", error("NameError", "name 'boom' is not defined")),
        code('check("s.a", f)', bundle("s.a", "passed")),
        code('check("s.b", g)', bundle("s.b", "passed")),
    ]
    assert strays(cells) == ["NameError: name 'boom' is not defined (cell 1, line 2)"]


def test_an_error_an_exercise_already_reports_is_not_repeated() -> None:
    cells = [
        code("def f(:", error("SyntaxError", "invalid syntax", 1)),
        code('check("s.a", f)', error("NameError", "f")),
        code('check("s.b", g)', bundle("s.b", "passed")),
    ]
    assert strays(cells) == []


def test_a_cell_tagged_raises_exception_is_expected_to_raise() -> None:
    tagged = code("1 / 0", error("ZeroDivisionError", "division by zero"))
    tagged["metadata"] = {"tags": ["raises-exception"]}
    cells = [
        code('check("s.a", f)', bundle("s.a", "passed")),
        tagged,
        code('check("s.b", g)', bundle("s.b", "passed")),
    ]
    assert strays(cells) == []
    assert cell_errors({"cells": cells}) == {}


CHECKED = [code('check("s.a", f)', bundle("s.a", "passed")), code('check("s.b", g)', bundle("s.b", "passed"))]


@pytest.mark.parametrize(
    ("outcome", "message", "named"),
    [
        ("timeout", "the cell ran longer than its limit of 3 s", "CellTimeoutError"),
        ("budget", "the notebook ran past its time budget of 60 s", "CellTimeoutError"),
        ("dead", "the kernel died (out of memory, or a crash in native code)", "DeadKernelError"),
    ],
)
def test_a_run_that_stops_after_the_last_check_is_no_pass(outcome: str, message: str, named: str) -> None:
    execution = Execution({"cells": [*CHECKED, code("train()")]}, outcome, 2, message, 1.0)
    found = stray_errors(MANIFEST, execution, collect(MANIFEST, execution))
    assert [e.describe() for e in found] == [f"{named}: {message} (cell 3)"]


def test_a_run_that_stops_before_a_check_is_reported_by_that_exercise_only() -> None:
    cells = [CHECKED[0], code("train()"), code('check("s.b", g)')]
    execution = Execution({"cells": cells}, "timeout", 1, "the cell ran longer than its limit of 3 s", 1.0)
    results = collect(MANIFEST, execution)
    assert [r.status for r in results] == ["passed", "not_reached"]
    assert stray_errors(MANIFEST, execution, results) == []


def test_an_interrupted_run_records_only_the_exercises_it_reached() -> None:
    cells = [CHECKED[0], code("train()"), code('check("s.b", g)')]
    execution = Execution({"cells": cells}, "interrupted", 1, "interrupted (Ctrl-C)", 1.0)
    results = collect(MANIFEST, execution)
    assert [r.id for r in observed(execution, results)] == ["s.a"]
    done = Execution({"cells": cells}, "completed", None, "", 1.0)
    assert [r.id for r in observed(done, collect(MANIFEST, done))] == ["s.a", "s.b"]
