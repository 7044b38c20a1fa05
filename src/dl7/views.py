"""Rich renderings and JSON documents of what the core returns. No logic lives here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dl7.statuses import describe

if TYPE_CHECKING:  # for type hints only: `dl7 next` must not pay for the runner's imports
    from pathlib import Path

    from dl7.curriculum import Curriculum, Reading, Step
    from dl7.journey import Journey, StepState
    from dl7.runner import StepRun
    from dl7.validate import CaseResult, Report
    from dl7.workspace import Prepared


PANEL_WIDTH = 100  # columns: wide enough for a workspace path and a command, still readable


def _markup(text: str, **options: Any) -> Text:
    """Rich markup without emoji codes: a title's `:x:` stays as typed, and Rich's emoji table
    (2-3 ms to import) stays out of `dl7 next`."""
    return Text.from_markup(text, emoji=False, **options)


def _panel_width(console: Console) -> int:
    return min(console.width, PANEL_WIDTH)


def badge(status: str) -> Text:
    style = describe(status)
    return Text(f"{style.symbol} {style.label}", style=style.colour)


def workspace_notice(console: Console, prepared: Prepared) -> None:
    ws = prepared.workspace
    if prepared.created:
        console.print(f"[bold]Created your workspace[/] at [cyan]{escape(str(ws.root))}[/]")
        console.print("  (your notebooks live there; set DL7_HOME to put it elsewhere)\n")
    elif prepared.added:
        console.print(
            f"Added {len(prepared.added)} new notebook(s) to your workspace: "
            + ", ".join(escape(p) for p in prepared.added)
            + "\n"
        )


class Whole:
    """A line printed whole, never cut or wrapped by dl7 (a URL, a command to copy): where it
    does not fit the terminal, the terminal wraps it, so it still copies and clicks whole."""

    def __init__(self, markup: str, plain: str, indent: int = 0) -> None:
        self.text = _markup(" " * indent + markup, overflow="ignore")
        self.text.no_wrap = True
        self.width = indent + len(plain)

    def __rich__(self) -> Text:
        return self.text


def reflow(summary: str) -> str:
    """A manifest's hard-wrapped summary as paragraphs the terminal wraps to its own width
    (lines starting a list item keep their break)."""
    paragraphs = []
    for block in summary.strip().split("\n\n"):
        lines: list[str] = []
        for line in block.splitlines():
            item = line.lstrip().startswith(("- ", "* ")) or line[:3].rstrip(". ").isdigit()
            if lines and not item:
                lines[-1] += " " + line.strip()
            else:
                lines.append(line.rstrip())
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def readings_parts(state: StepState) -> list[Any]:
    """Each reading: number, mark, title and details wrapped to the width, then its URL whole."""
    parts: list[Any] = []
    for n, r in enumerate(state.step.readings, start=1):
        table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
        mark = "[green]✔[/]" if r.id in state.readings_done else "[dim]○[/]"
        optional = " [dim](optional)[/]" if r.optional else ""
        table.add_row(
            f"{n}.",
            mark,
            f"[bold]{escape(r.title)}[/]{optional}\n[dim]{escape(r.author)} · {escape(r.kind)} · "
            f"{r.minutes} min · id {escape(r.id)}[/]",
        )
        parts += [
            table,
            Whole(f"[link={link_target(r.url)}][blue]{escape(r.url)}[/][/link]", r.url, indent=7),
        ]
    return parts


def readings_table(state: StepState) -> Group:
    return Group(*readings_parts(state))


def _emit(console: Console, parts: list[Any], title: str, border_style: str) -> None:
    """A panel where every whole line fits inside it; otherwise (a narrow terminal, a long URL)
    the same parts between two rules, so nothing is cut and nothing carries a border."""
    width = _panel_width(console)
    if all(p.width <= width - 4 for p in parts if isinstance(p, Whole)):
        # A fixed width, not expand=False: Rich would otherwise measure every nested table once
        # more just to fit the panel to them (a third of `dl7 next`'s time, measured).
        console.print(Panel(Group(*parts), title=_markup(title), border_style=border_style, width=width))
        return
    console.rule(f"[bold]{title}[/]" if title else "", style=border_style, align="left")
    console.print(Group(*parts), crop=False)
    console.rule(style=border_style)


def _command(console: Console, command: str, comment: str) -> list[Any]:
    """``$ command   # comment``: the command whole; the comment beside it only where it fits."""
    line = f"  $ {command}"
    if len(line) + 5 + len(comment) <= _panel_width(console) - 4:
        return [Whole(f"{escape(line)}   [dim]# {escape(comment)}[/]", f"{line}   # {comment}")]
    return [Whole(escape(line), line), Text(f"    # {comment}", style="dim")]


