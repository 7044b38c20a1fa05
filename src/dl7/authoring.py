"""Single-source notebooks: solution regions in, learner versions out; known mistakes beside them.

A source notebook holds its solutions between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
lines (the convention nbgrader uses). The learner version replaces each region in a code cell
with a stub that raises ``NotImplementedError`` at the region's indentation, and each region in
a Markdown cell with a prompt. Outputs and execution counts are always stripped.

A solution region in a code cell may be followed at once by labelled *known mistakes*::

    ### BEGIN SOLUTION
    return (z > 0).astype(int)
    ### END SOLUTION
    ### BEGIN MISTAKE fires at exactly zero
    return (z >= 0).astype(int)
    ### END MISTAKE

The learner version drops them; :func:`solved_version` drops them too (so the solution runs
alone); :func:`with_mistakes` puts chosen mistakes in place of their solutions, which is how
``dl7 validate`` proves that each one makes its exercise fail.

Notebooks imported from nbgrader (``metadata.dl7.nbgrader`` holds nbgrader's stubs and
delimiters, written by ``dl7 import nbgrader``) follow nbgrader's own release rules instead
(``nbgrader/preprocessors/clearsolutions.py``, ``clearhiddentests.py``, ``clearmarkingscheme.py``):
a marker is any line that *contains* ``BEGIN SOLUTION`` (so ``###BEGIN SOLUTION``, ``# BEGIN
SOLUTION here`` and ``=== BEGIN MARK SCHEME ===`` count, case as written), a solution cell
without markers is replaced whole by nbgrader's stub, mark schemes go, and a region in a cell of
the wrong kind is refused as nbgrader refuses it. dl7's own courses keep the strict markers.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
BEGIN_MISTAKE = "### BEGIN MISTAKE"
END_MISTAKE = "### END MISTAKE"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"  # nbgrader's: the learner never sees what lies between
END_HIDDEN = "### END HIDDEN TESTS"
CODE_STUB = 'raise NotImplementedError("Exercise: replace this line with your code")'
MARKDOWN_STUB = "*YOUR ANSWER HERE*"
_MARKER = re.compile(r"^(\s*)(### (?:BEGIN|END) SOLUTION)\s*$")
_MISTAKE_MARKER = re.compile(r"^(\s*)### (BEGIN|END) MISTAKE(?:\s+(.*?))?\s*$")
# nbgrader's defaults (ClearSolutions.code_stub["python"], .text_stub and the delimiters)
NBGRADER_CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
NBGRADER_TEXT_STUB = "YOUR ANSWER HERE"
NBGRADER_HIDDEN = "BEGIN HIDDEN TESTS"  # matched anywhere in a line, as nbgrader does
NBGRADER_END_HIDDEN = "END HIDDEN TESTS"
NBGRADER_AUTOTEST = "AUTOTEST"  # InstantiateTests.autotest_delimiter: nbgrader >= 0.9's generated tests


@dataclass(frozen=True)
class NbgraderRules:
    """How nbgrader makes the student release of a notebook: its stubs and delimiters."""

    code_stub: str = NBGRADER_CODE_STUB
    text_stub: str = NBGRADER_TEXT_STUB
    begin_solution: str = "BEGIN SOLUTION"
    end_solution: str = "END SOLUTION"
    begin_hidden: str = NBGRADER_HIDDEN
    end_hidden: str = NBGRADER_END_HIDDEN
    begin_mark_scheme: str = "BEGIN MARK SCHEME"
    end_mark_scheme: str = "END MARK SCHEME"

    def as_metadata(self) -> dict[str, str]:
        return asdict(self)


def nbgrader_rules(nb: Any) -> NbgraderRules | None:
    """The nbgrader release rules of an imported notebook, or None for a dl7 notebook."""
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    dl7 = meta.get("dl7") if isinstance(meta, dict) else None
    given = dl7.get("nbgrader") if isinstance(dl7, dict) else None
    if not isinstance(given, dict):
        return None
    known = {f.name for f in fields(NbgraderRules)}
    # an empty delimiter would match every line: such a value is ignored
    return NbgraderRules(**{k: v for k, v in given.items() if k in known and isinstance(v, str) and v})


def _cell_flags(cell: Any) -> dict[str, Any]:
    meta = (cell.get("metadata") or {}).get("nbgrader") if isinstance(cell, dict) else None
    return meta if isinstance(meta, dict) else {}


class MarkerError(ValueError):
    """Solution or mistake markers that are unbalanced, nested or misplaced.

    ``cell`` is the cell's 0-based index; the message counts cells from 1, as Jupyter users do.
    """

    def __init__(self, cell: int, line: int, message: str) -> None:
        super().__init__(f"cell {cell + 1}, line {line}: {message}")
        self.cell = cell
        self.line = line


@dataclass(frozen=True)
class Region:
    """A solution region: the lines of its two markers (1-based), in cell ``cell`` (0-based)."""

    cell: int
    start_line: int
    end_line: int


@dataclass(frozen=True)
class Mistake:
    """A known mistake: its label, its own marker lines, and the solution region it replaces."""

    cell: int
    start_line: int
    end_line: int
    label: str
    solution: Region


def cell_source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def solution_regions(nb: Any) -> list[Region]:
    """Every solution region of a notebook; raises :class:`MarkerError` when markers are wrong.
    In an nbgrader notebook a solution cell without markers is one region, the whole cell."""
    regions: list[Region] = []
    rules = nbgrader_rules(nb)
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell_source(cell)
        found = _scan(source, index, cell.get("cell_type") == "markdown", rules)[0]
        if not found and rules is not None and _cell_flags(cell).get("solution"):
            # nbgrader replaces a solution cell without markers whole: one region, the cell
            found = [Region(index, 1, max(1, len(source.splitlines())))]
        regions.extend(found)
    return regions


def mistakes(nb: Any) -> list[Mistake]:
    """Every known mistake of a notebook, in order; raises :class:`MarkerError` when misplaced."""
    found: list[Mistake] = []
    rules = nbgrader_rules(nb)
    for index, cell in enumerate(nb.get("cells", [])):
        found.extend(_scan(cell_source(cell), index, cell.get("cell_type") == "markdown", rules)[1])
    return found


def _solution_marker(line: str, rules: NbgraderRules | None) -> str | None:
    """BEGIN or END when ``line`` is a solution marker: dl7's strict form, or nbgrader's."""
    if rules is None:
        match = _MARKER.match(line)
        return match.group(2) if match else None
    if rules.begin_solution in line:  # nbgrader tests BEGIN first: a line with both opens
        return BEGIN
    return END if rules.end_solution in line else None


def _scan(
    source: str, index: int, markdown: bool = False, rules: NbgraderRules | None = None
) -> tuple[list[Region], list[Mistake]]:
    regions: list[Region] = []
    found: list[Mistake] = []
    open_line: int | None = None  # an open solution region
    open_mistake: tuple[int, str] | None = None  # an open mistake: its line and label
    follows: Region | None = None  # the solution that a mistake starting here would replace
    labels: set[str] = set()  # labels of the mistakes that follow ``follows``
    for lineno, line in enumerate(source.splitlines(), start=1):
        solution = _solution_marker(line, rules)
        mistake = None if solution else _MISTAKE_MARKER.match(line)
        if not solution and not mistake:
            strict = (BEGIN in line or END in line) and rules is None
            if strict or BEGIN_MISTAKE in line or END_MISTAKE in line:
                raise MarkerError(index, lineno, "a solution or mistake marker must stand alone on its line")
            if line.strip() and open_line is None and open_mistake is None:
                follows = None  # code between a solution and a mistake: it no longer follows it
            continue
        if solution == BEGIN:
            if open_mistake is not None:
                raise MarkerError(
                    index, lineno, f"{BEGIN} inside a mistake (opened on line {open_mistake[0]})"
                )
            if open_line is not None:
                raise MarkerError(
                    index, lineno, f"nested {BEGIN} (the region opened on line {open_line} is not closed)"
                )
            open_line = lineno
        elif solution:
            if open_line is None:
                if rules is not None:
                    continue  # nbgrader drops a stray END line and says nothing
                raise MarkerError(index, lineno, f"{END} without a matching {BEGIN}")
            regions.append(Region(index, open_line, lineno))
            follows, labels = regions[-1], set()
            open_line = None
        elif mistake and mistake.group(2) == "BEGIN":
            label = (mistake.group(3) or "").strip()
            if open_line is not None:
                raise MarkerError(
                    index,
                    lineno,
                    f"{BEGIN_MISTAKE} inside a solution region (opened on line {open_line}); "
                    f"close the solution with {END} first",
                )
            if open_mistake is not None:
                raise MarkerError(
                    index,
                    lineno,
                    f"nested {BEGIN_MISTAKE} (the mistake opened on line {open_mistake[0]} is not closed)",
                )
            if markdown:
                raise MarkerError(index, lineno, "known mistakes belong in code cells, not Markdown")
            if not label:
                raise MarkerError(
                    index,
                    lineno,
                    f"{BEGIN_MISTAKE} needs a label that names the mistake, "
                    f"e.g. '{BEGIN_MISTAKE} fires at exactly zero'",
                )
            if follows is None:
                raise MarkerError(
                    index,
                    lineno,
                    f"the mistake {label!r} follows no solution: put it right after {END} "
                    "(or after another mistake of the same solution)",
                )
            if label in labels:
                raise MarkerError(index, lineno, f"two mistakes of one solution are labelled {label!r}")
            labels.add(label)
            open_mistake = (lineno, label)
        else:
            if open_mistake is None:
                raise MarkerError(index, lineno, f"{END_MISTAKE} without a matching {BEGIN_MISTAKE}")
            assert follows is not None
            found.append(Mistake(index, open_mistake[0], lineno, open_mistake[1], follows))
            open_mistake = None
    if open_line is not None:
        raise MarkerError(index, open_line, f"{BEGIN} is never closed")
    if open_mistake is not None:
        raise MarkerError(index, open_mistake[0], f"{BEGIN_MISTAKE} is never closed")
    return regions, found


def strip_solutions_from_source(source: str, *, markdown: bool = False, index: int = 0) -> str:
    """Replace every solution region of one cell's source by its stub, and drop its mistakes."""
    regions, found = _scan(source, index, markdown)  # validate first
    lines = source.splitlines()
    drop = {n for m in found for n in range(m.start_line, m.end_line + 1)}
    for region in regions:
        drop |= set(range(region.start_line + 1, region.end_line + 1))
    out: list[str] = []
    for lineno, line in enumerate(lines, start=1):
        if any(r.start_line == lineno for r in regions):
            indent = _MARKER.match(line)
            out.append((indent.group(1) if indent else "") + (MARKDOWN_STUB if markdown else CODE_STUB))
        elif lineno not in drop:
            out.append(line)
    return _join(out, source)


