"""Inside the kernel: run one of the course's test cells (nbgrader's autograder tests) as an exercise.

``dl7 run`` puts, in place of each test cell of the learner's notebook, a one-line call::

    __import__("dl7.checks.testcell", fromlist=["check"]).check(
        "ps1.test_squares", "/course/ps1/a.ipynb", "test_squares")

which reads the cell whose ``nbgrader.grade_id`` is ``test_squares`` from the course's own
notebook (hidden tests included: they never enter the learner's workspace), runs it in the
notebook's namespace and shows the same result bundle as :func:`dl7.checks.check`:

* it runs without an exception: *passed*;
* ``AssertionError``: *failed*, with the assertion's message, or the failing ``assert`` line
  (a line of a hidden test is never shown, only where it stands: "line 2 of the hidden tests");
* a ``NotImplementedError`` from the learner's stub: *not attempted*. That is one the test
  met (raised, or behind the exception the test met), or a name the test itself uses that is
  missing because the last cell that raised, raised ``NotImplementedError`` (nbgrader's stub
  cell ``raise NotImplementedError()`` defines nothing);
* a name the test uses that an earlier test of the notebook would have set, had it not
  stopped at a stub: *not attempted* too;
* any other exception: *error*, with the exception and the line it came from, even after an
  unrelated stub elsewhere in the notebook raised: "your code raised" only when the learner's
  code is on the stack, "the test raised" when the test (or a library it called, such as a
  removed ``np.float``) failed on its own.

Two rules are nbgrader's own (``nbgrader.utils.determine_grade``), so that a course graded by
``nbgrader autograde`` gets the same verdicts here:

* a test that writes to stderr gets no points there, so it *fails* here, with the first line;
* a test whose last line is an expression whose text is a number gets that many points there
  (partial credit): fewer than the cell's points *fails* here, saying how much nbgrader would
  give (dl7 counts an exercise's points only when it passes in full), more is the course's fault.

Like ``check``, it never raises into the notebook.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import linecache
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from dl7.authoring import hidden_lines  # upward: the markers' one owner, it imports only the stdlib
from dl7.checks import CheckResult, _is_course_file, _is_library_file, show

_SOURCES: dict[str, dict[str, str]] = {}  # course notebook → grade_id → test cell source
_POINTS: dict[str, dict[str, float]] = {}  # course notebook → grade_id → the cell's points
# A name an earlier test of this kernel would have set had it not stopped short → that test's
# grade_id and how it ended; a later test that needs the name is judged by it.
_UNSET: dict[str, dict[str, tuple[str, str]]] = {}  # by course notebook
_NOT_DONE = "not done yet: your code still raises NotImplementedError"


def check(exercise_id: str, notebook: str, grade_id: str) -> None:
    """Run the course's test cell ``grade_id`` of ``notebook`` and show the result."""
    show(evaluate(exercise_id, notebook, grade_id, _namespace()))


def evaluate(exercise_id: str, notebook: str, grade_id: str, namespace: dict[str, Any]) -> CheckResult:
    start = time.perf_counter()
    try:
        source = test_source(notebook, grade_id)
    except LookupError as exc:
        return CheckResult(
            exercise_id,
            "course_error",
            f"{exc}; this is a fault of the course, not your code: please report it to the course author",
            0.0,
        )
    filename = f"<dl7 test {grade_id}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    hidden = hidden_lines(source)
    earlier_stub = isinstance(getattr(sys, "last_value", None), NotImplementedError)  # IPython sets it
    try:
        python = _python(source)
        code = ast.parse(python, filename)
        compile(code, filename, "exec")  # what parses yet cannot run (a stray ``return``) is refused too
    except SyntaxError as exc:
        return CheckResult(
            exercise_id,
            "course_error",
            f"the test cell {grade_id!r} of {notebook} is not valid Python (line {exc.lineno}: {exc.msg}); "
            "this is a fault of the course, not your code: please report it to the course author",
            0.0,
        )
    stderr = _Recorder(sys.stderr)
    value: Any = None
    try:
        with contextlib.redirect_stderr(stderr):
            value = _run(code, python, namespace, filename)
    except AssertionError as exc:
        line = _test_line(exc, filename)
        if line in hidden:
            message = "a hidden test failed" + _hidden_where(source, line) + (f": {exc}" if str(exc) else "")
        elif str(exc):
            message = str(exc)
        else:
            message = f"the test failed: {_line_text(source, line)}" if line else "the test failed"
        status = "failed"
    except NotImplementedError:
        status, message = "not_attempted", _NOT_DONE
    except Exception as exc:  # whatever the learner's code raises
        name = getattr(exc, "name", None) or ""
        unset = _UNSET.get(notebook, {}).get(name) if _missing_name(exc, filename) else None
        if _from_stub(exc):
            status, message = "not_attempted", _NOT_DONE
        elif unset is not None:
            earlier, how = unset
            if how == "not_attempted":
                status = "not_attempted"
                message = (
                    f"not done yet: this test uses {name!r}, which the test {earlier!r} sets once it is done"
                )
            else:
                status = "error"
                message = (
                    f"this test uses {name!r}, which the test {earlier!r} sets; make that test pass first"
                )
        elif earlier_stub and _missing_name(exc, filename):
            status, message = (
                "not_attempted",
                "not done yet: an earlier cell still raises NotImplementedError",
            )
        else:
            status, message = "error", _describe(exc, filename, source, hidden)
    else:
        status, message = _graded(value, stderr.first_line, grade_id, _points(notebook, grade_id))
    if status != "passed":
        for unset_name in _assigned(code) - set(namespace):
            _UNSET.setdefault(notebook, {}).setdefault(unset_name, (grade_id, status))
    return CheckResult(exercise_id, status, message, round(time.perf_counter() - start, 4))


