"""``dl7 import``: bring another tool's course into dl7 (``dl7 import nbgrader SOURCE COURSE``).

Mounted lazily by :mod:`dl7.cli` (like `validate` and `data`), so `dl7 next` never imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from dl7.cli_common import guard, out
from dl7.cli_common import print_json as _print_json
from dl7.cli_types import JsonOpt

app = typer.Typer(help="Import a course written for another tool.", no_args_is_help=True)


def nbgrader(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="SOURCE",
            help="An nbgrader course's `source/` folder (one folder per assignment), "
            "or one assignment folder.",
            show_default=False,
        ),
    ],
    course: Annotated[
        Path,
        typer.Argument(
            metavar="COURSE", help="The dl7 course folder to write (or update).", show_default=False
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Turn nbgrader assignments into a dl7 course: one step per assignment, one exercise per
    autograded test cell (hidden tests stay in the course, never in the learner's notebook).

    Importing again updates the course and keeps the titles, summaries, readings and hints
    you added to its curriculum.yaml.
    """
    from dl7.curriculum import load
    from dl7.importers.nbgrader import import_nbgrader, summary

    report = import_nbgrader(source, course)
    load(report.manifest)  # what was written must load: a fault here is dl7's, and is said at once
    if as_json:
        _print_json(summary(report))
        return
    verb = "Updated" if report.updated else "Wrote"
    out.print(f"{verb} [bold]{escape(str(report.manifest))}[/]")
    for step in report.steps:
        hidden = sum(1 for _, _, h in step.exercises if h)
        points = sum(p or 0 for _, p, _ in step.exercises)
        line = f"  [bold]{step.id}[/] ({escape(step.assignment.name)}): {len(step.notebooks)} notebook(s), "
        line += f"{len(step.exercises)} test cell(s) ({hidden} with hidden tests), {points:g} point(s)"
        if step.manual:
            line += f", {len(step.manual)} graded by hand"
        if step.files:
            line += f", {len(step.files)} file(s)"
        out.print(line)
        for skipped in step.skipped:
            out.print(f"    [yellow]skipped[/] {escape(skipped)}: it has no autograded test cell")
    for kept in report.kept_steps:
        out.print(f"  kept your step [bold]{escape(kept)}[/]")
    where = escape(str(report.course))
    out.print(
        f"Next: [bold]dl7 validate --curriculum {where}[/], "
        "then add readings and hints to its curriculum.yaml."
    )
    out.print(f"Learners start with [bold]dl7 --curriculum {where} next[/].")


app.command("nbgrader")(guard(nbgrader))
