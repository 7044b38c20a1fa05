"""Single-source notebooks: solution regions in, learner versions out.

A source notebook holds its solutions between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
lines (the convention nbgrader uses). The learner version replaces each region in a code cell
with a stub that raises ``NotImplementedError`` at the region's indentation, and each region in
a Markdown cell with a prompt. Outputs and execution counts are always stripped.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CODE_STUB = 'raise NotImplementedError("Exercise: replace this line with your code")'
MARKDOWN_STUB = "*YOUR ANSWER HERE*"
_MARKER = re.compile(r"^(\s*)(### (?:BEGIN|END) SOLUTION)\s*$")


class MarkerError(ValueError):
    """Solution markers that are unbalanced or nested; says which cell and line."""

    def __init__(self, cell: int, line: int, message: str) -> None:
        super().__init__(f"cell {cell}, line {line}: {message}")
        self.cell = cell
        self.line = line


@dataclass(frozen=True)
class Region:
    cell: int
    start_line: int
    end_line: int


def cell_source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def solution_regions(nb: Any) -> list[Region]:
    """Every solution region of a notebook; raises :class:`MarkerError` when unbalanced."""
    regions: list[Region] = []
    for index, cell in enumerate(nb.get("cells", [])):
        regions.extend(_regions_in(cell_source(cell), index))
    return regions


def _regions_in(source: str, index: int) -> list[Region]:
    regions: list[Region] = []
    open_line: int | None = None
    for lineno, line in enumerate(source.splitlines(), start=1):
        match = _MARKER.match(line)
        if not match:
            if BEGIN in line or END in line:
                raise MarkerError(index, lineno, "a solution marker must stand alone on its line")
            continue
        if match.group(2) == BEGIN:
            if open_line is not None:
                raise MarkerError(
                    index, lineno, f"nested {BEGIN} (the region opened on line {open_line} is not closed)"
                )
            open_line = lineno
        else:
            if open_line is None:
                raise MarkerError(index, lineno, f"{END} without a matching {BEGIN}")
            regions.append(Region(index, open_line, lineno))
            open_line = None
    if open_line is not None:
        raise MarkerError(index, open_line, f"{BEGIN} is never closed")
    return regions


def strip_solutions_from_source(source: str, *, markdown: bool = False, index: int = 0) -> str:
    """Replace every solution region of one cell's source by its stub."""
    _regions_in(source, index)  # validate first
    out: list[str] = []
    inside = False
    for line in source.splitlines():
        match = _MARKER.match(line)
        if match and match.group(2) == BEGIN:
            inside = True
            out.append(match.group(1) + (MARKDOWN_STUB if markdown else CODE_STUB))
        elif match:
            inside = False
        elif not inside:
            out.append(line)
    text = "\n".join(out)
    return text + "\n" if source.endswith("\n") else text


def strip_outputs(nb: Any) -> Any:
    """A copy of ``nb`` with no outputs and no execution counts."""
    nb = copy.deepcopy(nb)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def learner_version(nb: Any) -> Any:
    """The notebook a learner starts from: solutions replaced by stubs, outputs stripped."""
    nb = strip_outputs(nb)
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell_source(cell)
        if BEGIN in source or END in source:
            cell["source"] = strip_solutions_from_source(
                source, markdown=cell.get("cell_type") == "markdown", index=index
            )
    return nb


def has_outputs(nb: Any) -> list[int]:
    """Indices of code cells that carry outputs or execution counts."""
    return [
        i
        for i, cell in enumerate(nb.get("cells", []))
        if cell.get("cell_type") == "code"
        and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
