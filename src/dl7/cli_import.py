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
            help="An nbgrader course folder (with source/), its `source/` folder "
            "(one folder per assignment), or one assignment folder.",
            show_default=False,
        ),
    ],
    course: Annotated[
        Path,
        typer.Argument(
            metavar="COURSE", help="The dl7 course folder to write (or update).", show_default=False
        ),
    ],
    header: Annotated[
        Path | None,
        typer.Option(
            "--header",
            metavar="NOTEBOOK",
            help="A notebook whose cells go before every notebook's, as nbgrader's "
            "IncludeHeaderFooter.header (default: nbgrader_config.py's, else source/header.ipynb).",
            show_default=False,
        ),
    ] = None,
    no_header: Annotated[
        bool, typer.Option("--no-header", help="Put no header before the notebooks.")
    ] = False,
    code_stub: Annotated[
        str | None,
        typer.Option(
            "--code-stub",
            metavar="TEXT",
            help="What replaces a code solution (nbgrader's ClearSolutions.code_stub; "
            "default: nbgrader_config.py's, else '# YOUR CODE HERE' + 'raise NotImplementedError()').",
            show_default=False,
        ),
    ] = None,
    text_stub: Annotated[
        str | None,
        typer.Option(
            "--text-stub",
            metavar="TEXT",
            help="What replaces a written answer (ClearSolutions.text_stub; default 'YOUR ANSWER HERE').",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Turn nbgrader assignments into a dl7 course: one step per assignment, one exercise per
    autograded test cell (hidden tests stay in the course, never in the learner's notebook),
    manually graded answers and tasks listed as graded by a person.

    The course is built beside COURSE and swapped in only once it loads: a failed import
    changes nothing. Importing again keeps the titles, summaries, readings and hints you added
    to its curriculum.yaml, and backs up any imported notebook or file you edited.
    """
    from dl7.importers.nbgrader import import_nbgrader, summary

    report = import_nbgrader(
        source, course, header=header, no_header=no_header, code_stub=code_stub, text_stub=text_stub
    )
    if as_json:
        _print_json(summary(report))
        return
    verb = "Updated" if report.updated else "Wrote"
    out.print(f"{verb} [bold]{escape(str(report.manifest))}[/]")
    if report.header is not None:
        out.print(f"  header [bold]{escape(str(report.header))}[/] put before every notebook's cells")
    for step in report.steps:
        hidden = sum(1 for _, _, h in step.exercises if h)
        points = sum(p or 0 for _, p, _ in step.exercises)
        line = f"  [bold]{step.id}[/] ({escape(step.assignment.name)}): {len(step.notebooks)} notebook(s), "
        line += f"{len(step.exercises)} test cell(s) ({hidden} with hidden tests), {points:g} point(s)"
        if step.manual:
            by_hand = sum(p or 0 for _, p in step.manual)
            line += f", {len(step.manual)} graded by a person ({by_hand:g} point(s))"
        if step.files:
            line += f", {len(step.files)} file(s)"
        out.print(line)
        for path in step.without_tests:
            out.print(f"    {escape(path)}: no autograded test; the learner gets it, a person grades it")
        for path, why in step.refused:
            shown = escape(f"{step.assignment.name}/{path}")
            out.print(f"    [yellow]not copied[/] {shown}: {escape(why)}")
    for kept in report.kept_steps:
        out.print(f"  kept your step [bold]{escape(kept)}[/]")
    for path, backup in report.backups:
        out.print(f"  [yellow]you had edited[/] {escape(path)}: your version is kept as {escape(backup)}")
    for path in report.left:
        out.print(
            f"  [yellow]left in place[/] {escape(path)}: no longer in the source, and you had edited it"
        )
    where = escape(str(report.course))
    out.print(
        f"Next: [bold]dl7 validate --curriculum {where}[/], "
        "then add readings and hints to its curriculum.yaml."
    )
    out.print(f"Learners start with [bold]dl7 --curriculum {where} next[/].")


app.command("nbgrader")(guard(nbgrader))
