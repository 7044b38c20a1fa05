"""The one vocabulary of exercise statuses: names, symbols, labels, colours, what counts as passing.

Both houses read it: ``dl7.checks`` in the learner's kernel (a check's result, shown in Jupyter)
and the runner (results read back, the progress store, the terminal views). So it imports
nothing but the standard library.

A check itself can end in the first five; the runner adds two of its own for an exercise with
no check result: *not reached* (the run stopped before its check, or the check is gone) and
*not run* (no recorded run yet).
"""

from __future__ import annotations

from dataclasses import dataclass

PASSED = "passed"
FAILED = "failed"
NOT_ATTEMPTED = "not_attempted"
ERROR = "error"
COURSE_ERROR = "course_error"
NOT_REACHED = "not_reached"
NOT_RUN = "not_run"


@dataclass(frozen=True)
class Status:
    name: str
    symbol: str
    label: str  # the words a learner reads, in Jupyter and in the terminal's tables alike
    colour: str  # a Rich style, for the terminal
    html: str  # a CSS colour, for Jupyter


_ALL = (
    Status(PASSED, "✔", "passed", "green", "#1a7f37"),
    Status(FAILED, "✘", "failed", "red", "#cf222e"),
    Status(NOT_ATTEMPTED, "…", "not attempted", "yellow", "#9a6700"),
    Status(ERROR, "!", "error", "red", "#cf222e"),
    Status(COURSE_ERROR, "‼", "course error", "magenta", "#8250df"),
    Status(NOT_REACHED, "-", "not reached", "magenta", "#8250df"),
    Status(NOT_RUN, "·", "not run", "dim", "#6e7781"),
)
BY_NAME = {status.name: status for status in _ALL}
STATUSES = tuple(status.name for status in _ALL)  # every status an exercise can have
CHECK_STATUSES = (PASSED, FAILED, NOT_ATTEMPTED, ERROR, COURSE_ERROR)  # what a check can emit


def describe(name: str) -> Status:
    """The status called ``name``; an unknown name (a newer dl7's record) is shown as it is."""
    return BY_NAME.get(name) or Status(name, "?", name.replace("_", " "), "white", "#6e7781")


def passing(name: str) -> bool:
    """Whether the status counts as the exercise done: only a pass does."""
    return name == PASSED
