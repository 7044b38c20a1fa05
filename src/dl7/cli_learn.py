"""The learner's loop beyond `next` and `run`: `solution`, `doctor`, `watch` and `open`.

Mounted lazily by :mod:`dl7.cli` (like `validate` and `data`), so `dl7 next` never imports
this module, and each command imports its core module only when it runs.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from dl7.cli import JsonOpt, StepArg, _guard, _open, err, out
from dl7.errors import Dl7Error, ExitCode

ExerciseArg = Annotated[
    str,
    typer.Argument(
        metavar="EXERCISE", help="The exercise (e.g. `sigmoid` or `step2.sigmoid`).", show_default=False
    ),
]


def solution(step: StepArg, exercise: ExerciseArg) -> None:
    """Show the course's reference solution for an exercise, once your own answer has passed.

    Before it passes, it says so and exits 1: try `dl7 hint` first. Comparing your answer with
    the author's is most useful after you have found one of your own.
    """
    from rich.syntax import Syntax

    from dl7.solution import find_exercise, has_passed, reference_solution

    curriculum, _, progress = _open(step=step)
    with progress:
        the_step = curriculum.step(step)
        ex = find_exercise(the_step, exercise)
        passed = has_passed(progress, ex.id)
    if not passed:
        raise Dl7Error(
            f"{ex.id} has not passed yet: its solution is shown once your own answer passes",
            hint=f"`dl7 hint {the_step.id} {ex.name}` gives a hint; "
            f"`dl7 run {the_step.id}` checks your answer",
            exit_code=ExitCode.NOT_PASSING,
        )
    found = reference_solution(curriculum, the_step, ex)
    out.print(f"[bold]{escape(ex.id)}[/] — {escape(ex.title)}: the course's solution")
    out.print(f"[dim]from {escape(found.notebook.path)}; yours passed too, so compare the two[/]\n")
    for number, code in found.cells:
        out.print(f"[dim]cell {number}[/]")
        out.print(Syntax(code, "python", theme="ansi_dark", background_color="default", word_wrap=True))
        out.print()


def doctor(
    quick: Annotated[
        bool, typer.Option("--quick", help="Skip the TensorFlow import (the slowest check).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check your setup: Python, dl7, a kernel, TensorFlow, JupyterLab, workspace, disk, data.

    One line each, with a fix for each problem. Exit 0 when all is well, 1 otherwise.
    """
    from dl7.doctor import diagnose, report_json
    from dl7.workspace import locate

    if not as_json:
        err.print("[dim]checking (starting a kernel and importing TensorFlow takes a few seconds)…[/]")
    findings = diagnose(locate(), skip_tensorflow=quick)
    ok = all(f.ok for f in findings)
    if as_json:
        print(report_json(findings))
    else:
        width = max(len(f.name) for f in findings)
        for f in findings:
            mark = "[green]✔[/]" if f.ok else "[red]✘[/]"
            out.print(f"{mark} [bold]{f.name:<{width}}[/]  {escape(f.detail)}", soft_wrap=False)
            if f.fix:
                out.print(f"  {' ' * width}  [yellow]fix:[/] {escape(f.fix)}")
        problems = sum(not f.ok for f in findings)
        out.print(
            "\n[bold green]All is well.[/] `dl7 next` shows where you are."
            if ok
            else f"\n[bold red]{problems} problem(s)[/]: the fixes are above."
        )
    raise typer.Exit(int(ExitCode.OK if ok else ExitCode.NOT_PASSING))


def register(app: typer.Typer) -> None:
    app.command("solution")(_guard(solution))
    app.command("doctor")(_guard(doctor))
