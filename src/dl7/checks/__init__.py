"""The in-notebook check API: ``check("step2.sigmoid", sigmoid)``.

This module runs inside the learner's kernel. It imports nothing from the CLI side and
nothing heavy at import time: checker modules import numpy or TensorFlow themselves.

A *checker* is a function registered for one exercise id with :func:`checker`. It receives
whatever the notebook passes to :func:`check`, exercises it against facts (known values,
numerical gradients, invariants), and either returns (passed, optionally with a message) or
raises :class:`CheckFailed` (or fails a plain ``assert``) with a message a beginner can act
on. If the learner's own code raises ``NotImplementedError`` the exercise is *not attempted*;
any other exception from the learner's code is an *error*, reported with the exception and
the line it came from. A checker module that cannot load, or a checker that crashes on its
own, is a *course_error*: the course's fault, reported with the checker's file and line.

:func:`check` never raises into the notebook. It displays a readable result and emits the
same result as a MIME bundle (:data:`MIME_TYPE`) that ``dl7 run`` reads back.
"""

from __future__ import annotations

import html
import importlib
import importlib.util
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dl7.locations import CHECKERS_ENV as CHECKERS_ENV  # upward: stdlib only; the runner sets it
from dl7.locations import kernel_checkers  # upward: stdlib only; where the course is
from dl7.statuses import CHECK_STATUSES, describe, passing  # upward: shared vocabulary, stdlib only

MIME_TYPE = "application/vnd.dl7.check+json"
STATUSES = CHECK_STATUSES  # what a check can end in; dl7.statuses owns the vocabulary
COURSE_FAULT = "this is a fault of the course, not your code: please report it to the course author"

Checker = Callable[..., "str | None"]
_REGISTRY: dict[str, Checker] = {}
_PACKAGE_DIR = Path(__file__).resolve().parent
_BROKEN: dict[str, str] = {}  # checker module spec → why it could not be loaded
_SHOWN: dict[str, str] = {}  # the name a course's package is imported under → its folder's name
# Not the learner's code: every frame in these is the course's (its checkers, its data-set
# declarations) or the runner's own (dl7.datasets raising for a course's broken declarations).
_COURSE_DIRS: set[Path] = {_PACKAGE_DIR.parent}
_COURSE_FILES: set[Path] = set()


class CheckFailed(AssertionError):
    """Raised by a checker when the learner's answer is wrong; the message is shown as is."""


class CourseError(Exception):
    """A checker module that cannot be loaded: the course's fault, never the learner's."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check, as displayed in Jupyter and read back by the runner."""

    id: str
    status: str
    message: str
    seconds: float

    @property
    def passed(self) -> bool:
        return passing(self.status)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        return data

    def _symbol(self) -> str:
        return describe(self.status).symbol

    def _label(self) -> str:
        return describe(self.status).label

    def __str__(self) -> str:
        return f"{self._symbol()} {self.id}: {self._label()} — {self.message}"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        colour = describe(self.status).html
        body = html.escape(self.message).replace("\n", "<br>")
        markup = (
            f'<div style="border-left:4px solid {colour};padding:4px 10px;font-family:sans-serif">'
            f'<b style="color:{colour}">{self._symbol()} {html.escape(self.id)}: {self._label()}</b>'
            f"<br>{body}</div>"
        )
        return {"text/plain": str(self), "text/html": markup, MIME_TYPE: self.to_json()}


def checker(exercise_id: str) -> Callable[[Checker], Checker]:
    """Register the decorated function as the checker for ``exercise_id``."""

    def register(fn: Checker) -> Checker:
        _REGISTRY[exercise_id] = fn
        return fn

    return register


def registered() -> dict[str, Checker]:
    """A copy of the registry (for tests and tools)."""
    return dict(_REGISTRY)


