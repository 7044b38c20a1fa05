"""The Typer parameter types that several commands share: a step (or exercise), an exercise, a
notebook, ``--json`` and the course option.

They need Typer, so they cannot sit in :mod:`dl7.cli_common` (which the fast path imports
without Typer); every sub-app takes them from here, none from :mod:`dl7.cli`, so the CLI's
imports run one way: ``cli`` → sub-apps → ``cli_types`` → ``cli_common``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from dl7.cli_common import COURSE_OPTION
from dl7.locations import CURRICULUM_ENV

# Every form resolves through Curriculum.resolve, the one reader of a step or exercise argument.
StepArg = Annotated[
    str,
    typer.Argument(
        metavar="STEP",
        help="A step (`step5` or `5`), or one of its exercises (`step5.conv2d` or `conv2d`).",
        show_default=False,
    ),
]
CurrentStepArg = Annotated[
    str | None,
    typer.Argument(
        metavar="STEP",
        help="A step (`step5` or `5`) or an exercise (`step5.conv2d`); default: the step you are on.",
    ),
]
ExerciseArg = Annotated[
    str | None,
    typer.Argument(
        metavar="EXERCISE",
        help="An exercise of that step (`sigmoid` or `step2.sigmoid`), when STEP names only the step.",
    ),
]
NotebookArg = Annotated[
    str | None, typer.Argument(metavar="NOTEBOOK", help="Only this notebook of the step (its file name).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]
# No envvar here: cli_common.choose_course reads it, for Typer and the fast path alike.
CourseOpt = Annotated[
    str | None,
    typer.Option(
        *COURSE_OPTION,
        metavar="PATH",
        help="Run another course: a curriculum.yaml or the folder holding it.  \n"
        f"[env var: {CURRICULUM_ENV}]",
        show_default=False,
    ),
]
