"""The teacher's commands: ``dl7 new`` (a starter course that validates as written) and
``dl7 preview`` (the learner's copy of a source notebook, exactly as a learner gets it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from dl7.cli_common import err, load_course, out
from dl7.errors import Dl7Error


def new(
    course: Annotated[
        Path, typer.Argument(metavar="COURSE", help="The folder to make (new, or empty).", show_default=False)
    ],
    title: Annotated[str | None, typer.Option("--title", help="The course's title.")] = None,
    course_id: Annotated[
        str | None, typer.Option("--id", help="The course's id (default: from the folder's name).")
    ] = None,
) -> None:
    """Make a small working course to edit: one step, one notebook with a checked exercise, a
    hint, a known mistake, a checker package, a data file and a CI workflow."""
    from dl7.scaffold import new_course

    made = new_course(course, title, course_id)
    out.print(f"Made the course [bold]{escape(made.course_id)}[/] in {escape(str(made.root))}:")
    for rel in made.files:
        out.print(f"  {escape(rel)}")
    out.print("Next, in that folder: [bold]dl7 validate[/] proves it sound (edit, then validate again);")
    out.print("[bold]dl7 next[/] and [bold]dl7 run step1[/] show it as a learner meets it.")


def preview(
    notebook: Annotated[
        str,
        typer.Argument(
            metavar="NOTEBOOK",
            help="A notebook of the course: its path, file name or stem.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the learner's copy to this new .ipynb file instead of printing it."
        ),
    ] = None,
) -> None:
    """Show the learner's copy of a source notebook: solutions replaced by stubs, known mistakes
    and hidden tests removed, exactly the file a learner's workspace gets."""
    from dl7.authoring import learner_version
    from dl7.workspace import read_notebook

    curriculum = load_course()
    nb = curriculum.find_notebook(notebook)
    if nb is None:
        known = ", ".join(n.path for n in curriculum.notebooks) or "none"
        raise Dl7Error(
            f"the course {curriculum.id!r} has no notebook {notebook!r}", hint=f"its notebooks: {known}"
        )
    copy = learner_version(read_notebook(curriculum.source_path(nb)))
    if output is not None:
        try:
            with open(output, "x", encoding="utf-8") as fh:  # never over a file
                json.dump(copy, fh, indent=1, ensure_ascii=False)
                fh.write("\n")
        except FileExistsError:
            raise Dl7Error(
                f"{output} exists: preview writes only a new file", hint="name another file, or delete it"
            ) from None
        err.print(f"wrote the learner's copy of {escape(nb.path)} to {escape(str(output))}")
        return
    out.print(f"[dim]the learner's copy of {escape(nb.path)} ({escape(curriculum.id)})[/]")
    for index, cell in enumerate(copy.get("cells", []), start=1):
        source = (
            "".join(cell.get("source", []))
            if isinstance(cell.get("source"), list)
            else cell.get("source", "")
        )
        out.print(f"[bold]── cell {index} ({escape(cell.get('cell_type', '?'))}) ──[/]")
        out.print(escape(source), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    from dl7.cli_common import guard

    app.command(rich_help_panel="For teachers")(guard(new))
    app.command(rich_help_panel="For teachers")(guard(preview))