def evaluate(exercise_id: str, *args: Any, **kwargs: Any) -> CheckResult:
    """Run the checker for ``exercise_id`` on the learner's objects; never raises."""
    start = time.perf_counter()
    try:
        fn = _lookup(exercise_id)
    except CourseError as exc:
        return CheckResult(exercise_id, "course_error", str(exc), time.perf_counter() - start)
    except LookupError as exc:
        return CheckResult(exercise_id, "error", str(exc), time.perf_counter() - start)
    try:
        message = fn(*args, **kwargs)
        status = "passed"
        message = message or "all checks passed"
    except CheckFailed as exc:
        status, message = "failed", str(exc) or "the answer is not right yet"
    except NotImplementedError:
        status, message = "not_attempted", "not done yet: the stub still raises NotImplementedError"
    except Exception as exc:  # the learner's code may raise anything
        checker_file = _code_file(fn)
        if isinstance(exc, AssertionError) and _raised_by_course(exc, checker_file):
            status, message = "failed", str(exc) or _assert_line(exc)
        elif not _learner_frames(exc, checker_file):
            status, message = "course_error", describe_exception(exc, checker_file=checker_file)
        else:
            status, message = "error", describe_exception(exc, checker_file=checker_file)
    return CheckResult(exercise_id, status, message, round(time.perf_counter() - start, 4))


def check(exercise_id: str, *args: Any, **kwargs: Any) -> None:
    """Check an exercise and show the result in the notebook.

    It returns nothing, so a check on a cell's last line is displayed once, not twice;
    :func:`evaluate` returns the :class:`CheckResult` instead. In a learner's workspace the
    verdict is also recorded in their progress (:func:`dl7.notebook_loop.record`).
    """
    started_ns = time.time_ns()  # orders this check among the runs, as a run's start does
    result = evaluate(exercise_id, *args, **kwargs)
    show(result)
    if exercise_id in _REGISTRY:  # an exercise of the course, not a misspelt id
        from dl7.notebook_loop import record  # upward: the learner's loop; stdlib until it writes

        record(result.id, result.status, result.message, result.seconds, started_ns)


def _code_file(fn: Any) -> str | None:
    code = getattr(fn, "__code__", None)
    return str(Path(code.co_filename).resolve()) if code is not None else None


def _is_course_file(filename: str, checker_file: str | None) -> bool:
    path = Path(filename).resolve()
    return (
        str(path) == checker_file
        or path in _COURSE_FILES
        or any(path.is_relative_to(folder) for folder in _COURSE_DIRS)
    )


def _learner_frames(exc: BaseException, checker_file: str | None) -> list[traceback.FrameSummary]:
    return [
        f for f in traceback.extract_tb(exc.__traceback__) if not _is_course_file(f.filename, checker_file)
    ]


def _raised_by_course(exc: BaseException, checker_file: str | None) -> bool:
    """Whether the course raised ``exc`` itself (a plain ``assert``, numpy.testing's asserts),
    not the learner's own code: no frame of the learner's code is on the stack."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and not any(
        not _is_course_file(f.filename, checker_file) and not _is_library_file(f.filename) for f in frames
    )


def _is_library_file(filename: str) -> bool:
    import sysconfig

    path = Path(filename).resolve()
    folders = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    return any(folder and path.is_relative_to(Path(folder).resolve()) for folder in folders)


def _assert_line(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library_file(f.filename)]
    line = (frames[-1].line or "").strip() if frames else ""
    return f"the check failed: {line}" if line else "the check failed"


def _where(frame: traceback.FrameSummary) -> str:
    return f"{frame.filename}:{frame.lineno}"


def describe_exception(exc: BaseException, checker_file: str | None = None) -> str:
    """``ValueError: ... (in sigmoid, line 3)``: the learner's innermost frame, not dl7's
    nor the checker's. With no learner frame on the stack, the checker itself crashed: its
    file and line, and whose fault it is."""
    frames = _learner_frames(exc, checker_file)
    if not frames:  # nothing of the learner's on the stack: the checker itself broke
        stack = traceback.extract_tb(exc.__traceback__)
        own = [f for f in stack if checker_file and str(Path(f.filename).resolve()) == checker_file]
        at = f" at {_where((own or stack)[-1])}" if stack else ""
        return f"the checker crashed ({type(exc).__name__}: {exc}){at}; {COURSE_FAULT}"
    where = ""
    if frames:
        last = frames[-1]
        where = f" (in {last.name}, line {last.lineno}"
        where += f": {last.line.strip()})" if last.line else ")"
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return f"your code raised {text}{where}"


def show(result: Any) -> None:
    """Display ``result`` as Jupyter does (its rich form), or print it outside IPython."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python, no IPython installed
        print(result)
        return
    if get_ipython() is None:
        print(result)
    else:
        display(result)  # type: ignore[no-untyped-call]


