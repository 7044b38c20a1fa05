"""Links in markdown cells: placeholders, malformed addresses and missing files are caught
with their cell and line; good links, code and links shown as code are left alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dl7.cli import app
from dl7.validate.links import bad_links


def notebook(*markdown: str) -> dict:
    return {"cells": [{"cell_type": "markdown", "metadata": {}, "source": m} for m in markdown]}


def found(tmp_path: Path, *markdown: str) -> list[str]:
    return [str(b) for b in bad_links(notebook(*markdown), tmp_path / "nb.ipynb")]


@pytest.mark.parametrize(
    "text",
    [
        "[Mazur](https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/)",
        "[ch. 1](http://neuralnetworksanddeeplearning.com/chap1.html#perceptrons)",
        "[Sigmoid](https://en.wikipedia.org/wiki/Sigmoid_function_(disambiguation))",
        '[titled](https://example.org/x "a title")',
        "<https://arxiv.org/abs/1412.6980>",
        "[write to us](mailto:course@example.org)",
        "[above](#2.-the-backward-pass)",
        "[the data](data.csv) and ![a figure](img/fig%201.png)",
        "[next notebook](../step2/next.ipynb#section)",
        "`[not a link]({PLACEHOLDER})` in code",
        "```\n[shown as code]({X})\n```",
        "an index a[i] (then words) is no link",
    ],
)
def test_good_links_and_code_pass(tmp_path: Path, text: str) -> None:
    (tmp_path / "data.csv").write_text("x\n")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "fig 1.png").write_bytes(b"")
    (tmp_path.parent / "step2").mkdir(exist_ok=True)
    (tmp_path.parent / "step2" / "next.ipynb").write_text("{}")
    assert found(tmp_path, text) == []


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[Caffe LeNet]({CAFFE})", "holds a placeholder that was never filled in"),
        ("[x](https://{HOST}/a)", "placeholder"),
        ("[x]()", "has an empty address"),
        ("[x](https:/example.org)", "is not a well-formed web address"),
        ("[x](https://localhost-typo/a)", "is not a well-formed web address"),
        ("[x](file:///home/me/notes.ipynb)", "uses file:"),
        ("[x](/home/me/notes.ipynb)", "is an absolute path"),
        ("[x](missing.ipynb)", "points to missing.ipynb, which does not exist next to the notebook"),
    ],
)
def test_bad_links_are_named_with_cell_and_line(tmp_path: Path, text: str, why: str) -> None:
    problems = found(tmp_path, "# Title\n", "first line\n" + text)
    assert len(problems) == 1
    assert problems[0].startswith("cell 2, line 2: link [")
    assert why in problems[0]


def test_code_cells_are_not_read_as_markdown(tmp_path: Path) -> None:
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "x = '[a]({B})'", "outputs": []}]}
    assert bad_links(nb, tmp_path / "nb.ipynb") == []


def test_validate_reports_a_placeholder_link_as_a_static_problem(course: Path) -> None:
    path = course / "notebooks" / "basics.ipynb"
    nb = json.loads(path.read_text())
    first_markdown = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown")
    nb["cells"][first_markdown]["source"] = "See [Caffe's LeNet]({CAFFE}) for the layers."
    path.write_text(json.dumps(nb))
    result = CliRunner().invoke(app, ["--curriculum", str(course), "validate", "--json", "step1"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    reasons = [p["reason"] for c in report["cases"] if c["case"] == "static" for p in c["problems"]]
    assert reasons == [
        f"cell {first_markdown + 1}, line 1: link [Caffe's LeNet]({{CAFFE}}) "
        "holds a placeholder that was never filled in"
    ]
