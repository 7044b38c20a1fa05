"""``dl7 next`` and ``dl7 status`` without building the Typer app.

A learner types these two most, and they should feel instant; importing Typer and turning the
app's functions into Click commands costs about as much as the rest of the command. So when
the command line has one of a few plain shapes::

    dl7 [--curriculum PATH | -c PATH | --curriculum=PATH] (next | status) [--json]

(the course option wherever it is typed, as the full CLI accepts it), the same functions that
:mod:`dl7.cli` registers as its commands are called directly. Anything else (``--help``, a
typo, a repeated option, ``--``) goes to Typer, which owns every message about usage.
"""

from __future__ import annotations

from dl7.cli_common import hoist_course

COMMANDS = ("next", "status")


def match(args: list[str]) -> tuple[str, str | None, bool] | None:
    """(command, course path or None, --json) when ``args`` has a plain shape; else None."""
    course = hoist_course(args)  # the same reading of the course option as the full CLI's
    if len(course.named) > 1:
        return None  # which one wins is Click's to say
    rest = course.rest
    if not rest or rest[0] not in COMMANDS or rest[1:] not in ((), ("--json",)):
        return None
    return rest[0], (course.named[0] if course.named else None), rest[1:] == ("--json",)


def run(args: list[str]) -> bool:
    """Run ``args`` here if it is a plain ``next`` or ``status``; False to hand it to Typer.
    Exits through ``SystemExit`` as the full CLI does."""
    found = match(args)
    if found is None:
        return False
    command, course, as_json = found
    from dl7.cli_common import choose_course, guard, next_command, status_command

    choose_course(course)  # as the Typer callback does, environment included
    guard(next_command if command == "next" else status_command)(as_json)
    return True
