"""Known mistakes → the few kernel runs ("rounds") that prove each one fails its exercise.

A mistake belongs to the exercise whose ``check(...)`` call comes first after it. Mistakes of
different exercises share a run only when neither can change what the other's check sees: a
mistake *taints* its cell, every later cell that reads a name a tainted cell wrote or read
(functions are called at run time, so a cell that reads ``predict`` may run the mistake), and
so on down the notebook. Two mistakes share a run when neither taints the other's cell or the
other's check. Names bound by ``import`` are not followed (a module is not the learner's state);
so a mistake that only changes how much of NumPy's global random stream it draws is assumed
not to change a later exercise's verdict.

A run stops after the last check it judges, so a mistake early in a notebook costs only the
cells up to its check.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from typing import Any

from dl7.authoring import BEGIN_MISTAKE, END, END_MISTAKE, Mistake, cell_source, mistakes
from dl7.results import find_check_calls
from dl7.validate.model import KnownMistake

_BUILTINS = frozenset(dir(builtins))


class Unowned(ValueError):
    """A mistake with no ``check(...)`` after it."""

    def __init__(self, mistake: Mistake) -> None:
        super().__init__(
            f"cell {mistake.cell + 1}, line {mistake.start_line}: the mistake {mistake.label!r} has no "
            "check(...) after it, so no exercise can reject it"
        )


def known_mistakes(nb: Any) -> list[KnownMistake]:
    """Every known mistake with its exercise; raises MarkerError or :class:`Unowned`."""
    calls = _calls(nb)
    found: list[KnownMistake] = []
    for m in mistakes(nb):
        owner = next(
            (ex for cell, line, ex in calls if cell > m.cell or (cell == m.cell and line > m.end_line)), None
        )
        if owner is None:
            raise Unowned(m)
        found.append(KnownMistake(owner, m))
    return found


def check_cell(nb: Any, exercise: str) -> int:
    return next(cell for cell, _, ex in _calls(nb) if ex == exercise)


def _calls(nb: Any) -> list[tuple[int, int, str]]:
    """(cell, line, exercise id) of every check call in code cells, in order."""
    return [(call.cell, call.line, call.exercise) for call in find_check_calls(nb)]


@dataclass(frozen=True)
class _Cell:
    reads: frozenset[str]
    writes: frozenset[str]
    opaque: bool  # could not be parsed: assume it reads and writes everything


def _analyse(source: str) -> _Cell:
    lines = [
        line
        for line in source.splitlines()
        if not line.lstrip().startswith(("%", "!"))
        and not line.strip().startswith((BEGIN_MISTAKE, END_MISTAKE, END))
    ]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return _Cell(frozenset(), frozenset(), True)
    reads: set[str] = set()
    writes: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
            reads.add(node.id)
        elif isinstance(node, ast.Global):
            writes.update(node.names)
    for stmt in tree.body:
        writes |= _module_stores(stmt)
    return _Cell(frozenset(reads), frozenset(writes), False)


def _module_stores(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement binds in the notebook's namespace (not inside functions)."""
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {stmt.name}
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    names: set[str] = set()
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return names


def _imported(nb: Any) -> set[str]:
    names: set[str] = set()
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(cell_source(cell))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


class Taint:
    """Which cells a change in one cell can reach."""

    def __init__(self, nb: Any) -> None:
        cells = nb.get("cells", [])
        self.code = [i for i, c in enumerate(cells) if c.get("cell_type") == "code"]
        self.cells = {i: _analyse(cell_source(cells[i])) for i in self.code}
        self.modules = _imported(nb)
        self.globals = set().union(*(c.writes for c in self.cells.values())) - self.modules
        self._memo: dict[int, frozenset[int]] = {}

    def reach(self, start: int) -> frozenset[int]:
        """The cells whose result may change when cell ``start`` changes (``start`` included)."""
        if start in self._memo:
            return self._memo[start]
        names: set[str] = set()
        reached: set[int] = set()
        everything = False
        for i in self.code:
            if i < start:
                continue
            cell = self.cells[i]
            if i == start or everything or cell.opaque or (cell.reads & names):
                reached.add(i)
                everything = everything or cell.opaque
                # A tainted cell may also have mutated what it read (an array passed in).
                names |= cell.writes | ((cell.reads & self.globals) - _BUILTINS)
        self._memo[start] = frozenset(reached)
        return self._memo[start]


