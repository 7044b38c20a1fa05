"""Solution regions become stubs; bad markers are located; outputs are stripped."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dl7.authoring
from dl7.authoring import (
    CODE_STUB,
    MarkerError,
    Region,
    has_outputs,
    hidden_lines,
    learner_version,
    mistakes,
    solution_regions,
    solved_version,
    strip_solutions_from_source,
    with_mistakes,
)


def test_region_becomes_an_indented_stub() -> None:
    src = "def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n"
    assert strip_solutions_from_source(src) == f"def f(x):\n    {CODE_STUB}\n"


def test_code_outside_regions_is_kept_and_several_regions_work() -> None:
    region = "### BEGIN SOLUTION\n{}\n### END SOLUTION"
    src = "a = 1\n" + region.format("b = 2") + "\nc = 3\n" + region.format("d = 4")
    out = strip_solutions_from_source(src)
    assert out.splitlines() == ["a = 1", CODE_STUB, "c = 3", CODE_STUB]


def test_markdown_region_gets_a_prompt() -> None:
    out = strip_solutions_from_source("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", markdown=True)
    assert out == "Why?\n*YOUR ANSWER HERE*"


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("### BEGIN SOLUTION\nx = 1\n", 1, "never closed"),
        ("x = 1\n### END SOLUTION\n", 2, "without a matching"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", 2, "nested"),
        ("x = 1  ### BEGIN SOLUTION\n", 1, "alone on its line"),
    ],
)
def test_bad_markers_are_located(source: str, line: int, words: str) -> None:
    nb = {"cells": [{"cell_type": "markdown", "source": "intro"}, {"cell_type": "code", "source": source}]}
    with pytest.raises(MarkerError) as info:
        solution_regions(nb)
    assert info.value.cell == 1 and info.value.line == line
    assert words in str(info.value)


def test_learner_version_strips_outputs_and_leaves_the_source_alone() -> None:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "source": [
                    "def f():\n",
                    "    ### BEGIN SOLUTION\n",
                    "    return 1\n",
                    "    ### END SOLUTION",
                ],
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi"}],
                "execution_count": 3,
                "metadata": {},
            }
        ]
    }
    learner = learner_version(nb)
    assert has_outputs(nb) == [0]
    assert has_outputs(learner) == []
    assert "return 1" not in learner["cells"][0]["source"]
    assert "return 1" in "".join(nb["cells"][0]["source"]), "the source notebook is not modified"


MISTAKEN = (
    "def f(x):\n"
    "    ### BEGIN SOLUTION\n"
    "    return x + 1\n"
    "    ### END SOLUTION\n"
    "    ### BEGIN MISTAKE adds two\n"
    "    return x + 2\n"
    "    ### END MISTAKE\n"
    "\n"
    "    ### BEGIN MISTAKE subtracts\n"
    "    y = x - 1\n"
    "    return y\n"
    "    ### END MISTAKE\n"
)


def _nb(*sources: str) -> dict:
    return {"cells": [{"cell_type": "code", "source": s, "metadata": {}, "outputs": []} for s in sources]}


def test_mistakes_are_found_with_their_solution() -> None:
    found = mistakes(_nb("x = 1", MISTAKEN))
    assert [(m.cell, m.start_line, m.end_line, m.label) for m in found] == [
        (1, 5, 7, "adds two"),
        (1, 9, 12, "subtracts"),
    ]
    assert {m.solution for m in found} == {Region(1, 2, 4)}


def test_the_learner_copy_never_holds_a_mistake() -> None:
    learner = learner_version(_nb(MISTAKEN))["cells"][0]["source"]
    assert learner == f"def f(x):\n    {CODE_STUB}\n\n"
    assert "MISTAKE" not in learner and "x + 2" not in learner and "x - 1" not in learner


def test_the_solved_version_drops_mistakes_and_a_mistake_replaces_its_solution() -> None:
    nb = _nb(MISTAKEN)
    solved = solved_version(nb)["cells"][0]["source"]
    assert "return x + 1" in solved and "MISTAKE" not in solved and "x + 2" not in solved
    second = mistakes(nb)[1]
    wrong = with_mistakes(nb, [second])["cells"][0]["source"]
    assert wrong.splitlines() == [
        "def f(x):",
        "    ### BEGIN SOLUTION",
        "    y = x - 1",
        "    return y",
        "    ### END SOLUTION",
        "",
    ]
    namespace: dict = {}
    exec(wrong, namespace)
    assert namespace["f"](5) == 4
    assert nb["cells"][0]["source"] == MISTAKEN, "the source notebook is not modified"


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        (
            "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### BEGIN MISTAKE\nx = 2\n### END MISTAKE\n",
            4,
            "needs a label",
        ),
        ("x = 1\n### BEGIN MISTAKE off by one\nx = 2\n### END MISTAKE\n", 2, "follows no solution"),
        (
            "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\ny = 2\n"
            "### BEGIN MISTAKE late\nx = 2\n### END MISTAKE\n",
            5,
            "follows no solution",
        ),
        (
            "### BEGIN SOLUTION\nx = 1\n### BEGIN MISTAKE inside\nx = 2\n### END MISTAKE\n### END SOLUTION\n",
            3,
            "inside a solution region (opened on line 1)",
        ),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### BEGIN MISTAKE open\nx = 2\n", 4, "never closed"),
        ("x = 1\n### END MISTAKE\n", 2, "without a matching"),
        (
            "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### BEGIN MISTAKE same\nx = 2\n### END MISTAKE\n"
            "### BEGIN MISTAKE same\nx = 3\n### END MISTAKE\n",
            7,
            "labelled 'same'",
        ),
    ],
)
def test_bad_mistake_markers_are_located(source: str, line: int, words: str) -> None:
    nb = {"cells": [{"cell_type": "markdown", "source": "intro"}, {"cell_type": "code", "source": source}]}
    with pytest.raises(MarkerError) as info:
        mistakes(nb)
    assert info.value.cell == 1 and info.value.line == line
    assert words in str(info.value) and str(info.value).startswith(f"cell 2, line {line}:")
    with pytest.raises(MarkerError):
        learner_version(nb)


def test_hidden_lines_are_the_region_and_its_markers() -> None:
    src = "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS\nassert f(0) == 0"
    assert hidden_lines(src) == {2, 3, 4}


def test_every_marker_is_spelled_only_in_authoring() -> None:
    # One definition of the markers: a module that writes one out as a string of its own
    # (not in a docstring or a message) has drifted from authoring's spelling once already.
    markers = {
        dl7.authoring.BEGIN,
        dl7.authoring.END,
        dl7.authoring.BEGIN_MISTAKE,
        dl7.authoring.END_MISTAKE,
        dl7.authoring.BEGIN_HIDDEN,
        dl7.authoring.END_HIDDEN,
    }
    src = Path(dl7.authoring.__file__).parent
    spelled = [
        f"{path.relative_to(src)}:{node.lineno}"
        for path in sorted(src.rglob("*.py"))
        if path.name != "authoring.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip() in markers
    ]
    assert spelled == []
