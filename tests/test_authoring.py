"""Solution regions become stubs; bad markers are located; outputs are stripped."""

from __future__ import annotations

import pytest

from dl7.authoring import (
    CODE_STUB,
    MarkerError,
    has_outputs,
    learner_version,
    solution_regions,
    strip_solutions_from_source,
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
