"""The learner's loop beyond `next` and `run`: `solution`, `doctor`, `watch` and `open`.

Mounted lazily by :mod:`dl7.cli` (like `validate` and `data`), so `dl7 next` never imports
this module, and each command imports its core module only when it runs.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from dl7.cli_common import dl7_call as _dl7
from dl7.cli_common import err, guard, out
from dl7.cli_common import open_course as _open
from dl7.cli_types import CurrentStepArg, ExerciseArg, JsonOpt, NotebookArg, StepArg
from dl7.errors import Dl7Error, ExitCode


def solution(step: StepArg, exercise: ExerciseArg = None) -> None:
    """Show the course's reference solution for an exercise, once your own answer has passed.

    Name it as the verdicts print it (`dl7 solution step2.sigmoid`), by its name alone, or
    after its step (`dl7 solution 2 sigmoid`). Before it passes, it says so and exits 1: try
    `dl7 hint` first. Comparing your answer with the author's is most useful after you have
    found one of your own.
    """
    from rich.syntax import Syntax

    from dl7.solutions import has_passed, reference_solution

    curriculum, _, progress = _open(step=step)
    with progress:
        ref = curriculum.resolve(step)
        if exercise is not None:
            ref = curriculum.resolve(exercise, within=ref.step)
        the_step, ex = ref.step, ref.exercise
        if ex is None:
            names = ", ".join(e.name for e in the_step.exercises) or "none"
            raise Dl7Error(
                f"name an exercise of {the_step.id}, e.g. `{_dl7()} solution {the_step.id}.NAME`",
                hint=f"its exercises: {names}",
            )
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
        bool, typer.Option("--quick", help="Skip importing the course's libraries (the slowest check).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check your setup: Python, dl7, the course, a kernel, its libraries, JupyterLab, disk, data.

    One line each, with a fix for each problem. Exit 0 when all is well, 1 otherwise.
    """
    from dl7.cli_common import load_course
    from dl7.doctor import diagnose, report_json
    from dl7.workspace import locate

    if not as_json:
        slow = "starting a kernel" + ("" if quick else " and importing the course's libraries")
        err.print(f"[dim]checking ({slow} takes a while)…[/]")
    findings = diagnose(locate(), load_course, skip_libraries=quick)
    ok = all(f.ok for f in findings)
    if as_json:
        print(report_json(findings))
    else:
        from rich.table import Table

        table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True, style="bold")
        table.add_column(ratio=1, overflow="fold")
        for f in findings:
            table.add_row("[green]✔[/]" if f.ok else "[red]✘[/]", f.name, escape(f.detail))
            if f.fix:
                table.add_row("", "", f"[yellow]fix:[/] {escape(f.fix)}")
        out.print(table)
        problems = sum(not f.ok for f in findings)
        out.print(
            "\n[bold green]All is well.[/] `dl7 next` shows where you are."
            if ok
            else f"\n[bold red]{problems} problem(s)[/]: the fixes are above."
        )
    raise typer.Exit(int(ExitCode.OK if ok else ExitCode.NOT_PASSING))


def watch(
    step: CurrentStepArg = None,
    notebook: NotebookArg = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON line per run instead of tables.")
    ] = False,
) -> None:
    """Run a step's notebooks, then re-run each one every time you save it, until Ctrl-C.

    Every run is a fresh kernel, as with `dl7 run`, but the next one is started (and the
    libraries your notebook imports are loaded) while you type, so a verdict comes moments
    after you save. Only a change to your code re-runs a notebook. Each run is recorded.

    On a terminal the screen shows one notebook, redrawn after each run, and takes keys: h hint,
    s solution, r run again, n next notebook, l list, q quit. When the notebook passes, watch
    moves on to the next unfinished one. Ctrl-C stops a run (nothing recorded); again, it quits.
    """
    import json
    from datetime import datetime

    from dl7.journey import journey
    from dl7.runner import StepRun
    from dl7.views import render_run, run_json
    from dl7.watch import Watcher

    curriculum, prepared, progress = _open(quiet=as_json, step=step)
    ws = prepared.workspace
    chosen: tuple[Any, ...] | None = None
    with progress:
        if step is None:
            current = journey(curriculum, progress, ws.root).current
            if current is None:
                raise Dl7Error(
                    "every step of this course is complete",
                    hint=f"name one to watch: {_dl7()} watch {curriculum.steps[0].id}",
                )
            the_step = current.step
        else:
            ref = curriculum.resolve(step)  # an exercise: the notebook it is in
            the_step, chosen = ref.step, ref.notebooks
        if not the_step.notebooks:
            raise Dl7Error(f"step {the_step.id} has no notebooks to watch")
        notebooks = (
            chosen if chosen is not None and notebook is None else curriculum.notebook(the_step, notebook)
        )
        progress.check_writable("cannot record a run")
        if not as_json and sys.stdin.isatty() and out.is_terminal:  # a screen and keys, as rustlings
            from dl7.watch import interactive

            interactive(curriculum, ws, progress, notebooks, out)
            return
        # Kernels' own output: the watcher opens kernel.log for each kernel, so that it rotates.

        def on_start(nb: Any) -> None:
            if not as_json:
                out.rule(
                    f"[bold]{escape(nb.path)}[/] · {datetime.now():%H:%M:%S}", align="left", style="cyan"
                )

        def on_run(run: Any) -> None:
            if as_json:
                print(json.dumps(run_json(StepRun(the_step, (run,)))), flush=True)
            else:
                render_run(out, StepRun(the_step, (run,)), again="save to check again")
            for lost in run.lost:
                err.print(f"[bold red]error:[/] {escape(lost.message)}")

        def on_idle() -> None:
            if as_json:
                print(
                    json.dumps({"watching": [str(ws.learner_path(nb)) for nb in the_step.notebooks]}),
                    flush=True,
                )
            else:
                out.print(
                    f"[dim]watching {the_step.id}: save a notebook to check it again · Ctrl-C to stop[/]"
                )

        watcher = Watcher(curriculum, ws, progress, the_step, on_run, on_start, notebooks=notebooks)
        watcher.loop(on_idle=on_idle)


