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

import os
from collections.abc import Callable

COMMANDS = ("next", "status")


def match(args: list[str]) -> tuple[str, str | None, bool] | None:
    """(command, course path or None, --json) when ``args`` has a plain shape; else None."""
    command: str | None = None
    course: str | None = None
    as_json = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--curriculum", "-c"):
            if course is not None or i + 1 >= len(args):
                return None
            course = args[i + 1]
            i += 2
            continue
        if arg.startswith("--curriculum="):
            if course is not None:
                return None
            course = arg.split("=", 1)[1]
        elif arg == "--json" and command is not None and not as_json:
            as_json = True
        elif arg in COMMANDS and command is None:
            command = arg
        else:
            return None
        i += 1
    if command is None:
        return None
    return command, course, as_json


def run(args: list[str]) -> bool:
    """Run ``args`` here if it is a plain ``next`` or ``status``; False to hand it to Typer.
    Exits through ``SystemExit`` as the full CLI does."""
    found = match(args)
    if found is None:
        return False
    command, course, as_json = found
    from dl7.cli_common import next_command, state, status_command

    # Click reads an unset or empty DL7_CURRICULUM as "not given"; so does this.
    state.curriculum_path = course if course is not None else (os.environ.get("DL7_CURRICULUM") or None)
    state.curriculum_named = course is not None
    handler: Callable[[bool], None] = next_command if command == "next" else status_command
    handler(as_json)
    return True
