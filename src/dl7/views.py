"""Rich renderings and JSON documents of what the core returns. No logic lives here."""

from __future__ import annotations

from dataclasses import dataclass
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
    for path in prepared.files_updated:
        console.print(
            f"Updated {escape(_shown(path, ws.root))}: the course changed it, and you had not.\n",
            soft_wrap=True,
        )
    for path, _step in prepared.files_kept:
        shown = escape(_shown(path, ws.root))
        aside = _quote(path.with_name(path.name + ".mine"))
        console.print(
            f"[yellow]The course changed {shown}, and so did you[/]: yours is kept. For the course's "
            f"version, move yours aside ([bold]mv {_quote(path)} {aside}[/]): the next dl7 command "
            "copies it.\n",
            soft_wrap=True,
        )
    for moved in prepared.renamed:
        expected = _shown(moved.expected, ws.root)
        if len(moved.found) == 1:
            found = _shown(moved.found[0], ws.root)
            console.print(
                f"[yellow]{escape(expected)} was renamed to {escape(found)}[/]: dl7 checks {escape(found)} "
                f"in its place. To give it back its name: [bold]mv {_quote(moved.found[0])} "
                f"{_quote(moved.expected)}[/]\n",
                soft_wrap=True,
            )
        else:
            names = " and ".join(escape(_shown(p, ws.root)) for p in moved.found)
            console.print(
                f"[yellow]{escape(expected)} is missing, and {names} both hold its cells[/]: dl7 made no "
                f"fresh copy. Give the one you work in its name back: [bold]mv {_quote(moved.found[0])} "
                f"{_quote(moved.expected)}[/] "
                f"(or `dl7 reset {moved.step} {escape(moved.expected.name)}` for a fresh copy)\n",
                soft_wrap=True,
            )


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _quote(path: Path) -> str:
    import shlex

    return escape(shlex.quote(str(path)))


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


def reading_note(step: Step, reading: str | None) -> str:
    """``reading 2``: which of the step's numbered readings an exercise builds on."""
    numbers = {r.id: n for n, r in enumerate(step.readings, start=1)}
    return f"reading {numbers[reading]}" if reading in numbers else ""


# Columns from which an exercise's row names its reading ("reading 3"). Narrower, every title
# would wrap for it: the readings listed above keep their numbers, and the rows do without.
WIDE_ENOUGH_FOR_READINGS = 90


def exercises_table(state: StepState, wide: bool = True) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    for _ in range(3):
        table.add_column()
    if wide:
        table.add_column(no_wrap=True)  # "reading 3": the title wraps, never the number
    readings = {e.id: e.reading for e in state.step.exercises}
    for ex in state.exercises:
        row: list[Text | str] = [badge(ex.status), escape(ex.id), f"[dim]{escape(ex.title)}[/]"]
        table.add_row(*row, *([f"[dim]{reading_note(state.step, readings.get(ex.id))}[/]"] if wide else []))
    return table