def open_(
    ctx: typer.Context,
    step: CurrentStepArg = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the URL (on 127.0.0.1) instead of opening a browser.")
    ] = False,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Port (default: a free one).")
    ] = None,
) -> None:
    """Start JupyterLab on your workspace with the step's first unfinished notebook open.

    It listens on 127.0.0.1 only, with a fresh token. Ctrl-C, closing the terminal or SIGTERM
    stops it (your notebooks are saved by JupyterLab as you work; save before you stop).
    Arguments after `--` go to JupyterLab itself.
    """
    import webbrowser

    from dl7 import locations
    from dl7.journey import journey
    from dl7.lab import first_unfinished, free_port, one_server, serve

    extra = tuple(ctx.args)
    if step is not None and step.startswith("-"):  # `dl7 open -- --lab-option`: no STEP given
        extra = (step, *extra)
        step = None
    curriculum, prepared, progress = _open(step=step)
    ws = prepared.workspace
    with progress:
        j = journey(curriculum, progress, ws.root)
    ref = curriculum.resolve(step) if step is not None else None
    state = j.state(ref.step.id) if ref is not None else (j.current or j.steps[0])
    # An exercise named: the notebook it is in; else the step's first one not passing yet.
    named = ref is not None and (ref.exercise is not None or ref.notebook is not None)
    nb = ref.notebooks[0] if ref is not None and named else first_unfinished(state)
    log_path = ws.lab_log
    port = port or free_port()  # chosen here, so that the lock can name it to a second `dl7 open`
    with contextlib.ExitStack() as held:
        held.enter_context(one_server(locations.lab_lock(ws.dot), port))  # before the log is touched
        try:
            log = held.enter_context(open(log_path, "ab"))  # closed after the server stops
        except OSError:
            log = held.enter_context(open(os.devnull, "wb"))
        lab = held.enter_context(
            serve(ws.root, nb.path, log, port=port, extra=extra, course_env=curriculum.kernel.env)
        )
        err.print("[dim]starting JupyterLab…[/]")
        lab.wait_until_up()
        out.print(f"JupyterLab is serving [cyan]{escape(str(ws.root))}[/] with {escape(nb.path)} open:")
        # The URL (token included) goes to the learner's own terminal; the browser gets a
        # private page that redirects to it, so the token is on no command line.
        out.print(f"[link={lab.url}]{escape(lab.url)}[/link]", soft_wrap=True)
        if not no_browser and not webbrowser.open(lab.browser_page()):
            err.print("[yellow]no browser could be opened:[/] open the URL above yourself")
        out.print(
            f"[dim]Ctrl-C stops it · log: {escape(str(log_path))} · "
            f"`{escape(_dl7())} run {state.step.id}` checks your work from another terminal[/]",
            soft_wrap=True,
        )
        code = lab.process.wait()
        if code != 0:
            raise Dl7Error(f"JupyterLab stopped (exit code {code})", hint=f"its log says why: {log_path}")


def register(app: typer.Typer) -> None:
    app.command("solution")(guard(solution))
    app.command("doctor")(guard(doctor))
    app.command("watch")(guard(watch))
    app.command("open", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
        guard(open_)
    )
