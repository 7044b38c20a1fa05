"""The learner's loop inside the notebook: ``hint(...)``, ``solution(...)``, and every
``check(...)`` recorded in the workspace's progress store.

``from dl7 import hint, solution`` in a learner's notebook gives the twins of ``dl7 hint`` and
``dl7 solution``: the same ladder of hints (one more each call, remembered in the same store, so
the notebook and the terminal climb it together) and the reference solution under the same rule
(only once the exercise has passed). An exercise is named by its id (``step1.perceptron_predict``)
or, when no other exercise of the course has that name, by its name alone.

:func:`record` is what makes a pass in JupyterLab count: :func:`dl7.checks.check` calls it, and
it records the verdict as an attempt of source ``notebook`` (:mod:`dl7.progress`) when the
kernel runs in a learner's workspace (found by :func:`dl7.locations.enclosing_workspace`, as the
kernel finds its checkers). Never in a kernel dl7 started itself (``dl7 run`` and ``dl7 watch``
record their own attempt; validate's are no learner's). Such a check shows in ``dl7 status``
and unlocks the solution, but a step is complete only after a whole run in a fresh kernel.

This runs in the learner's kernel: at import it needs only the standard library and
:mod:`dl7.locations`; the progress store is opened by a check in a workspace, and the manifest
(found through ``workspace.json``) is loaded only when ``hint`` or ``solution`` is called.
"""

from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dl7 import locations

if TYPE_CHECKING:
    from dl7.curriculum import Curriculum, Exercise, Step
    from dl7.progress import Progress

# A check waits this long for a `dl7 run` that is writing the store (its writes take
# milliseconds); it never holds the notebook up for the store's usual 30 s.
RECORD_TIMEOUT = 2.0
SESSION_ENV = "JPY_SESSION_NAME"  # jupyter_server tells its kernels which notebook they serve


@dataclass(frozen=True)
class _Place:
    root: Path  # the workspace
    course: str  # its course's id, from workspace.json


def runner_kernel() -> bool:
    """Whether dl7 itself started this kernel (run, watch, validate): its checks are its own."""
    return bool(os.environ.get(locations.RUNNER_KERNEL_ENV) or os.environ.get(locations.CHECKERS_ENV))


def _place(start: Path | None = None) -> _Place | None:
    """The learner's workspace enclosing this kernel, when it is trusted and names its course."""
    root = locations.enclosing_workspace(start)
    if root is None:
        return None
    dot = root / locations.DOT
    if not locations.trusted(locations.info_file(dot)):
        return None
    course = locations.read_info(dot).get("course")
    return _Place(root, course) if isinstance(course, str) and course else None


def _progress(place: _Place, timeout: float) -> Progress:
    from dl7.progress import Progress

    return Progress(place.root / locations.DOT / "progress.sqlite", place.course, timeout=timeout)


# -- every check, recorded ---------------------------------------------------------------------


def record(exercise_id: str, status: str, message: str, seconds: float, started_ns: int) -> None:
    """Record one check run in the learner's own kernel, when it runs in their workspace.

    Never raises into the notebook: a store that cannot be written costs one line on stderr.
    """
    if runner_kernel():
        return
    place = _place()
    if place is None:  # a notebook outside any workspace: nothing to record, nothing to say
        return
    step = exercise_id.split(".", 1)[0]
    try:
        with _progress(place, RECORD_TIMEOUT) as progress:
            progress.record_check(
                step, _notebook(place.root), (exercise_id, status, message, seconds), started_ns=started_ns
            )
    except Exception as exc:  # a busy, read-only or full store; the verdict above still stands
        why = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        sys.stderr.write(f"dl7: this check was not recorded in your progress: {why}\n")


def _notebook(root: Path) -> str:
    """The notebook this kernel serves, relative to the workspace, when the server said which
    (the kernel's folder is the notebook's); else the kernel's folder."""
    here = Path.cwd()
    name = os.environ.get(SESSION_ENV, "")
    where = here / Path(name).name if name.endswith(".ipynb") else here
    try:
        return where.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return where.as_posix()


# -- hint and solution -------------------------------------------------------------------------