def _join(lines: list[str], like: str) -> str:
    text = "\n".join(lines)
    return text + "\n" if like.endswith("\n") else text


def strip_outputs(nb: Any) -> Any:
    """A copy of ``nb`` with no outputs and no execution counts."""
    nb = copy.deepcopy(nb)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def strip_hidden_tests(source: str, index: int = 0) -> str:
    """One cell's source without its ``### BEGIN HIDDEN TESTS`` regions, markers included."""
    out: list[str] = []
    open_line: int | None = None
    for lineno, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker == BEGIN_HIDDEN:
            if open_line is not None:
                raise MarkerError(index, lineno, f"nested {BEGIN_HIDDEN} (opened on line {open_line})")
            open_line = lineno
        elif marker == END_HIDDEN:
            if open_line is None:
                raise MarkerError(index, lineno, f"{END_HIDDEN} without a matching {BEGIN_HIDDEN}")
            open_line = None
        elif open_line is None:
            out.append(line)
    if open_line is not None:
        raise MarkerError(index, open_line, f"{BEGIN_HIDDEN} is never closed")
    while out and not out[-1].strip():
        out.pop()
    return _join(out, source)


def hidden_lines(source: str) -> set[int]:
    """Line numbers (1-based) inside one cell's hidden-test regions, markers included.

    Unlike :func:`strip_hidden_tests` it never raises: it runs in the learner's kernel, where
    it only decides which lines of a failing test must not be shown.
    """
    hidden: set[int] = set()
    inside = False
    for lineno, line in enumerate(source.splitlines(), start=1):
        # nbgrader's matching (the words anywhere in the line): it only ever hides more
        if NBGRADER_HIDDEN in line:
            inside = True
        if inside:
            hidden.add(lineno)
        if NBGRADER_END_HIDDEN in line and NBGRADER_HIDDEN not in line:
            inside = False
    return hidden