class _Recorder(io.TextIOBase):
    """sys.stderr as it was, noting the first line written to it (nbgrader grades on it)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.first_line: str | None = None

    def write(self, text: str) -> int:
        if self.first_line is None and text.strip():
            self.first_line = text.strip().splitlines()[0]
        return int(self.stream.write(text) or 0)

    def flush(self) -> None:
        self.stream.flush()

    # what libraries ask a stream for (tqdm, subprocess, faulthandler): the real stream's answers
    def fileno(self) -> int:
        return int(self.stream.fileno())

    def isatty(self) -> bool:
        return bool(self.stream.isatty())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.stream, "encoding", None) or "utf-8")


def _run(tree: ast.Module, python: str, namespace: dict[str, Any], filename: str) -> Any:
    """Run the test as a notebook cell runs: the statements, then the value of the last line if
    it is an expression (IPython shows it as the cell's result; nbgrader reads a number there)."""
    body = list(tree.body)
    last = body[-1] if body else None
    # "x;" keeps IPython from showing the value, so nbgrader sees none
    if not isinstance(last, ast.Expr) or _ends_with_semicolon(python, last):
        exec(compile(tree, filename, "exec"), namespace)
        return None
    exec(compile(ast.Module(body=body[:-1], type_ignores=[]), filename, "exec"), namespace)
    return eval(compile(ast.Expression(body=last.value), filename, "eval"), namespace)


def _ends_with_semicolon(python: str, last: ast.Expr) -> bool:
    lines = python.splitlines()
    end = last.end_lineno or 0
    return 0 < end <= len(lines) and lines[end - 1].split("#")[0].rstrip().endswith(";")


def _graded(value: Any, stderr: str | None, grade_id: str, points: float | None) -> tuple[str, str]:
    """A test that ran through, graded as ``nbgrader autograde`` grades its outputs."""
    if stderr is not None:
        return "failed", (
            f"the test wrote to stderr ({stderr[:80]}); nbgrader gives no points for a test "
            "cell that does, so neither does dl7"
        )
    score = _score(value)
    if score is None or score < 0 or points is None or score == points:
        return "passed", "all tests passed"
    if score > points:
        return "course_error", (
            f"the test cell {grade_id!r} returned {score:g}, more than its {points:g} point(s) "
            "(nbgrader refuses that); this is a fault of the course, not your code: "
            "please report it to the course author"
        )
    return "failed", (
        f"partial credit: the test gave {score:g} of its {points:g} point(s); "
        "dl7 counts an exercise's points only when its test passes in full"
    )


def _score(value: Any) -> float | None:
    """The number nbgrader reads in a test's result (its ``text/plain``), if it is one."""
    if value is None:
        return None
    try:
        from IPython.lib.pretty import pretty

        text = str(pretty(value))  # type: ignore[no-untyped-call]
    except ImportError:
        text = repr(value)
    try:
        return float(text)
    except ValueError:
        return None


def _assigned(code: ast.Module) -> set[str]:
    """The names a test cell binds at its top level (what a later test may read)."""
    names: set[str] = set()
    todo: list[ast.AST] = list(code.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        todo.extend(ast.iter_child_nodes(node))
    return names


def _from_stub(exc: BaseException) -> bool:
    """Whether a ``NotImplementedError`` lies behind ``exc`` (the learner's code caught a stub's
    and raised another exception)."""
    seen: set[int] = set()
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, NotImplementedError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _missing_name(exc: BaseException, filename: str) -> bool:
    """A ``NameError`` raised by the test's own line: the test uses a name nobody defined (a
    stub cell stopped before defining it). One raised inside the learner's code is their bug."""
    if not isinstance(exc, NameError):
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename == filename


def test_source(notebook: str, grade_id: str) -> str:
    if notebook not in _SOURCES:
        try:
            data = json.loads(Path(notebook).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LookupError(f"cannot read the course notebook {notebook}: {exc}") from None
        found: dict[str, str] = {}
        points: dict[str, float] = {}
        for cell in data.get("cells", []):
            meta = (cell.get("metadata") or {}).get("nbgrader") or {}
            if cell.get("cell_type") == "code" and isinstance(meta.get("grade_id"), str):
                text = cell.get("source", "")
                found.setdefault(meta["grade_id"], "".join(text) if isinstance(text, list) else str(text))
                with contextlib.suppress(KeyError, TypeError, ValueError):  # nbgrader reads it with float()
                    points.setdefault(meta["grade_id"], float(meta["points"]))
        _SOURCES[notebook] = found
        _POINTS[notebook] = points
    try:
        return _SOURCES[notebook][grade_id]
    except KeyError:
        raise LookupError(f"the course notebook {notebook} has no test cell {grade_id!r}") from None


def _points(notebook: str, grade_id: str) -> float | None:
    return _POINTS.get(notebook, {}).get(grade_id)


def _python(source: str) -> str:
    """The cell as Python, as IPython would run it (``%magic`` lines and the like translated)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return source
    shell = get_ipython()
    return str(shell.transform_cell(source)) if shell is not None else source


def _namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None  # type: ignore[assignment]
    shell = get_ipython() if get_ipython is not None else None
    if shell is not None:
        namespace: dict[str, Any] = shell.user_ns
        return namespace
    import __main__

    return vars(__main__)


def _test_line(exc: BaseException, filename: str) -> int | None:
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return lines[-1] if lines else None


def _line_text(source: str, line: int | None) -> str:
    lines = source.splitlines()
    return lines[line - 1].strip() if line and 0 < line <= len(lines) else ""


def _hidden_where(source: str, line: int | None) -> str:
    """Where a hidden line stands, never what it says: " (line 2 of the hidden tests)"."""
    if line is None:
        return ""
    blocks, start = 0, 0
    for lineno, text in enumerate(source.splitlines()[:line], start=1):
        if "BEGIN HIDDEN TESTS" in text:
            blocks, start = blocks + 1, lineno
    if not start or line == start:
        return ""
    block = (
        f" of hidden block {blocks}"
        if sum("BEGIN HIDDEN TESTS" in t for t in source.splitlines()) > 1
        else ""
    )
    return f" (line {line - start} of the hidden tests{block})"


def _learners(filename: str, test_file: str) -> bool:
    """A frame of the learner's code: not the test, not dl7's, not an installed library."""
    return filename != test_file and not _is_course_file(filename, None) and not _is_library_file(filename)


def _describe(exc: BaseException, filename: str, source: str, hidden: set[int]) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    test_at = max((n for n, f in enumerate(frames) if f.filename == filename), default=-1)
    # The learner's code below the test's last line: it raised (or called the library that did).
    own = [f for f in frames[test_at + 1 :] if _learners(f.filename, filename)]
    if own:
        last = own[-1]
        where = f" (in {last.name}, line {last.lineno}" + (f": {last.line.strip()})" if last.line else ")")
        return f"your code raised {text}{where}"
    line = _test_line(exc, filename)
    inside = ""
    if frames and frames[-1].filename != filename and test_at >= 0:  # a library the test called
        inside = f" inside {Path(frames[-1].filename).name}"
    if line in hidden:
        return f"a hidden test raised {text}{inside}{_hidden_where(source, line)}"
    shown = _line_text(source, line)
    return f"the test raised {text}{inside}" + (f" (test line {line}: {shown})" if line else "")