def exercises_table(state: StepState) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    for ex in state.exercises:
        table.add_row(badge(ex.status), escape(ex.id), f"[dim]{escape(ex.title)}[/]")
    return table


def render_next(console: Console, curriculum: Curriculum, journey: Journey, dl7: str = "dl7") -> None:
    """``dl7`` is how the learner calls dl7: with ``--curriculum PATH`` for a teacher's course."""
    state = journey.current
    if state is None:
        render_finished(console, journey, dl7)
        return
    step = state.step
    total = len(journey.steps)
    index = journey.steps.index(state) + 1
    parts: list[Any] = [
        _markup(f"[dim]{escape(journey.course_title)} · step {index} of {total}[/]"),
        _markup(f"[bold]{escape(step.id)} — {escape(step.title)}[/]\n"),
        Text(reflow(step.summary) + "\n"),
    ]
    if step.readings:
        parts += [
            _markup(f"[bold]Read or watch[/] ({state.readings_count}/{len(step.readings)} done)"),
            *readings_parts(state),
            Text(""),
        ]
    by_id = {e.id: e for e in state.exercises}
    todo_nb: Path | None = None
    if step.notebooks:
        parts.append(
            _markup(
                "[bold]Then solve the exercises in[/]" if step.readings else "[bold]Solve the exercises in[/]"
            )
        )
        for nb in step.notebooks:
            path = journey.workspace / nb.path
            parts.append(_markup(f"[bold]{escape(nb.title)}[/]"))
            parts.append(Whole(f"[cyan]{escape(str(path))}[/]", str(path)))
            table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
            for ex in nb.exercises:
                table.add_row(
                    "  ", badge(by_id[ex.id].status), escape(ex.name), f"[dim]{escape(ex.title)}[/]"
                )
                if todo_nb is None and not (by_id[ex.id].status == "passed" and by_id[ex.id].run_passed):
                    todo_nb = path  # a pass checked only in the notebook still wants its run
            parts += [table]
        parts.append(Text(""))
    commands: list[tuple[str, str]] = []
    if todo_nb is not None:
        # dl7's own commands, not `jupyter lab PATH`: they need no activated venv, work as root
        # (a container's user), open the notebook above (the first one not passing) and check it.
        commands.append((f"{dl7} open", f"solve them in JupyterLab, {todo_nb.name} open"))
        commands.append((f"{dl7} watch", "in another terminal: a verdict each time you save"))
        commands.append((f"{dl7} run {step.id}", "run in a fresh kernel and check every exercise"))
        commands.append((f"{dl7} hint {step.id}", "stuck? one more hint each time"))
    unread = [n for n, r in enumerate(step.readings, start=1) if r.id not in state.readings_done]
    if unread:
        commands.append((f"{dl7} read {step.id} {unread[0]}", f"mark reading {unread[0]} as done"))
    parts.append(_markup("[bold]Next commands[/]"))
    for c, why in commands:
        parts += _command(console, c, why)
    _emit(console, parts, "dl7 next", "cyan")