class _Note:
    """What hint() and solution() show: plain text, and the same as HTML in Jupyter."""

    def __init__(self, title: str, parts: list[tuple[str, str]], colour: str) -> None:
        self.title = title
        self.parts = parts  # (kind, text): "text" or "code"
        self.colour = colour

    def __str__(self) -> str:
        return "\n\n".join([self.title, *(text for _, text in self.parts)])

    def __repr__(self) -> str:
        return str(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        body = []
        for kind, text in self.parts:
            if kind == "code":
                body.append(f'<pre style="margin:4px 0">{html.escape(text)}</pre>')
            else:
                body.append(f'<p style="margin:4px 0">{html.escape(text)}</p>')
        markup = (
            f'<div style="border-left:4px solid {self.colour};padding:4px 10px;font-family:sans-serif">'
            f"<b>{html.escape(self.title)}</b>{''.join(body)}</div>"
        )
        return {"text/plain": str(self), "text/html": markup}


def _show(note: _Note) -> None:
    from dl7.checks import show  # the one way dl7 displays in a notebook

    show(note)


def _problem(message: str, hint: str = "") -> _Note:
    return _Note(f"dl7: {message}", [("text", hint)] if hint else [], "#c62828")


def _course(place: _Place) -> Curriculum:
    from dl7.errors import Dl7Error
    from dl7.manifest_cache import load

    dot = place.root / locations.DOT
    curriculum = load(locations.recorded_course(dot), dot)
    if curriculum.id != place.course:
        raise Dl7Error(
            f"the course of this workspace ({place.course!r}) cannot be found",
            hint=f"{locations.info_file(dot)} names a course file that is gone; run `dl7 next` in a terminal",
        )
    return curriculum


def find(curriculum: Curriculum, ref: str) -> tuple[Step, Exercise]:
    """The exercise ``ref`` names, in every form the CLI takes (:meth:`Curriculum.resolve`: its
    id, or its name when one step alone has it), and its step."""
    from dl7.errors import Dl7Error

    found = curriculum.resolve(ref)
    if found.exercise is None:
        names = ", ".join(e.name for e in found.step.exercises) or "none"
        raise Dl7Error(f"{ref!r} is a step: name one of its exercises", hint=f"its exercises: {names}")
    return found.step, found.exercise


def hint(exercise: str) -> None:
    """Show the next hint for an exercise, as ``dl7 hint`` does: one more each time you ask."""
    _show(_hint_note(exercise))


def _hint_note(exercise: str) -> _Note:
    from dl7.errors import Dl7Error

    place = _place()
    if place is None:
        return _problem("this notebook is not in a dl7 workspace", "`dl7 hint STEP EXERCISE` in a terminal")
    try:
        curriculum = _course(place)
        step, ex = find(curriculum, exercise)
        if not ex.hints:
            return _Note(
                f"{ex.id} has no hints",
                [("text", f"its check message (or `dl7 run {step.id}`) says what is off")],
                "#f9a825",
            )
        with _progress(place, RECORD_TIMEOUT) as progress:
            if runner_kernel():  # a hint() cell run by `dl7 run`: show, but climb no further
                shown = max(1, progress.hints_shown(ex.id))
            else:
                shown = progress.show_next_hint(ex.id, len(ex.hints))
    except Dl7Error as exc:
        return _problem(exc.message, exc.hint)
    parts = [("text", f"Hint {n} of {len(ex.hints)}: {h}") for n, h in enumerate(ex.hints[:shown], start=1)]
    if shown >= len(ex.hints):
        parts.append(("text", "That was the last hint for this exercise."))
    else:
        parts.append(("text", f'Call hint("{ex.name}") again for hint {shown + 1}.'))
    return _Note(f"{ex.id} — {ex.title}", parts, "#f9a825")


def solution(exercise: str) -> None:
    """Show the course's reference solution for an exercise once your own answer has passed
    (here or in `dl7 run`), as ``dl7 solution`` does."""
    _show(_solution_note(exercise))


def _solution_note(exercise: str) -> _Note:
    from dl7.errors import Dl7Error

    place = _place()
    if place is None:
        return _problem(
            "this notebook is not in a dl7 workspace", "`dl7 solution STEP EXERCISE` in a terminal"
        )
    try:
        from dl7.solutions import has_passed, reference_solution

        curriculum = _course(place)
        step, ex = find(curriculum, exercise)
        with _progress(place, RECORD_TIMEOUT) as progress:
            passed = has_passed(progress, ex.id)
        if not passed:
            return _problem(
                f"{ex.id} has not passed yet: its solution is shown once your own answer passes",
                f'hint("{ex.name}") gives a hint; check(...) or `dl7 run {step.id}` checks your answer',
            )
        found = reference_solution(curriculum, step, ex)
    except Dl7Error as exc:
        return _problem(exc.message, exc.hint)
    parts = [("text", f"from {found.notebook.path}; yours passed too, so compare the two")]
    for number, code in found.cells:
        parts += [("text", f"cell {number}"), ("code", code)]
    return _Note(f"{ex.id} — {ex.title}: the course's solution", parts, "#2e7d32")