def plan_rounds(
    nb: Any, known: list[KnownMistake], taint: Taint | None = None
) -> list[tuple[KnownMistake, ...]]:
    """Group the mistakes into runs: one mistake per exercise per run, none tainting another."""
    taint = taint or Taint(nb)
    checks = {k.exercise: check_cell(nb, k.exercise) for k in known}

    def compatible(a: KnownMistake, b: KnownMistake) -> bool:
        if a.exercise == b.exercise:
            return False
        ra, rb = taint.reach(a.mistake.cell), taint.reach(b.mistake.cell)
        return not ({b.mistake.cell, checks[b.exercise]} & ra or {a.mistake.cell, checks[a.exercise]} & rb)

    remaining = list(known)
    rounds: list[tuple[KnownMistake, ...]] = []
    while remaining:
        chosen: list[KnownMistake] = []
        for k in remaining:
            if all(compatible(k, other) for other in chosen):
                chosen.append(k)
        rounds.append(tuple(chosen))
        remaining = [k for k in remaining if k not in chosen]
    return rounds


def last_cell(nb: Any, chosen: tuple[KnownMistake, ...]) -> int:
    """The last cell a run of ``chosen`` needs: the latest of their checks."""
    return max(check_cell(nb, k.exercise) for k in chosen)


def _only_definitions(source: str, modules: set[str]) -> bool:
    """A cell whose top level only defines functions or classes, imports, or binds names to
    values built from literals and imported modules alone (``W = [0.15, 0.2]``,
    ``loss_fn = keras.losses.SparseCategoricalCrossentropy()``): running it again has no effect
    but to rebind those names to equal values. Anything that mentions randomness is excluded,
    since running it again would draw different numbers."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for stmt in tree.body:
        if isinstance(
            stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Import | ast.ImportFrom
        ):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring
        if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names = {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)}
            text = ast.unparse(stmt.value).lower()
            if (
                all(isinstance(t, ast.Name) for t in targets)
                and names <= modules | _BUILTINS
                and not any(word in text for word in ("random", "rng", "seed", "shuffle", "time"))
            ):
                continue
        return False
    return bool(tree.body)


def replayable(nb: Any, k: KnownMistake, taint: Taint) -> bool:
    """Whether a mistake can be judged by re-running just two cells inside the solved run.

    True when the mistake's cell only defines (so re-running it with the mistake, then with the
    solution, is exact), the check cell writes nothing (re-running it changes no state), and
    the check sees the mistake only through the names the mistake's cell defines (no cell in
    between that the mistake taints writes a name the check reads).
    """
    cells = nb.get("cells", [])
    check = check_cell(nb, k.exercise)
    if check <= k.mistake.cell or not _only_definitions(cell_source(cells[k.mistake.cell]), taint.modules):
        return False
    check_info = taint.cells[check]
    if check_info.opaque or check_info.writes:
        return False
    reach = taint.reach(k.mistake.cell)
    return not any(
        taint.cells[i].writes & check_info.reads
        for i in taint.code
        if k.mistake.cell < i < check and i in reach and not _binds_late(cell_source(cells[i]), taint.modules)
    )


def _binds_late(source: str, modules: set[str]) -> bool:
    """A cell that only defines, and whose functions and classes take nothing from the
    notebook when they are defined (no default value, decorator or base class naming a
    notebook name): what they call is looked up when they run, so a replayed mistake reaches a
    check through them exactly as in a run of its own (``def overfit(X, y): return fit(X, y)``
    between the mistake in ``fit`` and ``check(..., overfit)``)."""
    if not _only_definitions(source, modules):
        return False
    for stmt in ast.parse(source).body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            early = [*stmt.decorator_list, *stmt.args.defaults, *(d for d in stmt.args.kw_defaults if d)]
        elif isinstance(stmt, ast.ClassDef):
            early = [*stmt.decorator_list, *stmt.bases, *(k.value for k in stmt.keywords)]
        else:
            continue
        names = {n.id for e in early for n in ast.walk(e) if isinstance(n, ast.Name)}
        if not names <= modules | _BUILTINS:
            return False
    return True


def plan(nb: Any, known: list[KnownMistake]) -> list[tuple[tuple[KnownMistake, ...], bool]]:
    """All runs for a notebook's mistakes: (mistakes, replayed in one solved run?)."""
    if not known:
        return []
    taint = Taint(nb)
    replay = tuple(k for k in known if replayable(nb, k, taint))
    rest = [k for k in known if k not in replay]
    runs: list[tuple[tuple[KnownMistake, ...], bool]] = [(replay, True)] if replay else []
    return runs + [(r, False) for r in plan_rounds(nb, rest, taint)]