def render_finished(console: Console, journey: Journey, dl7: str = "dl7") -> None:
    """`dl7 next` once every step is complete: congratulations, and what to read next."""
    last = journey.steps[-1].step if journey.steps else None
    parts: list[Any] = [
        _markup(
            f"[bold green]Congratulations![/] You have completed all {len(journey.steps)} steps of "
            f"[bold]{escape(journey.course_title)}[/]: all {journey.exercises_passed} exercises pass.\n"
        )
    ]
    unread = journey.unread()
    closing = [u for u in unread if last is not None and u.step_id == last.id]
    earlier = [u for u in unread if u not in closing]
    if closing and last is not None:
        parts.append(_markup(f"[bold]Read next[/] — where {escape(last.id)} ({escape(last.title)}) points:"))
        for u in closing:
            r = u.reading
            optional = " [dim](optional)[/]" if r.optional else ""
            table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
            table.add_row(
                f"{u.number}.",
                f"[bold]{escape(r.title)}[/]{optional}\n[dim]{escape(r.author)} · {escape(r.kind)} · "
                f"{r.minutes} min[/]",
            )
            parts += [
                table,
                Whole(f"[link={link_target(r.url)}][blue]{escape(r.url)}[/][/link]", r.url, indent=4),
            ]
        parts.append(Text(""))
    if earlier:
        parts.append(_markup(f"[bold]Still unread from earlier steps[/] ({len(earlier)}):"))
        for u in earlier:
            parts.append(_markup(f"  {escape(u.step_id)} {u.number}.  {escape(u.reading.title)}"))
            parts.append(Whole(f"[dim]{escape(u.reading.url)}[/]", u.reading.url, indent=4))
        parts.append(Text(""))
    if not unread:
        parts.append(Text("You have read everything the course recommends, too. Keep building.\n"))
    parts.append(_markup("[bold]Next commands[/]"))
    for c in finished_commands(journey, dl7):
        command, _, why = c.partition("   # ")
        parts += _command(console, command, why)
    _emit(console, parts, "dl7 next · course complete", "green")


def finished_commands(journey: Journey, dl7: str = "dl7") -> list[str]:
    unread = journey.unread()
    commands = [f"{dl7} read {unread[0].step_id} {unread[0].number}   # mark it as read"] if unread else []
    return [*commands, f"{dl7} status   # the whole journey"]


def finished_json(journey: Journey, dl7: str = "dl7") -> dict[str, Any]:
    """The ``finished`` part of `dl7 next --json` once every step is complete."""
    return {
        "steps": len(journey.steps),
        "exercises_passed": journey.exercises_passed,
        "read_next": [
            {"step": u.step_id, "number": u.number, **reading_json(u.reading)} for u in journey.unread()
        ],
        "commands": [c.split("   #")[0] for c in finished_commands(journey, dl7)],
    }


BAR_WIDTH = 10


def bar(done: int, total: int, width: int = BAR_WIDTH) -> Text:
    """``━━━━━━────  6/10``: a step's exercises at a glance (drawn here: no progress module)."""
    filled = round(width * done / total) if total else 0
    colour = "green" if total and done == total else ("cyan" if done else "dim")
    text = Text("━" * filled, style=colour)
    text.append("─" * (width - filled), style="dim")
    text.append(f" {done:>2}/{total}")
    return text


