"""The ``dl7`` command line: parse arguments, call one core function, render what it returns.

Heavy modules (nbclient, nbconvert, TensorFlow) are imported only inside the commands that
need them, so ``dl7 next`` and ``dl7 status`` start as fast as Typer and Rich allow.
Every :class:`~dl7.errors.Dl7Error` is turned into one line on stderr and an exit code by
:func:`dl7.cli_common.guard`, the only place that catches it, around every command (the sub-apps'
too); an ``OSError`` that reaches it (a full disk, a read-only folder) is one line and exit 2
too, never a traceback. The sub-apps take what they share from :mod:`dl7.cli_common` and
:mod:`dl7.cli_types`, never from here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from dl7 import __version__
from dl7.cli_common import (
    choose_course,
    err,
    guard,
    hoist_course,
    next_command,
    out,
    reader_gone,
    status_command,
)
from dl7.cli_common import load_course as _load
from dl7.cli_common import open_course as _open
from dl7.cli_common import open_journey as _journey
from dl7.cli_common import print_json as _print_json
from dl7.cli_types import CourseOpt, ExerciseArg, JsonOpt, NotebookArg, StepArg
from dl7.errors import Dl7Error, ExitCode


class _LazyGroup(TyperGroup):
    """The author's and data commands (`validate`, `data`) are built only when named or listed,
    so a learner's `dl7 next` does not import and convert them on every start."""

    LAZY = ("validate", "data", "solution", "doctor", "watch", "open", "import", "new", "preview")

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in self.LAZY if n not in self.commands)]

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        course = hoist_course(args)  # the course option, wherever typed, goes before the command
        return list(super().parse_args(ctx, [*course.options, *course.rest]))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            for name, command in _lazy_commands().items():
                self.add_command(command, name)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    name="dl7",
    cls=_LazyGroup,
    help="Learn deep learning in seven steps, in real notebooks with checked exercises.\n\n"
    "Start with `dl7 next`: it tells you what to read and which notebook to solve.",
    no_args_is_help=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        out.print(f"dl7 {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main_options(
    ctx: typer.Context,
    curriculum: CourseOpt = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Learn deep learning in seven steps, in real notebooks with checked exercises."""
    choose_course(curriculum)
    if ctx.invoked_subcommand is None:
        out.print(ctx.get_help())


# -- learner commands -------------------------------------------------------------------------


@app.command("next")
@guard
def next_(as_json: JsonOpt = False) -> None:
    """What to do now: the current step, its readings, its notebook and the commands to run."""
    next_command(as_json)


@app.command()
@guard
def status(as_json: JsonOpt = False) -> None:
    """The whole journey: every step's exercises, readings and last run."""
    status_command(as_json)


@app.command()
@guard
def run(
    step: StepArg,
    notebook: NotebookArg = None,
    html: Annotated[bool, typer.Option("--html", help="Also export the executed notebook as HTML.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a step's notebooks in a fresh kernel, check every exercise, and record the attempt.

    It runs the notebook as saved on disk, so save it in Jupyter first. Your file is only read;
    the executed copy goes to the workspace's .dl7/runs/. Exit code 0 when every exercise
    passes, 1 when any does not, 2 when the course itself is broken (a checker that cannot load
    or crashes), 130 on Ctrl-C.
    """
    from dl7.runner import run_step
    from dl7.views import render_run, run_json

    curriculum, prepared, progress = _open(quiet=as_json, step=step)
    ref = curriculum.resolve(step)  # an exercise runs the notebook it is in
    the_step = ref.step
    notebooks = ref.notebooks if notebook is None else curriculum.notebook(the_step, notebook)
    with progress:
        progress.check_writable("cannot record a run")  # before any progress bar is drawn
        if as_json:
            result = run_step(curriculum, prepared.workspace, progress, the_step, notebooks, html=html)
        else:
            with _CellProgress(out) as bars:
                result = run_step(
                    curriculum,
                    prepared.workspace,
                    progress,
                    the_step,
                    notebooks,
                    on_notebook=bars.notebook,
                    html=html,
                )
    if as_json:
        _print_json(run_json(result))
    else:
        render_run(out, result)
        for ran in result.notebooks:
            if ran.html_path is not None:
                out.print(f"HTML export: [cyan]{escape(str(ran.html_path))}[/]", soft_wrap=True)
    if result.interrupted:
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    for lost in result.lost:  # the results above stand; this is what a full or read-only disk lost
        err.print(f"[bold red]error:[/] {escape(lost.message)}")
        err.print(f"[dim]hint: {escape(lost.hint)}[/]")
    if result.lost:
        raise typer.Exit(int(ExitCode.BAD_INPUT))
    if result.course_faults:
        ids = ", ".join(r.id for r in result.course_faults)
        err.print(
            f"[bold red]error:[/] the course is at fault here, not your code: its checker for "
            f"{escape(ids)} is broken (see above); please report it to the course author"
        )
        raise typer.Exit(int(ExitCode.BAD_INPUT))
    raise typer.Exit(int(ExitCode.OK if result.passed else ExitCode.NOT_PASSING))


class _CellProgress:
    """One progress bar per notebook, advancing as each code cell finishes."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("cells"),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[now]}"),
            console=console,
            transient=False,
        )

    def __enter__(self) -> _CellProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def notebook(self, nb: Any) -> Callable[[Any], None]:
        task = self.progress.add_task(f"{nb.step} · {Path(nb.path).name}", total=None, now="starting kernel")

        def on_event(event: Any) -> None:
            if event.done:
                self.progress.update(task, total=event.code_total, completed=event.code_index + 1, now="")
            else:
                self.progress.update(task, total=event.code_total, now=f"cell {event.index + 1}")

        return on_event


@app.command()
@guard
def hint(step: StepArg, exercise: ExerciseArg = None) -> None:
    """Show the next hint for an exercise: one more each time you ask.

    Name the exercise as the verdicts print it (`dl7 hint step2.sigmoid`), by its name alone
    (`dl7 hint sigmoid`) or after its step (`dl7 hint 2 sigmoid`); with a step alone, the hint
    is for its first exercise not passing yet.
    """
    from dl7.journey import journey
    from dl7.views import render_hint

    curriculum, prepared, progress = _open(step=step)
    with progress:
        ref = curriculum.resolve(step)
        the_step = ref.step
        if exercise is not None:
            ref = curriculum.resolve(exercise, within=the_step)
        ex = ref.exercise
        if ex is None:
            if not the_step.exercises:
                raise Dl7Error(f"step {the_step.id} has no exercises")
            j = journey(curriculum, progress, prepared.workspace.root)
            pending = [e.id for e in j.state(the_step.id).exercises if e.status != "passed"]
            first = pending[0] if pending else the_step.exercises[0].id
            ex = next(e for e in the_step.exercises if e.id == first)
        if not ex.hints:
            out.print(f"{ex.id} has no hints. Its check message in `dl7 run {the_step.id}` says what is off.")
            return
        try:
            shown = progress.show_next_hint(ex.id, len(ex.hints))
        except Dl7Error as exc:  # a read-only or full workspace: show the hint, say it is not kept
            shown = min(len(ex.hints), progress.hints_shown(ex.id) + 1)
            err.print(f"[yellow]warning:[/] this hint is not remembered: {escape(exc.message)}")
    render_hint(out, ex.id, ex.title, ex.hints, shown)


@app.command()
@guard
def read(
    step: StepArg,
    reading: Annotated[
        str | None, typer.Argument(metavar="READING", help="A reading's number in the list, or its id.")
    ] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Mark the reading as not done.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List a step's readings; with READING, mark it done (or not done with --undo)."""
    from dl7.journey import journey
    from dl7.views import reading_json, readings_table

    curriculum, prepared, progress = _open(quiet=as_json, step=step)
    with progress:
        the_step = curriculum.resolve(step).step
        if reading is not None:
            readings = the_step.readings
            chosen = [r for r in readings if r.id == reading]
            if not chosen and reading.isdigit() and 1 <= int(reading) <= len(readings):
                chosen = [readings[int(reading) - 1]]
            if not chosen:
                raise Dl7Error(
                    f"step {the_step.id} has no reading {reading!r}",
                    hint=f"use a number from 1 to {len(readings)} or an id from `dl7 read {the_step.id}`",
                )
            progress.mark_reading(chosen[0].id, not undo)
            if not as_json:
                out.print(
                    f"{'Unmarked' if undo else 'Marked'} [bold]{escape(chosen[0].title)}[/] as "
                    f"{'not done' if undo else 'done'}."
                )
        j = journey(curriculum, progress, prepared.workspace.root)
    st = j.state(the_step.id)
    if as_json:
        readings = [reading_json(r, r.id in st.readings_done) for r in the_step.readings]
        _print_json({"step": the_step.id, "readings": readings})
        return
    if not the_step.readings:
        out.print(f"{the_step.id} has no readings.")
        return
    out.print(
        f"[bold]{escape(the_step.id)} — {escape(the_step.title)}[/]: "
        f"{st.readings_count} of {len(the_step.readings)} readings done"
    )
    out.print(readings_table(st))
    if reading is None:
        out.print(f"\n[dim]Mark one done with `dl7 read {the_step.id} N`; undo with `--undo`.[/]")


@app.command()
@guard
def reset(
    step: StepArg,
    notebook: NotebookArg = None,
) -> None:
    """Restore a fresh notebook; your current one is kept as a timestamped backup."""
    from dl7.workspace import reset as reset_notebook
    from dl7.workspace import reset_files

    curriculum, prepared, progress = _open(step=step)
    progress.close()
    ref = curriculum.resolve(step)  # an exercise: only the notebook it is in
    for nb in ref.notebooks if notebook is None else curriculum.notebook(ref.step, notebook):
        done = reset_notebook(prepared.workspace, curriculum, nb)
        out.print(f"Restored [cyan]{escape(str(done.path))}[/]")
        if done.backup:
            out.print(f"  your previous version is kept at [cyan]{escape(str(done.backup))}[/]")
        for path, backup in reset_files(prepared.workspace, curriculum, nb):  # its data files too
            out.print(f"Restored [cyan]{escape(str(path))}[/] as the course has it")
            if backup:
                out.print(f"  your previous version is kept at [cyan]{escape(str(backup))}[/]")


@app.command("list")
@guard
def list_(as_json: JsonOpt = False) -> None:
    """List the steps of the course."""
    from dl7.views import list_json, render_list

    if as_json:
        _print_json(list_json(_load()))
        return
    render_list(out, _journey(create=False)[2])


@app.command()
@guard
def show(step: StepArg, as_json: JsonOpt = False) -> None:
    """Show one step in detail: summary, readings, notebooks and exercises."""
    from dl7.views import render_show, step_json

    if as_json:
        _print_json(step_json(_load().resolve(step).step))
        return
    curriculum, _, j = _journey(step=step, create=False)
    render_show(out, j, j.state(curriculum.resolve(step).step.id))


def _lazy_commands() -> dict[str, Any]:
    from dl7.cli_author import register as register_author_commands
    from dl7.cli_data import app as data_app
    from dl7.cli_import import app as import_app
    from dl7.cli_learn import register as register_learner_commands
    from dl7.cli_validate import validate

    lazy = typer.Typer(rich_markup_mode="markdown")
    lazy.command()(guard(validate))
    lazy.add_typer(data_app, name="data", help="List data sets and fetch the optional full-size ones.")
    lazy.add_typer(import_app, name="import", help="Import a course written for another tool (nbgrader).")
    register_learner_commands(lazy)
    register_author_commands(lazy)
    group = typer.main.get_command(lazy)
    return {name: group.commands[name] for name in _LazyGroup.LAZY if name in group.commands}  # type: ignore[attr-defined]


def _help_consoles_exit_like_dl7() -> None:
    """Typer prints help through Rich consoles of its own, whose reader going away
    (`dl7 --help | head -1`) exits 1, which in dl7 means "exercises not passing": give them
    dl7's console's answer to a closed pipe (exit 141, nothing on stderr). Typer is pinned
    below 0.29 (pyproject), and a test holds this to the real pipe."""
    from types import MethodType

    import typer.rich_utils

    make = typer.rich_utils._get_rich_console
    if getattr(make, "_dl7", False):
        return

    def console(stderr: bool = False) -> Console:
        made = make(stderr)
        made.on_broken_pipe = MethodType(reader_gone, made)  # type: ignore[method-assign]
        return made

    console._dl7 = True  # type: ignore[attr-defined]
    typer.rich_utils._get_rich_console = console


def main() -> None:
    _help_consoles_exit_like_dl7()
    try:
        app()
    except SystemExit as exc:
        # Click's own echo meets a closed pipe by swapping in its PacifyFlushWrapper and exiting
        # 1 (typer/core.py): exit as every dl7 command does when its reader is gone.
        from typer._click.utils import PacifyFlushWrapper

        if exc.code == 1 and isinstance(sys.stdout, PacifyFlushWrapper):
            raise SystemExit(int(ExitCode.READER_GONE)) from None
        raise
