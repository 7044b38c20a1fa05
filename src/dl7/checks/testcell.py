"""Inside the kernel: run one of the course's test cells (nbgrader's autograder tests) as an exercise.

``dl7 run`` puts, in place of each test cell of the learner's notebook, a one-line call::

    __import__("dl7.checks.testcell", fromlist=["check"]).check(
        "ps1.test_squares", "/course/ps1/a.ipynb", "test_squares")

which reads the cell whose ``nbgrader.grade_id`` is ``test_squares`` from the course's own
notebook (hidden tests included: they never enter the learner's workspace), runs it in the
notebook's namespace and shows the same result bundle as :func:`dl7.checks.check`:

* it runs without an exception: *passed*;
* ``AssertionError``: *failed*, with the assertion's message, or the failing ``assert`` line
  (a line of a hidden test is never shown: "a hidden test failed");
* ``NotImplementedError``, or another exception after an earlier cell of the notebook raised
  ``NotImplementedError`` (a stub not replaced yet): *not attempted*;
* any other exception: *error*, with the exception and the line it came from.

Like ``check``, it never raises into the notebook.
"""

from __future__ import annotations

import json
import linecache
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from dl7.authoring import hidden_lines  # upward: the markers' one owner, it imports only the stdlib
from dl7.checks import CheckResult, _show

_SOURCES: dict[str, dict[str, str]] = {}  # course notebook → grade_id → test cell source


def check(exercise_id: str, notebook: str, grade_id: str) -> None:
    """Run the course's test cell ``grade_id`` of ``notebook`` and show the result."""
    _show(evaluate(exercise_id, notebook, grade_id, _namespace()))


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
    earlier_stub = isinstance(getattr(sys, "last_value", None), NotImplementedError)
    try:
        code = compile(_python(source), filename, "exec")
    except SyntaxError as exc:
        return CheckResult(
            exercise_id,
            "course_error",
            f"the test cell {grade_id!r} of {notebook} is not valid Python (line {exc.lineno}: {exc.msg}); "
            "this is a fault of the course, not your code: please report it to the course author",
            0.0,
        )
    try:
        exec(code, namespace)
    except AssertionError as exc:
        line = _test_line(exc, filename)
        if line in hidden:
            message = "a hidden test failed" + (f": {exc}" if str(exc) else "")
        elif str(exc):
            message = str(exc)
        else:
            message = f"the test failed: {_line_text(source, line)}" if line else "the test failed"
        status = "failed"
    except NotImplementedError:
        status, message = "not_attempted", "not done yet: your code still raises NotImplementedError"
    except Exception as exc:  # whatever the learner's code raises
        if earlier_stub:
            status, message = (
                "not_attempted",
                "not done yet: an earlier cell still raises NotImplementedError",
            )
        else:
            status, message = "error", _describe(exc, filename, source, hidden)
    else:
        status, message = "passed", "all tests passed"
    return CheckResult(exercise_id, status, message, round(time.perf_counter() - start, 4))


def test_source(notebook: str, grade_id: str) -> str:
    if notebook not in _SOURCES:
        try:
            data = json.loads(Path(notebook).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LookupError(f"cannot read the course notebook {notebook}: {exc}") from None
        found: dict[str, str] = {}
        for cell in data.get("cells", []):
            meta = (cell.get("metadata") or {}).get("nbgrader") or {}
            if cell.get("cell_type") == "code" and isinstance(meta.get("grade_id"), str):
                text = cell.get("source", "")
                found.setdefault(meta["grade_id"], "".join(text) if isinstance(text, list) else str(text))
        _SOURCES[notebook] = found
    try:
        return _SOURCES[notebook][grade_id]
    except KeyError:
        raise LookupError(f"the course notebook {notebook} has no test cell {grade_id!r}") from None


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


def _describe(exc: BaseException, filename: str, source: str, hidden: set[int]) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if f.filename != filename and not f.filename.endswith("testcell.py")]
    if own and frames[-1].filename != filename:  # raised inside the learner's code
        last = own[-1]
        where = f" (in {last.name}, line {last.lineno}" + (f": {last.line.strip()})" if last.line else ")")
        return f"your code raised {text}{where}"
    line = _test_line(exc, filename)
    if line in hidden:
        return f"a hidden test raised {text}"
    shown = _line_text(source, line)
    return f"the test raised {text}" + (f" (test line {line}: {shown})" if line else "")