def render_next(console: Console, curriculum: Curriculum, journey: Journey, dl7: str = "dl7") -> None:
    """``dl7`` is how the learner calls dl7: with ``--curriculum PATH`` for a teacher's course."""
    state = journey.current
    if state is None:
        render_finished(console, journey, dl7)
        return
    step = state.step
    total = sum(not s.step.epilogue for s in journey.steps)
    index = journey.steps.index(state) + 1
    where = f"after the {total} steps: an epilogue" if step.epilogue else f"step {index} of {total}"
    parts: list[Any] = [
        _markup(f"[dim]{escape(journey.course_title)} · {where}[/]"),
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
            for _ in range(4):
                table.add_column()
            wide = console.width >= WIDE_ENOUGH_FOR_READINGS
            if wide:
                table.add_column(no_wrap=True)  # "reading 3": the title wraps, never the number
            for ex in nb.exercises:
                row: list[Text | str] = [
                    "  ",
                    badge(by_id[ex.id].status),
                    escape(ex.name),
                    f"[dim]{escape(ex.title)}[/]",
                ]
                table.add_row(*row, *([f"[dim]{reading_note(step, ex.reading)}[/]"] if wide else []))
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
            f"[bold green]Congratulations![/] You have completed all "
            f"{sum(not s.step.epilogue for s in journey.steps)} steps of "
            f"[bold]{escape(journey.course_title)}[/]"
            + (" and its epilogue" if any(s.step.epilogue for s in journey.steps) else "")
            + f": all {journey.exercises_passed} exercises pass.\n"
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
        # A cell that fails while an exercise is unfinished most likely fails because of it
        # (it uses what the exercise makes): that is the exercise's "…", not a crash's "!".
        crashed = s.cell_errors and not s.complete and s.passed == len(s.exercises)
        if crashed:
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
    if any(s.cell_errors and not s.complete and s.passed == len(s.exercises) for s in journey.steps):
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
        "course_title": journey.course_title,
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
        if nbrun.kernel_note:
            console.print(f"[yellow]{escape(nbrun.notebook.path)}:[/] {escape(nbrun.kernel_note)}")
        if any(r.status == "not_attempted" for r in nbrun.results):
            console.print(
                "[dim]dl7 checks the notebook as saved on disk: if you wrote an answer above in "
                "JupyterLab, save the notebook first (Ctrl-S), then check again.[/]"
            )
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
    console.print(f"[bold]{escape(journey.course_title)}[/]")  # which course, always
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
        _markup(f"[dim]{escape(journey.course_title)}[/]"),
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
        parts.append(exercises_table(state, console.width >= WIDE_ENOUGH_FOR_READINGS))
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


def render_validate(console: Console, report: Report, *, messages: bool = False) -> None:
    import re

    from dl7.checks import COURSE_FAULT

    course_module_fault = re.compile(
        r"the course's (?:checker module|data-set declarations) .*? cannot be loaded \(.*"
    )
    failed = [c for c in report.cases if not c.ok]
    # A module of the course that cannot load fails every check of its exercises, in every case
    # of every notebook: one line each, with its file and line, instead of a row per check.
    faults: dict[str, set[tuple[str, str, str | None]]] = {}
    rows: list[tuple[str, str, str, str]] = []
    for case in failed:
        for problem in case.problems or ():
            fault = course_module_fault.search(problem.reason)
            if fault is not None:
                text = fault.group(0).removesuffix("; " + COURSE_FAULT)
                faults.setdefault(text, set()).add((case.notebook, case.case, problem.exercise))
            else:
                rows.append((case.notebook, case.case, problem.exercise or "-", problem.reason))
    # The known mistakes of a notebook whose checker cannot load cannot be judged either: that is
    # the same fault, counted there, not a row of its own.
    faulted = {nb for seen in faults.values() for nb, _, _ in seen}
    consequences = [r for r in rows if r[0] in faulted and "course_error" in r[3]]
    rows = [r for r in rows if r not in consequences]
    if faults and consequences:
        first = next(iter(faults))
        faults[first] |= {(nb, case, ex) for nb, case, ex, _ in consequences}
    for text, seen in faults.items():
        notebooks = len({nb for nb, _, _ in seen})
        console.print(
            f"[bold red]course fault[/] ({len(seen)} check(s) in {notebooks} notebook(s) fail "
            f"because of it): {escape(text)}; fix it there",
            soft_wrap=True,
        )
    if rows:
        table = Table(title="Validation failures", title_justify="left")
        for col in ("notebook", "case", "exercise", "reason"):
            table.add_column(col)
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        console.print(table)
    if messages:
        _render_mistake_messages(console, report)
    cached = sum(c.cached for c in report.cases)
    passed = sum(c.ok for c in report.cases)
    colour = "green" if report.ok else "red"
    console.print(
        f"[bold {colour}]{passed} passed, {len(failed)} failed[/] "
        f"[dim]({cached} cached, {report.executed} notebook runs executed, {report.seconds:.1f} s)[/]"
    )


def _render_mistake_messages(console: Console, report: Report) -> None:
    """Each known mistake and what its learner reads: the teacher's proof that the message
    names the mistake, not just that the check fails."""
    outcomes = [(c.notebook, m) for c in report.cases for m in c.mistakes]
    if not outcomes:
        return
    console.print("[bold]Known mistakes, and what the learner is told[/]")
    shown = None
    for notebook, m in sorted(outcomes, key=lambda o: (o[0], o[1].exercise)):
        if notebook != shown:
            console.print(f"[dim]{escape(notebook)}[/]")
            shown = notebook
        mark = "[green]✓[/]" if m.ok else "[red]✗ passes[/]"
        said = m.message or "(cached before messages were kept: --no-cache shows it)"
        console.print(
            f"  {mark} {escape(m.exercise)} ‹{escape(m.label)}› {escape(m.status)}: {escape(said)}",
            soft_wrap=True,
        )


# --- `dl7 watch` on a terminal: one screen, redrawn, that fits 80×24 ---------------------------

WATCH_KEYS = (
    ("h", "hint"),
    ("s", "solution"),
    ("r", "run again"),
    ("n", "next"),
    ("l", "list"),
    ("q", "quit"),
)


@dataclass(frozen=True)
class WatchScreen:
    """What the watch screen shows; :func:`watch_lines` lays it out."""

    course: str
    notebook: str  # the learner's notebook, as the course names it
    title: str
    # (id, status, message, title) of each exercise: the last run's verdicts, else the recorded ones
    exercises: tuple[tuple[str, str, str, str], ...]
    done: int  # exercises passed in the whole course
    total: int
    step: str
    step_done: int
    step_total: int
    status: str  # the line above the keys: running, or when the last verdict came
    note: tuple[str, ...] = ()  # a hint, a solution, the list, "moved on": shown instead of the failure
    note_title: str = ""
    problem: str = ""  # what else went wrong in the run (a cell outside the checks, a stop)
    solution_allowed: bool = False


def _fit(text: Text, width: int) -> Text:
    text = text.copy()
    text.truncate(width, overflow="ellipsis")
    return text


def _wrapped(text: str, width: int, indent: str = "  ") -> list[str]:
    import textwrap

    lines: list[str] = []
    room = width - len(indent)
    for para in text.expandtabs(4).splitlines() or [""]:
        para = para.rstrip()
        lines += [para] if len(para) <= room else textwrap.wrap(para, room, subsequent_indent="  ") or [""]
    return [indent + line for line in lines]


def watch_lines(screen: WatchScreen, width: int = 80, height: int = 24) -> list[Text]:
    """The screen as exactly ``height`` lines of at most ``width`` cells: the notebook, its
    exercises, the first failing one's message in full (or a note: a hint, a solution, the
    list), the course's progress bar, what the watch is doing, and the keys."""
    width = max(40, width)
    height = max(12, height)
    head = [
        _fit(Text.assemble(("dl7 watch", "bold"), " · ", screen.course), width),
        _fit(Text.assemble(("▶ ", "cyan"), (screen.notebook, "bold cyan"), " — ", screen.title), width),
        Text(""),
    ]
    keys = Text()
    for n, (key, what) in enumerate(WATCH_KEYS):
        if n:
            keys.append(" · ", style="dim")
        dim = key == "s" and not screen.solution_allowed
        keys.append(key, style="dim" if dim else "bold")
        keys.append(f" {what}", style="dim")
    course_bar = Text("course ")
    course_bar.append_text(bar(screen.done, screen.total, width=max(10, width - 40)))
    course_bar.append(f" · {screen.step} {screen.step_done}/{screen.step_total}", style="dim")
    foot = [
        Text(""),
        _fit(course_bar, width),
        _fit(Text(screen.status, style="dim"), width),
        _fit(keys, width),
    ]
    room = height - len(head) - len(foot)
    rows = []
    shown = list(screen.exercises)
    limit = max(1, min(len(shown), room // 2))
    for ex_id, status, _message, title in shown[:limit]:
        row = badge(status)
        row.append(f" {ex_id.split('.', 1)[-1]}")
        row.append(f" · {title}", style="dim")
        rows.append(_fit(row, width))
    if len(shown) > limit:
        rows[-1] = Text(f"  … and {len(shown) - limit + 1} more: `l` lists them", style="dim")
    body: list[Text] = []
    if screen.note:
        body.append(_fit(Text(screen.note_title, style="bold yellow"), width))
        # A hint or a solution in full, wrapped to the screen: cut at its edge, it would lose
        # exactly the part the learner asked for.
        body += [Text(part) for line in screen.note for part in _wrapped(line, width, "")]
    else:
        failing = next(((i, s, m) for i, s, m, _ in shown if s != "passed"), None)
        if failing is not None:
            ex_id, status, message = failing
            look = describe(status)
            body.append(
                _fit(
                    Text.assemble((f"{look.symbol} {ex_id}", f"bold {look.colour}"), f" ({look.label}):"),
                    width,
                )
            )
            body += [Text(line) for line in _wrapped(message, width)]
        elif shown:
            body.append(Text("✔ every exercise of this notebook passes", style="bold green"))
        if screen.problem:
            body += [Text(line, style="yellow") for line in _wrapped(screen.problem, width, "")]
    space = room - len(rows) - 1
    if len(body) > space:
        # A note (hint, solution, list) is whole in a taller terminal; re-running shows a
        # failure's message whole in `dl7 run`, but would not show a note's rest.
        rest = "a taller terminal shows it all" if screen.note else "press r, or run `dl7 run` in a terminal"
        body = body[: max(0, space - 1)] + [Text(f"  … (the rest: {rest})", style="dim")]
    lines = head + rows + [Text("")] + body
    lines += [Text("")] * (height - len(lines) - len(foot)) + foot
    return [_fit(line, width) for line in lines[:height]]


def draw_watch(console: Console, screen: WatchScreen) -> None:
    """Redraw the whole screen in place (home, clear, draw): nothing scrolls."""
    width, height = console.size
    lines = watch_lines(screen, min(width, 100), height)
    console.file.write("\x1b[H\x1b[2J")
    for n, line in enumerate(lines):
        console.print(line, end="" if n == len(lines) - 1 else "\n", soft_wrap=True, overflow="crop")
    console.file.flush()