def learner_version(nb: Any) -> Any:
    """The notebook a learner starts from: solutions replaced by stubs, mistakes and hidden
    tests dropped, outputs stripped."""
    rules = nbgrader_rules(nb)
    if rules is not None:
        return nbgrader_release(nb, rules)
    nb = strip_outputs(nb)
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell_source(cell)
        if BEGIN_HIDDEN in source or END_HIDDEN in source:
            source = cell["source"] = strip_hidden_tests(source, index)
        if any(m in source for m in (BEGIN, END, BEGIN_MISTAKE, END_MISTAKE)):
            cell["source"] = strip_solutions_from_source(
                source, markdown=cell.get("cell_type") == "markdown", index=index
            )
    return nb


def nbgrader_release(nb: Any, rules: NbgraderRules | None = None) -> Any:
    """What ``nbgrader generate_assignment`` gives students, cell by cell: solution regions (or a
    whole solution cell without any) replaced by the stubs, hidden tests and mark schemes
    removed, outputs stripped; dl7's known mistakes are dropped too. A region in a cell of the
    wrong kind raises :class:`MarkerError`, where nbgrader stops with an error."""
    rules = rules or NbgraderRules()
    nb = strip_outputs(nb)
    for index, cell in enumerate(nb.get("cells", [])):
        flags, markdown = _cell_flags(cell), cell.get("cell_type") == "markdown"
        source = cell_source(cell)
        _, found = _scan(source, index, markdown, rules)  # refuses nested and unclosed regions
        if found:
            drop = {n for m in found for n in range(m.start_line, m.end_line + 1)}
            source = _join([x for n, x in enumerate(source.split("\n"), 1) if n not in drop], source)
        stub = rules.text_stub if cell.get("cell_type") != "code" else rules.code_stub
        source, at = _nbgrader_region(source, rules.begin_solution, rules.end_solution, stub, index)
        if at and not flags.get("solution"):
            raise MarkerError(index, at, "a solution region in a cell that is not a solution cell")
        if flags.get("solution") and not at:
            source = stub  # nbgrader replaces a solution cell without markers whole
        source, at = _nbgrader_region(source, rules.begin_hidden, rules.end_hidden, None, index)
        if at and not flags.get("grade"):
            raise MarkerError(index, at, "hidden tests in a cell that is not an autograded test cell")
        source, at = _nbgrader_region(source, rules.begin_mark_scheme, rules.end_mark_scheme, None, index)
        if at and not flags.get("task"):
            raise MarkerError(index, at, "a mark scheme in a cell that is not a manually graded task")
        cell["source"] = source
    meta = nb.get("metadata", {})
    meta.pop("celltoolbar", None)
    if isinstance(meta.get("dl7"), dict):  # the rules are the course's business, not the learner's
        meta["dl7"].pop("nbgrader", None)
        if not meta["dl7"]:
            del meta["dl7"]
    return nb