def _lookup(exercise_id: str) -> Checker:
    if exercise_id in _REGISTRY:
        return _REGISTRY[exercise_id]
    broken: list[str] = []
    for spec in _checker_modules():
        if not _load_checkers(spec, broken):
            continue
        if exercise_id in _REGISTRY:
            return _REGISTRY[exercise_id]
    if broken:  # the exercise's checker may well be in the module that could not load
        raise CourseError(broken[0])
    raise LookupError(f"no checker is registered for {exercise_id!r}; check the id's spelling")


def _load_checkers(spec: str, broken: list[str]) -> bool:
    """Load one checker module; a module that cannot load is noted in ``broken`` (once and
    for all: a later check reports the same fault, not "no checker registered")."""
    if spec not in _BROKEN:
        try:
            load_module(spec)
        except Exception as exc:  # a SyntaxError, an ImportError, anything its import raises
            _BROKEN[spec] = load_failure(spec, exc)
        else:
            return True
    broken.append(_BROKEN[spec])
    return False


def _own(module: Any) -> Any:
    """Note ``module`` as course code: a frame in it is never the learner's."""
    source = getattr(module, "__file__", None)
    if source:
        path = Path(source).resolve()
        if path.name == "__init__.py":  # the whole package, up to its top, is the course's
            _COURSE_DIRS.add(_package_top(path.parent))
        else:
            _COURSE_FILES.add(path)
    return module


def load_failure(spec: str, exc: BaseException, kind: str = "checker module") -> str:
    """Why the course's module ``spec`` could not be imported, with the file and line at fault
    and whose fault it is."""
    if isinstance(exc, SyntaxError) and exc.filename:
        what, where = f"SyntaxError: {exc.msg}", f"{exc.filename}:{exc.lineno}"
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        where = _where(frames[-1]) if frames else spec
    # The name a course's package is imported under (dl7_course_<its path>) is dl7's business:
    # the author reads their own folder's name.
    what = re.sub(r"\bdl7_course_\w+", lambda m: _SHOWN.get(m.group(0), m.group(0)), what)
    return f"the course's {kind} {spec} cannot be loaded ({what} at {where}); {COURSE_FAULT}"


def _checker_modules() -> list[str]:
    """Checker modules named by the runner, the enclosing workspace or the enclosing course:
    :func:`dl7.locations.kernel_checkers` decides, and trusts only what this user owns."""
    return kernel_checkers()


def load_module(spec: str) -> Any:
    """Import a checker module given as a dotted name, a path to a ``.py`` file (of a package
    or not), or a path to a package's folder (``/course/checks/step3``).

    A file or a package is imported under a name made from its path, so two courses' ``checks``
    never collide with each other or with an installed module. A package inside a package
    (``checks/step3`` in ``checks/``) is imported as a submodule of its top package, so its
    relative imports (``from ..step2 import x``) work as they do in any Python package.
    """
    if spec.endswith(".py"):
        path = Path(spec).resolve()
        if (path.parent / "__init__.py").is_file():
            # A module of a package (``linchecks/step1.py``): imported as that package's
            # submodule, so ``from ._common import x`` works as it does in any package.
            package = load_module(str(path.parent))
            return _own(importlib.import_module(f"{package.__name__}.{path.stem}"))
        return _own(_exec_module(_path_name(path), path, None))
    if "/" in spec or os.sep in spec:
        folder = Path(spec).resolve()
        if not (folder / "__init__.py").is_file():
            raise ImportError(f"{folder} is not a package: it has no __init__.py")
        top = _package_top(folder)
        name = _path_name(top)
        _SHOWN[name] = top.name
        if name not in sys.modules:
            _exec_module(name, top / "__init__.py", [str(top)])
        parts = folder.relative_to(top).parts
        return _own(importlib.import_module(".".join((name, *parts))))
    return _own(importlib.import_module(spec))


def _package_top(folder: Path) -> Path:
    """The outermost package that ``folder`` (a package) belongs to."""
    while (folder.parent / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    return folder


def _path_name(path: Path) -> str:
    return "dl7_course_" + "".join(c if c.isalnum() else "_" for c in str(path))


def _exec_module(name: str, path: Path, search: list[str] | None) -> Any:
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=search)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load checker module {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]  # a half-loaded module must not pass for a loaded one
        raise
    return module


# Helpers for checker authors -------------------------------------------------------------


def fail(message: str) -> CheckFailed:
    """``raise fail("...")`` reads well inside a checker."""
    return CheckFailed(message)
