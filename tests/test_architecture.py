"""The runner's import graph, read from the source with ``ast``: no circle, and every import from a
lower floor to a higher one says why at the import (``# upward: why``).

Every ``import`` of a ``dl7`` module is an edge: at module level, or inside a function (those run
later, but a circle through them is still a circle: two modules that each need the other).
Imports under ``if TYPE_CHECKING:`` never run and are left out. Edges into the root package
``dl7`` are left out too: Python runs ``dl7/__init__.py`` before any ``dl7.x`` anyway, so an
explicit ``from dl7 import __version__`` adds nothing (and the root imports nothing of dl7 at
module level, which a test below holds). An import marked ``# upward:`` is explained, so it may
close a circle through function-level imports; a circle of module-level imports alone never may.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "dl7"
MARK = "# upward:"


@dataclass(frozen=True)
class Edge:
    source: str  # the importing module
    target: str  # the dl7 module it imports
    where: str  # file:line
    module_level: bool
    explained: bool  # carries "# upward: why"
    text: str  # the import statement as written (first line)


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / ROOT).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _existing(name: str, modules: dict[str, Path]) -> str:
    """The module ``name`` runs: itself, or the nearest package above it (``dl7.x.attr``)."""
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, path: Path, modules: dict[str, Path]
) -> list[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
        return [_existing(n, modules) for n in names if n == ROOT or n.startswith(ROOT + ".")]
    if node.level:  # from . import x, from ..y import z
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for _ in range(node.level - 1):
            package = package.rsplit(".", 1)[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    if not (base == ROOT or base.startswith(ROOT + ".")):
        return []
    # `from dl7 import textsets` imports the module dl7.textsets; `from dl7.x import f` imports dl7.x.
    return [
        f"{base}.{a.name}" if f"{base}.{a.name}" in modules else _existing(base, modules) for a in node.names
    ]


def _walk(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import that can run, with whether it runs at module level."""

    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, not in_function
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:  # the body never runs; the else branch does
                    yield from visit(ast.Module(body=[other], type_ignores=[]), in_function)
            else:
                inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                yield from visit(child, inner)

    yield from visit(tree, False)


@functools.cache
def edges() -> tuple[Edge, ...]:
    """Every import of a dl7 module by a dl7 module, once per statement and target."""
    modules = _modules()
    found: list[Edge] = []
    for module, path in modules.items():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node, module_level in _walk(ast.parse(source, filename=str(path))):
            statement = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
            explained = any(MARK in line for line in statement)
            for target in dict.fromkeys(_targets(node, module, path, modules)):  # once a statement
                if target != module:
                    where = f"{path.relative_to(SRC)}:{node.lineno}"
                    found.append(Edge(module, target, where, module_level, explained, statement[0].strip()))
    return tuple(found)


def _floor(module: str) -> str:
    if module in (ROOT, f"{ROOT}.__main__"):
        return "entry"
    short = module.removeprefix(ROOT + ".")
    if short in ("cli", "fastpath") or short.startswith("cli_"):
        return "cli"
    if short == "checks" or short.startswith("checks."):
        return "checks"  # runs inside the learner's kernel
    return "core"


def is_upward(edge: Edge) -> bool:
    """Core (services included) reaching up to the CLI, or the kernel side reaching out of checks."""
    if edge.target == ROOT:  # the version string: the root is the bottom floor as well as the door
        return False
    low, high = _floor(edge.source), _floor(edge.target)
    if low == "core":
        return high in ("cli", "entry")
    if low == "checks":
        return high != "checks"
    return low == "cli" and high == "entry"


@dataclass(frozen=True)
class Circle:
    path: tuple[str, ...]  # round one circle: start, ..., start
    knot: tuple[str, ...]  # every module caught with it (a strongly connected part), sorted


def circles(graph: dict[str, set[str]]) -> list[Circle]:
    """One circle for each strongly connected part of ``graph`` (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    parts: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                part.append(top)
                if top == node:
                    break
            if len(part) > 1:
                parts.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [Circle(_path_within(part, graph), tuple(part)) for part in sorted(parts)]


def _path_within(part: list[str], graph: dict[str, set[str]]) -> tuple[str, ...]:
    """The shortest way from the part's first module back to itself, inside the part."""
    start, members = part[0], set(part)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        reached = []
        for node in frontier:
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    return (*paths[node], start)
                if nxt in members and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    reached.append(nxt)
        frontier = reached
    raise AssertionError(f"no circle inside the strongly connected part {part}")


def _report(found: list[Circle], used: list[Edge]) -> str:
    """Each circle, then every import between the modules caught in it."""
    lines = [f"{len(found)} import circle(s):"]
    for circle in found:
        others = [m for m in circle.knot if m not in circle.path]
        also = f" (caught with it: {', '.join(others)})" if others else ""
        lines.append("  " + " -> ".join(circle.path) + also)
        for e in used:
            if e.source in circle.knot and e.target in circle.knot:
                level = "module level" if e.module_level else "in a function"
                lines.append(f"      {e.where} ({level}): {e.text}")
    return "\n".join(lines)


def _graph(used: list[Edge]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for e in used:
        if e.target != ROOT:
            graph.setdefault(e.source, set()).add(e.target)
    return graph


def test_the_parser_sees_what_python_imports() -> None:
    """The graph is only as good as its parsing: pin a few edges that are known to exist."""
    got = {(e.source, e.target, e.module_level) for e in edges()}
    assert ("dl7.cli", "dl7.cli_common", True) in got
    assert ("dl7", "dl7.fastpath", False) in got  # from dl7 import fastpath, inside main()
    assert ("dl7.cli_data", "dl7.datasets", False) in got  # TYPE_CHECKING's copy is left out
    assert not any(
        e.source == "dl7.cli_data" and e.target == "dl7.datasets" and e.module_level for e in edges()
    )
    assert any(e.source.startswith("dl7.validate.") and e.target.startswith("dl7.validate.") for e in edges())


def test_the_root_package_imports_nothing_of_dl7_at_module_level() -> None:
    # Why edges into `dl7` can be left out of the circles: the root never starts one.
    assert [e.where for e in edges() if e.source == ROOT and e.module_level] == []


def test_no_circle_among_module_level_imports() -> None:
    used = [e for e in edges() if e.module_level]
    found = circles(_graph(used))
    assert not found, _report(found, used)


def test_no_circle_that_an_upward_comment_does_not_explain() -> None:
    used = [e for e in edges() if not e.explained]
    found = circles(_graph(used))
    assert not found, _report(found, used)


def test_every_upward_import_says_why() -> None:
    upward = [e for e in edges() if is_upward(e)]
    silent = [f"{e.where}: {e.source} -> {e.target}: {e.text}" for e in upward if not e.explained]
    assert not silent, (
        f"imports from a lower floor to a higher one need `{MARK} why` on the import line:\n  "
        + "\n  ".join(silent)
    )


def test_no_sub_app_imports_the_cli_module() -> None:
    wrong = [e.where for e in edges() if e.target == "dl7.cli" and _floor(e.source) == "cli"]
    assert wrong == [], "shared CLI types live in dl7.cli_types and dl7.cli_common"


def test_the_circle_finder_finds_a_circle() -> None:
    """The finder itself, on a made-up graph: a test that passes on every input proves nothing."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}}
    assert circles(graph) == [
        Circle(("a", "b", "c", "a"), ("a", "b", "c")),
        Circle(("e", "e2", "e"), ("e", "e2")),
    ]
    assert circles({"a": {"b"}, "b": set()}) == []
