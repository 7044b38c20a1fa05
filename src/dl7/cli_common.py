"""What every command shares, without Typer: the consoles, the course option (read and chosen
here, for Typer and the fast path alike), opening the workspace, the one place a
:class:`~dl7.errors.Dl7Error` becomes a line on stderr and an exit code (:func:`guard`), and the
two instant commands themselves (``next``, ``status``).

It imports neither Typer nor anything heavy, so :mod:`dl7.fastpath` can run ``dl7 next`` and
``dl7 status`` without building the Typer app; :mod:`dl7.cli` registers the same functions as
its commands, so both ways print the same thing. The Typer parameter types that go with these
are in :mod:`dl7.cli_types`; every sub-app takes its consoles and guard from here.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from rich.console import Console
from rich.markup import escape

from dl7.errors import Dl7Error, ExitCode, os_error


def reader_gone(self: Console) -> None:
    """The reader stopped (`dl7 status | head`): exit as the guard does, not Rich's 1, which
    in dl7 means "exercises not passing". Every console dl7 prints through answers this way."""
    self.quiet = True
    _silence_stdout()
    raise SystemExit(int(ExitCode.READER_GONE))


class _Console(Console):
    on_broken_pipe = reader_gone


out = _Console(highlight=False, emoji=False)  # a learner's `:x:` stays as typed
err = _Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)  # one error, one line
F = TypeVar("F", bound=Callable[..., Any])


class _State:
    curriculum_path: str | None = None
    curriculum_named: bool = False  # given as --curriculum on the command line (not the env)


state = _State()

COURSE_OPTION = ("--curriculum", "-c")  # the whole program's option, typed before or after a command


class CourseArgs(NamedTuple):
    """A command line with the course option taken out of it. Immutable as a frozen dataclass
    is, but built in a seventh of the time: this module is on every start-up's path."""

    named: tuple[str, ...]  # each course given with the option, in order (Click keeps the last)
    options: tuple[str, ...]  # those options as typed, ready to go before the subcommand
    rest: tuple[str, ...]  # everything else, in its order


def hoist_course(args: list[str]) -> CourseArgs:
    """``dl7 validate --curriculum PATH`` means ``dl7 --curriculum PATH validate``: the option is
    the whole program's, so it is taken out wherever it was typed (up to a ``--``). An option
    with no value after it, or glued as ``-cPATH``, stays in ``rest`` for Click to judge."""
    named: list[str] = []
    options: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg in COURSE_OPTION and i + 1 < len(args):
            named.append(args[i + 1])
            options += args[i : i + 2]
            i += 2
            continue
        if arg.startswith(COURSE_OPTION[0] + "="):
            named.append(arg.split("=", 1)[1])
            options.append(arg)
        else:
            rest.append(arg)
        i += 1
    return CourseArgs(tuple(named), tuple(options), tuple(rest))


def choose_course(named: str | None) -> None:
    """Which course the command works on: the one named with the option, else the environment's
    (unset or empty means none, as Click reads it), else the workspace's or the default."""
    from dl7.locations import CURRICULUM_ENV

    state.curriculum_path = named if named is not None else (os.environ.get(CURRICULUM_ENV) or None)
    state.curriculum_named = named is not None  # printed commands repeat only what was typed


def _on_sigint(signum: int, frame: Any) -> None:
    """Ctrl-C: stop every running kernel at once (validate runs them in threads), then unwind."""
    stop_kernels = getattr(sys.modules.get("dl7.execute"), "interrupt_all", None)
    if stop_kernels is not None:  # None also while dl7.execute is still being imported
        stop_kernels()
    raise KeyboardInterrupt


def guard(fn: F) -> F:
    """The one place errors become output: a Dl7Error, Ctrl-C or an OSError is one line on
    stderr (and a hint) and ``SystemExit`` with its exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, _on_sigint) if main else None
        try:
            return fn(*args, **kwargs)
        except Dl7Error as exc:
            err.print(f"[bold red]error:[/] {escape(exc.message)}")
            if exc.hint:
                err.print(f"[dim]hint: {escape(exc.hint)}[/]")
            raise SystemExit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            raise SystemExit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:  # `dl7 status | head`: the reader has all it wanted, nothing failed
            _silence_stdout()
            raise SystemExit(int(ExitCode.READER_GONE)) from None
        except OSError as exc:  # last resort: a full disk or a read-only folder is never a traceback
            mapped = os_error(exc, "cannot use")
            err.print(f"[bold red]error:[/] {escape(mapped.message)}")
            err.print(f"[dim]hint: {escape(mapped.hint)}[/]")
            raise SystemExit(int(ExitCode.BAD_INPUT)) from None
        finally:
            if main:
                signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)

    return wrapper  # type: ignore[return-value]


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so Python's own flush at exit cannot fail on the closed pipe
    (the advice of the ``signal`` module's documentation on SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# -- the workspace and the course ---------------------------------------------------------------


def course_manifest() -> tuple[str | None, Path]:
    """Which course a command works on, and the ``.dl7`` folder that may cache its parse:

    1. the course named (``--curriculum`` or ``$DL7_CURRICULUM``);
    2. the course of the workspace the learner chose (``$DL7_HOME``, or a ``.dl7/`` at or above
       the current folder), as recorded when a course was first named for it;
    3. the course folder you stand in (a trusted ``curriculum.yaml`` at or above it): a teacher
       in their course's folder works on that course, never on the seven steps;
    4. the course the default workspace was made for; else the seven steps (None).
    """
    from dl7 import locations

    chosen = locations.chosen_workspace()
    dot = (chosen or locations.default_workspace()) / locations.DOT
    if state.curriculum_path:
        return state.curriculum_path, dot
    if chosen is not None:
        recorded = locations.recorded_course(dot)
        if recorded is not None:
            return recorded, dot
    here = locations.enclosing_course()
    if here is not None:
        return str(here), dot
    return locations.recorded_course(dot), dot


def load_course() -> Any:
    """The manifest, from the workspace's cache while none of its files changed."""
    from dl7.manifest_cache import load

    manifest, dot = course_manifest()
    return load(manifest, dot)