def render_status(console: Console, journey: Journey) -> None:
    table = Table(
        title=_markup(f"[bold]{escape(journey.course_title)}[/]"),
        title_justify="left",
        box=None,
        header_style="bold",
        padding=(0, 1),
        pad_edge=False,
    )
    table.add_column("step", no_wrap=True)
    table.add_column("title", ratio=1, min_width=12)
    table.add_column("exercises", no_wrap=True)
    table.add_column("read", justify="right", no_wrap=True)
    table.add_column("last run", no_wrap=True)
    table.add_column("", no_wrap=True)
    current = journey.current
    for s in journey.steps:
        mark = "[green]✔ done[/]" if s.complete else ("[cyan]◀ now[/]" if s is current else "")
        if s.cell_errors and not s.complete:
            mark += " [red]![/]"
        last = local_time(s.last_run) if s.last_run else "[dim]never[/]"
        table.add_row(
            s.step.id,
            escape(s.step.title),
            bar(s.passed, len(s.exercises)),
            f"{s.readings_count}/{len(s.step.readings)}",
            last,
            mark,
        )
    console.print(table)
    points = journey.points
    if points is not None:
        by_hand = sum(s.manual_points for s in journey.steps)
        extra = f" [dim]({by_hand:g} of them graded by hand by your teacher)[/]" if by_hand else ""
        console.print(f"[bold]Points:[/] {points[0]:g} of {points[1]:g}{extra}")
    if any(s.cell_errors and not s.complete for s in journey.steps):
        console.print("[red]![/] [dim]a cell raises an error in that step: `dl7 run` shows which[/]")
    if current is not None:
        todo = [e for e in current.exercises if e.status != "passed" or not e.run_passed]
        console.print(
            f"\n[bold]Still to do in {escape(current.step.id)}[/] ({len(todo)} of {len(current.exercises)}):"
        )
        grid = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
        for wrap in (False, False, False, True):
            grid.add_column(no_wrap=not wrap, ratio=1 if wrap else None)
        for e in todo:
            title = escape(e.title)
            if e.status == "passed":  # checked in the notebook; only a whole run completes the step
                title += f" · checked in the notebook: `dl7 run {escape(current.step.id)}` makes it count"
            grid.add_row(" ", badge(e.status), escape(e.id.split(".", 1)[-1]), f"[dim]{title}[/]")
        console.print(grid)
    zone = escape(local_zone())
    console.print(f"\n[dim]times in {zone} · workspace: {escape(str(journey.workspace))}[/]", soft_wrap=True)


def link_target(url: str) -> str:
    """A URL as a terminal hyperlink's target: characters that could end Rich's markup or the
    terminal's escape sequence (brackets, spaces, controls) are percent-encoded."""
    from urllib.parse import quote

    return quote(url, safe=":/?#@!$&'()*+,;=%~-._")


def local_time(stamp: str) -> str:
    """``MM-DD HH:MM`` in the learner's own time zone, for a time stored in UTC (ISO 8601)."""
    from datetime import datetime

    try:
        return f"{datetime.fromisoformat(stamp).astimezone():%m-%d %H:%M}"
    except ValueError:  # not a time dl7 wrote: shown as it is
        return escape(stamp)


def local_zone() -> str:
    """The learner's time zone as the clock shows it (``CET``, ``UTC``, or ``+0530``)."""
    from datetime import datetime

    now = datetime.now().astimezone()
    return f"local time ({now.tzname() or now.strftime('%z')})"


def status_json(journey: Journey) -> dict[str, Any]:
    return {
        "workspace": str(journey.workspace),
        "current": journey.current.step.id if journey.current else None,
        "steps": [
            {
                "id": s.step.id,
                "title": s.step.title,
                "complete": s.complete,
                "last_run": s.last_run,
                "exercises": [{"id": e.id, "status": e.status} for e in s.exercises],
                "cell_errors": list(s.cell_errors),
                "readings": {"done": s.readings_count, "total": len(s.step.readings)},
                **(
                    {"points": {"earned": p[0], "possible": p[1], "by_hand": s.manual_points}}
                    if (p := s.points)
                    else {}
                ),
            }
            for s in journey.steps
        ],
        **(
            {
                "points": {
                    "earned": t[0],
                    "possible": t[1],
                    "by_hand": sum(s.manual_points for s in journey.steps),
                }
            }
            if (t := journey.points)
            else {}
        ),
    }