def _nbgrader_region(source: str, begin: str, end: str, stub: str | None, index: int) -> tuple[str, int]:
    """``source`` with every ``begin``..``end`` region replaced by ``stub`` (indented like its
    BEGIN line) or removed, line by line as nbgrader does; and the first BEGIN line (0: none)."""
    if begin not in source and end not in source:
        return source, 0
    out: list[str] = []
    first = opened = 0
    for lineno, line in enumerate(source.split("\n"), start=1):
        if begin in line:
            if opened:
                raise MarkerError(index, lineno, f"nested {begin!r} (the region opened on line {opened})")
            opened, first = lineno, first or lineno
            if stub is not None:
                indent = line[: len(line) - len(line.lstrip())]
                out.extend(indent + s for s in stub.split("\n"))
        elif end in line:
            opened = 0
        elif not opened:
            out.append(line)
    if opened:
        raise MarkerError(index, opened, f"{begin!r} is never closed")
    return "\n".join(out), first


def solved_version(nb: Any) -> Any:
    """The source notebook with its known mistakes dropped, so each solution runs alone."""
    return with_mistakes(nb, ())


def with_mistakes(nb: Any, chosen: Iterable[Mistake]) -> Any:
    """The solved notebook with each chosen mistake in place of the solution it follows.

    Markers stay (they are comments); every mistake not chosen is dropped; outputs are stripped.
    """
    rules = nbgrader_rules(nb)
    nb = strip_outputs(nb)
    by_cell: dict[int, list[Mistake]] = {}
    for m in chosen:
        by_cell.setdefault(m.cell, []).append(m)
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell_source(cell)
        if BEGIN_MISTAKE not in source:
            continue
        lines = source.splitlines()
        _, found = _scan(source, index, rules=rules)
        use = {m.solution.start_line: m for m in by_cell.get(index, [])}
        drop = {n for m in found for n in range(m.start_line, m.end_line + 1)}
        out: list[str] = []
        skip_until = 0
        for lineno, line in enumerate(lines, start=1):
            if lineno <= skip_until or lineno in drop:
                continue
            out.append(line)
            if lineno in use:  # the solution's BEGIN marker: the mistake's body replaces its body
                m = use[lineno]
                out.extend(lines[m.start_line : m.end_line - 1])
                out.append(lines[m.solution.end_line - 1])
                skip_until = m.solution.end_line
        cell["source"] = _join(out, source)
    return nb


def has_outputs(nb: Any) -> list[int]:
    """Indices of code cells that carry outputs or execution counts."""
    return [
        i
        for i, cell in enumerate(nb.get("cells", []))
        if cell.get("cell_type") == "code"
        and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