def dl7_call() -> str:
    """How to call dl7 again in printed commands: with the course when it was named."""
    if state.curriculum_named and state.curriculum_path:
        import shlex

        return f"dl7 --curriculum {shlex.quote(state.curriculum_path)}"
    return "dl7"


def open_course(quiet: bool = False, step: str | None = None) -> tuple[Any, Any, Any]:
    """Curriculum, prepared workspace and progress store, with notices printed.

    ``step`` (a step or an exercise, :meth:`~dl7.curriculum.Curriculum.resolve`) is resolved
    first, so an unknown one fails before the workspace is touched.
    """
    from dl7.locations import workspace_for
    from dl7.views import workspace_notice
    from dl7.workspace import open_workspace

    curriculum = load_course()
    if step is not None:
        curriculum.resolve(step)
    prepared = open_workspace(curriculum, workspace_for(curriculum.id))
    if prepared.created:
        from dl7.manifest_cache import remember

        remember(curriculum, prepared.workspace.dot)
    if not quiet:
        workspace_notice(err, prepared)
    _say_what_was_passed_by()
    return curriculum, prepared, _progress(prepared.workspace.progress_path, curriculum.id)


def _progress(path: Path, course_id: str) -> Any:
    """The progress store, saying so when a corrupt one had to be moved aside."""
    from dl7.progress import Progress

    progress = Progress(path, course_id)
    if progress.moved_aside:
        err.print(
            f"[yellow]warning:[/] the progress file was corrupt; it was moved to "
            f"{escape(str(progress.moved_aside))} and a new one was started"
        )
    return progress


def _say_what_was_passed_by() -> None:
    """A ``.dl7`` on the way up that another user made (or everyone may write to) is not the
    learner's workspace: say so, so that one they expected is never ignored in silence."""
    from dl7 import locations

    if os.environ.get(locations.HOME_ENV):
        return
    for seen in locations.passed_by():
        err.print(f"[yellow]note:[/] passed by {escape(str(seen.path))}: {escape(seen.reason)}")


def open_journey(
    quiet: bool = False, step: str | None = None, *, create: bool = True
) -> tuple[Any, Any, Any]:
    """Curriculum, prepared workspace and the learner's journey; the store is closed again.

    ``create=False`` is for the commands that only read (``status``, ``list``, ``show``): they
    neither make nor fill nor claim a workspace, and read the journey from the progress store
    only when one exists (the prepared workspace is then None)."""
    from dl7.journey import journey

    if not create:
        from dl7.locations import DOT, workspace_for

        curriculum = load_course()
        if step is not None:
            curriculum.resolve(step)
        root = workspace_for(curriculum.id)
        if not quiet:
            _say_what_was_passed_by()
        store = root / DOT / "progress.sqlite"
        # Nothing recorded yet: the journey of a learner who has not started, kept in memory.
        with _progress(store if store.is_file() else Path(":memory:"), curriculum.id) as progress:
            return curriculum, None, journey(curriculum, progress, root)
    curriculum, prepared, progress = open_course(quiet=quiet, step=step)
    with progress:
        return curriculum, prepared, journey(curriculum, progress, prepared.workspace.root)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


# -- the instant commands (each entrance, Typer's and the fast path's, wraps them in guard) ------


def next_command(as_json: bool = False) -> None:
    """What to do now: the current step, its readings, its notebook and the commands to run."""
    from dl7.views import finished_json, render_next, status_json

    curriculum, prepared, j = open_journey(quiet=as_json)
    if as_json:
        current = j.current
        data = status_json(j)
        data["next"] = (
            None
            if current is None
            else {
                "step": current.step.id,
                "notebooks": [str(prepared.workspace.root / nb.path) for nb in current.step.notebooks],
                "commands": [
                    f"{dl7_call()} {command}"
                    for command in (f"run {current.step.id}", f"hint {current.step.id}", "open", "watch")
                ],
            }
        )
        data["finished"] = finished_json(j, dl7_call()) if current is None else None  # what to read
        print_json(data)
        return
    render_next(out, curriculum, j, dl7_call())


def status_command(as_json: bool = False) -> None:
    """The whole journey: every step's exercises, readings and last run."""
    from dl7.views import render_status, status_json

    _, _, j = open_journey(quiet=as_json, create=False)
    if as_json:
        print_json(status_json(j))
    else:
        render_status(out, j)