def render_run(console: Console, run: StepRun, again: str = "") -> None:
    """``again``: how to check again (default: `dl7 run STEP` again; `dl7 watch` says: save)."""
    again = again or f"`dl7 run {run.step.id}` again"
    for nbrun in run.notebooks:
        table = Table(title=f"{run.step.id} · {nbrun.notebook.title}", title_justify="left", expand=False)
        table.add_column("result", no_wrap=True)
        table.add_column("exercise", no_wrap=True)
        table.add_column("why")
        for r in nbrun.results:
            table.add_row(badge(r.status), escape(r.id), escape(r.message))
        console.print(table)
        if nbrun.outcome != "completed":
            console.print(f"[yellow]The run stopped: {escape(nbrun.message)}[/]")
        unfinished = any(r.status != "passed" for r in nbrun.results)
        if nbrun.cell_errors and unfinished:
            # Later cells often use what an unfinished exercise should have made: say so once,
            # then list them quietly rather than as the learner's next problem.
            n = len(nbrun.cell_errors)
            console.print(
                f"[yellow]{n} other cell{'s' if n > 1 else ''} raised an error, probably because "
                "an exercise above is not done yet; finish those first:[/]"
            )
            for error in nbrun.cell_errors:
                console.print(f"[dim]  · {escape(error.describe())}[/]")
        else:
            for error in nbrun.cell_errors:
                console.print(f"[red]! a cell raised an error:[/] {escape(error.describe())}")
        for m in nbrun.notebook.manual:  # nbgrader's manually graded answers: never checked here
            worth = f", {m.points:g} points" if m.points else ""
            what = f"{escape(m.title)} ({escape(m.grade_id)}{worth})"
            console.print(f"[dim]✎ graded by your teacher, not by dl7: {what}[/]")
        kept = str(nbrun.executed_path or "not kept")
        console.print(f"[dim]ran in {nbrun.seconds:.1f} s · executed copy: {escape(kept)}[/]", soft_wrap=True)
    results = run.results
    passed = sum(r.status == "passed" for r in results)
    if run.passed and len(run.notebooks) < len(run.step.notebooks):  # `dl7 run step3 04_micrograd.ipynb`
        names = ", ".join(escape(nb.notebook.path.rsplit("/", 1)[-1]) for nb in run.notebooks)
        console.print(
            f"\n[bold green]All {len(results)} exercises of {names} pass.[/] "
            f"`dl7 next` shows what is left of {run.step.id}."
        )
    elif run.passed:
        console.print(
            f"\n[bold green]All {len(results)} exercises of {run.step.id} pass.[/] "
            "`dl7 next` shows what comes next."
        )
    elif run.course_faults:
        console.print(
            f"\n[bold]{passed} of {len(results)} exercises pass; "
            f"{len(run.course_faults)} could not be judged because the course's checker is broken.[/]"
        )
    elif passed == len(results) and any(nb.cell_errors for nb in run.notebooks):
        console.print(
            f"\n[bold]All {len(results)} exercises pass, but a cell raises an error (above).[/] "
            f"The step is complete once every cell runs: fix it, then {again}."
        )
    else:
        console.print(
            f"\n[bold]{passed} of {len(results)} exercises pass.[/] "
            f"Fix the ones above, then {again}; `dl7 hint {run.step.id}` helps."
        )


def run_json(run: StepRun) -> dict[str, Any]:
    return {
        "step": run.step.id,
        "passed": run.passed,
        "notebooks": [
            {
                "path": nb.notebook.path,
                "outcome": nb.outcome,
                "message": nb.message,
                "seconds": round(nb.seconds, 3),
                "executed": str(nb.executed_path) if nb.executed_path else None,
                "not_kept": [e.message for e in nb.lost],  # a full or read-only disk
                "exercises": [{"id": r.id, "status": r.status, "message": r.message} for r in nb.results],
                "cell_errors": [
                    {"cell": e.cell + 1, "error": e.ename, "message": e.evalue, "line": e.line}
                    for e in nb.cell_errors
                ],
            }
            for nb in run.notebooks
        ],
    }


def render_list(console: Console, journey: Journey) -> None:
    table = Table(box=None, show_header=True, header_style="bold")
    for col in ("step", "title", "notebooks", "exercises", "readings", "minutes"):
        table.add_column(col)
    for s in journey.steps:
        minutes = sum(r.minutes for r in s.step.readings)
        done = "[green]✔[/] " if s.complete else "  "
        table.add_row(
            done + s.step.id,
            escape(s.step.title),
            str(len(s.step.notebooks)),
            f"{s.passed}/{len(s.exercises)}",
            f"{s.readings_count}/{len(s.step.readings)}",
            str(minutes),
        )
    console.print(table)


def list_json(curriculum: Curriculum) -> dict[str, Any]:
    return {
        "course": curriculum.id,
        "title": curriculum.title,
        "steps": [step_json(s) for s in curriculum.steps],
    }


def reading_json(r: Reading, done: bool | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": r.id,
        "title": r.title,
        "author": r.author,
        "kind": r.kind,
        "url": r.url,
        "minutes": r.minutes,
        "optional": r.optional,
    }
    if done is not None:
        data["done"] = done
    return data


def step_json(step: Step) -> dict[str, Any]:
    return {
        "id": step.id,
        "title": step.title,
        "summary": step.summary,
        "readings": [reading_json(r) for r in step.readings],
        "notebooks": [
            {
                "path": nb.path,
                "title": nb.title,
                "cell_timeout": nb.cell_timeout,
                "budget": nb.budget,
                "exercises": [
                    {"id": e.id, "title": e.title, "reading": e.reading, "hints": len(e.hints)}
                    for e in nb.exercises
                ],
            }
            for nb in step.notebooks
        ],
    }


def render_show(console: Console, journey: Journey, state: StepState) -> None:
    step = state.step
    parts: list[Any] = [
        _markup(f"[bold]{escape(step.id)} — {escape(step.title)}[/]"),
        Text(reflow(step.summary) + "\n"),
    ]
    if step.readings:
        parts += [_markup("[bold]Readings[/]"), *readings_parts(state), Text("")]
    for nb in step.notebooks:
        path = str(journey.workspace / nb.path)
        parts += [_markup(f"[bold]{escape(nb.title)}[/]"), Whole(f"[cyan]{escape(path)}[/]", path)]
        parts.append(_markup(f"[dim]time limits: {nb.cell_timeout} s a cell, {nb.budget} s in all[/]"))
    if state.exercises:
        parts.append(exercises_table(state))
    _emit(console, parts, f"dl7 show {step.id}", "cyan")


def render_hint(console: Console, exercise_id: str, title: str, hints: tuple[str, ...], shown: int) -> None:
    lines = [f"[bold]{escape(exercise_id)}[/] — {escape(title)}"]
    for n, hint in enumerate(hints[:shown], start=1):
        lines.append(f"\n[bold cyan]Hint {n} of {len(hints)}:[/] {escape(hint)}")
    if shown >= len(hints):
        lines.append("\n[dim]That was the last hint for this exercise.[/]")
    else:
        lines.append(f"\n[dim]Run the same command again for hint {shown + 1}.[/]")
    console.print(Panel("\n".join(lines), title="dl7 hint", border_style="yellow", expand=False))


class ValidateProgress:
    """One live line per running notebook on a terminal; one plain line per result elsewhere."""

    def __init__(self, console: Console) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = console
        self.live = console.is_terminal
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.tasks: dict[tuple[str, str], Any] = {}

    def __enter__(self) -> ValidateProgress:
        if self.live:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.progress.__exit__(None, None, None)

    def event(self, notebook: str, case: str, what: str, result: CaseResult | None) -> None:
        key = (notebook, case)
        if what == "start":
            if self.live:
                self.tasks[key] = self.progress.add_task(f"{notebook} [dim]{case}[/]", total=None)
            return
        if key in self.tasks:
            self.progress.remove_task(self.tasks.pop(key))
        if result is None:
            return
        verdict = "[green]PASS[/]" if result.ok else "[red]FAIL[/]"
        detail = "cached" if result.cached else f"{result.seconds:.1f} s"
        self.console.print(f"{verdict} {escape(notebook)} {case} [dim]({detail})[/]")


def render_validate(console: Console, report: Report) -> None:
    failed = [c for c in report.cases if not c.ok]
    if failed:
        table = Table(title="Validation failures", title_justify="left")
        for col in ("notebook", "case", "exercise", "reason"):
            table.add_column(col)
        for case in failed:
            for problem in case.problems or ():
                table.add_row(
                    escape(case.notebook), case.case, escape(problem.exercise or "-"), escape(problem.reason)
                )
        console.print(table)
    cached = sum(c.cached for c in report.cases)
    passed = sum(c.ok for c in report.cases)
    colour = "green" if report.ok else "red"
    console.print(
        f"[bold {colour}]{passed} passed, {len(failed)} failed[/] "
        f"[dim]({cached} cached, {report.executed} notebook runs executed, {report.seconds:.1f} s)[/]"
    )
