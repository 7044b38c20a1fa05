"""``dl7 watch``: re-run a notebook each time it is saved, with the next kernel already waiting.

Every run is still a fresh kernel: nothing a learner wrote ever ran in it before. What is
done ahead, while the learner types, is what every run would otherwise wait for: starting
the kernel (:mod:`dl7.kernels`, with the course's environment) and importing the libraries
the notebook imports, found installed outside the workspace. How long to wait for that kernel
is the course's to say (``kernel.warm_timeout``): its libraries may take minutes to import on
a busy laptop. The learner's own modules and every line of the notebook run only in the real
run, so the verdict is the one `dl7 run` gives.

A save that changes no code (Jupyter's autosave, or running cells, which saves outputs) does
not re-run anything: only a change to a cell's source does. What a file is compared with is the
code that last *ran* from it, and every file is compared, event or not, each time the watch
wakes: a save made while the first runs went on (before any event could be seen) is run too.

Each kernel's own output goes to the workspace's ``kernel.log``, opened afresh for each kernel
so that the log rotates (:func:`dl7.atomic.append_log`) however long the watch goes on.

The next kernel starts as a run begins, not after its verdict: a save seconds after a verdict
finds it ready, its libraries imported (TensorFlow takes 10 s and more). Ctrl-C during a run
stops that run and records nothing. On a terminal (:class:`Interactive`) the watch is one
screen, redrawn, with single keys, as rustlings' is; elsewhere it prints one verdict a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from dl7.atomic import append_log
from dl7.errors import Dl7Error

if TYPE_CHECKING:
    from dl7.curriculum import Curriculum, Notebook, Step
    from dl7.progress import Progress
    from dl7.runner import NotebookRun
    from dl7.workspace import Workspace

_Signature = tuple[int, int, int]
_UNREAD: Any = object()  # never equal to a signature: a notebook not read yet is read

_IMPORT = re.compile(
    r"^\s*(?:import\s+([\w.]+(?:\s*(?:as\s+\w+)?\s*,\s*[\w.]+)*)|from\s+([\w.]+)\s+import\b)", re.M
)

# Runs in the waiting kernel with silent=True (no execution count, no output, no history) and
# leaves nothing in the learner's namespace: only sys.modules is warm.
_WARM_CODE = """
def _dl7_warm(names):
    import importlib, importlib.util, os
    here = os.path.realpath(os.getcwd()) + os.sep
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except Exception:
            continue
        origin = getattr(spec, "origin", None)
        if not origin or os.path.realpath(origin).startswith(here):
            continue  # the learner's own module: the notebook imports it fresh
        try:
            importlib.import_module(name)
        except Exception:
            pass
_dl7_warm({names!r})
del _dl7_warm
"""


def imports_of(nb: dict[str, Any]) -> tuple[str, ...]:
    """The absolute module names a notebook's code cells import, in order, without repeats."""
    names: list[str] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        for m in _IMPORT.finditer(source):
            found = [m.group(2)] if m.group(2) else [p.split()[0] for p in m.group(1).split(",")]
            names += [n for n in found if n and not n.startswith(".") and n not in names]
    return tuple(names)


def code_digest(nb: dict[str, Any]) -> str:
    """What a run depends on: the code cells' sources (not outputs, not metadata)."""
    h = hashlib.sha256()
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            h.update(("".join(source) if isinstance(source, list) else str(source)).encode())
            h.update(b"\x00")
    return h.hexdigest()


class WarmKernel:
    """A kernel being started in a thread now, in ``cwd``, with ``imports`` imported ahead;
    ``timeout``: seconds to wait for it to be ready (the course's ``kernel.warm_timeout``);
    ``log``: where the kernel's own output goes (a path is opened, rotated, for this kernel)."""

    def __init__(
        self,
        cwd: Path,
        env: dict[str, str],
        imports: tuple[str, ...],
        log: IO[str] | Path | None = None,
        *,
        timeout: float,
    ) -> None:
        self.cwd = cwd
        self.timeout = timeout
        self.km: Any = None
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._ready = threading.Event()
        self._discarded = threading.Event()
        self._thread = threading.Thread(
            target=self._start, args=(env, imports, log), name="dl7-warm-kernel", daemon=True
        )
        self._thread.start()

    def _start(self, env: dict[str, str], imports: tuple[str, ...], log: IO[str] | Path | None) -> None:
        from dl7 import kernels

        started = time.monotonic()
        loop = asyncio.new_event_loop()
        km = None
        try:
            km = kernels.manager(env)
            self.km = km
            with contextlib.ExitStack() as stack:  # the kernel keeps its own copy of the file
                if isinstance(log, Path):
                    header = f"--- {datetime.now().isoformat(timespec='seconds')} kernel started ahead\n"
                    log = stack.enter_context(append_log(log, header))
                loop.run_until_complete(km.start_kernel(**kernels.launch_options(self.cwd, log)))
            kc = km.client()
            kc.start_channels()
            try:
                loop.run_until_complete(kc.wait_for_ready(timeout=self.timeout))
                if imports:
                    msg_id = kc.execute(
                        _WARM_CODE.format(names=list(imports)), silent=True, store_history=False
                    )
                    loop.run_until_complete(_reply(kc, msg_id, self.timeout))
            finally:
                kc.stop_channels()
        except BaseException as exc:  # reported by take(); the run then starts its own kernel
            self.error = exc
        finally:
            loop.close()
            if self._discarded.is_set():  # discarded while it started: stop what did start
                kernels.stop(km)
            self.seconds = time.monotonic() - started
            self._ready.set()

    def take(self, timeout: float | None = None) -> Any:
        """The started kernel manager (now the caller's to stop), or None if it failed."""
        if not self._ready.wait(self.timeout if timeout is None else timeout) or self.error is not None:
            self.discard()
            return None
        km, self.km = self.km, None
        return km

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self.error is None

    def discard(self) -> None:
        """Stop the waiting kernel and all it started (Ctrl-C, or the learner left): no
        kernel outlives dl7. A kernel still starting is killed too; its thread then ends."""
        from dl7 import kernels

        self._discarded.set()
        km, self.km = self.km, None
        kernels.stop(km)


async def _reply(kc: Any, msg_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = await kc.get_shell_msg(timeout=deadline - time.monotonic())
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return


@dataclass
class Watcher:
    """Runs a step's notebooks, then each one again when its code changes on disk."""

    curriculum: Curriculum
    ws: Workspace
    progress: Progress
    step: Step
    on_run: Callable[[NotebookRun], None]
    on_start: Callable[[Notebook], None] = lambda nb: None
    warm: WarmKernel | None = None
    log: IO[str] | Path | None = None  # default: the workspace's kernel.log
    notebooks: tuple[Notebook, ...] = ()  # default: every notebook of the step
    on_cell: Callable[[object], None] | None = None  # each cell's start and end (execute.CellEvent)
    on_rename: Callable[[Notebook, Path], None] = lambda nb, path: None
    quit_on_interrupt: bool = True

    def __post_init__(self) -> None:
        self.digests: dict[str, str] = {}  # notebook -> the digest of the code that last ran
        self.seen: dict[str, _Signature | None] = {}  # notebook -> its file when last read
        self.notebooks = self.notebooks or self.step.notebooks
        if self.log is None:
            self.log = self.ws.kernel_log

    def env(self) -> dict[str, str]:
        """The environment `dl7 run` gives this course's kernels."""
        from dl7 import kernels

        return kernels.environment(
            self.curriculum.kernel.env, self.curriculum.checkers, datasets=self.curriculum.datasets
        )

    def prepare(self, nb: Notebook, source: dict[str, Any]) -> None:
        """Start the next kernel for ``nb`` now, so it waits ready for the next save."""
        if self.warm is not None:
            self.warm.discard()
        cwd = self.ws.learner_path(nb).parent
        timeout = self.curriculum.kernel.warm_timeout
        self.warm = WarmKernel(cwd, self.env(), imports_of(source), self.log, timeout=timeout)

    def read(self, nb: Notebook) -> tuple[int, dict[str, Any]]:
        """When ``nb`` was read (ns since the epoch) and what it held; its file's signature is
        taken first, so a save that lands during the read is seen at the next wake-up."""
        from dl7.workspace import read_notebook

        learner = self.ws.learner_path(nb)
        self.seen[nb.path] = _signature(learner)
        read_at = time.time_ns()
        return read_at, read_notebook(learner)

    def run(self, nb: Notebook, source: dict[str, Any], read_at: int | None = None) -> NotebookRun:
        """Run ``nb`` in the kernel waiting for it, and start the next one at once, while this
        run goes on: a save seconds after the verdict finds it ready, libraries imported.
        Ctrl-C stops the run and records nothing (:attr:`NotebookRun.outcome` "interrupted");
        ``quit_on_interrupt``: then raise KeyboardInterrupt (the line-oriented watch stops)."""
        from dl7.execute import clear_interrupt
        from dl7.runner import run_notebook

        kernel = None
        cwd = self.ws.learner_path(nb).parent
        if self.warm is not None and self.warm.cwd == cwd:
            kernel = self.warm.take()
        elif self.warm is not None:
            self.warm.discard()
        self.warm = None
        self.prepare(nb, source)
        self.on_start(nb)
        run = run_notebook(
            self.curriculum,
            self.ws,
            self.progress,
            nb,
            source,
            kernel=kernel,
            started_ns=read_at,
            listener=self.on_cell,
            record_interrupted=False,
        )
        if run.outcome == "interrupted":
            clear_interrupt()  # one Ctrl-C stops this run, not every run after it
            self.digests.pop(nb.path, None)  # it never finished: the same code runs at the next save
        else:
            self.digests[nb.path] = code_digest(source)  # what ran, whatever the file holds now
        self.on_run(run)
        if run.outcome == "interrupted" and self.quit_on_interrupt:
            raise KeyboardInterrupt
        return run

    def follow(self, nb: Notebook) -> Path | None:
        """The learner's copy of ``nb`` under its new name, when one notebook beside the
        missing one holds its cells (:func:`dl7.workspace.find_renamed`); it is used from now on."""
        from dl7.workspace import find_renamed

        found = find_renamed(self.curriculum, self.ws, nb)
        if len(found) != 1:
            return None
        self.ws.renamed[nb.path] = found[0]
        self.on_rename(nb, found[0])
        return found[0]

    def changed(self, paths: set[str]) -> Iterator[tuple[Notebook, dict[str, Any], int]]:
        """The step's notebooks whose code differs from the code that last ran from them, with
        when each was read. Read again: those among ``paths`` (an event) and those whose file
        changed since it was last read (a save no event reported)."""
        for nb in self.notebooks:
            learner = self.ws.learner_path(nb)
            if paths and not learner.exists():  # renamed in JupyterLab? follow it
                learner = self.follow(nb) or learner
            named = str(learner) in paths or os.path.realpath(learner) in paths
            if not named and _signature(learner) == self.seen.get(nb.path, _UNREAD):
                continue
            try:
                read_at, source = self.read(nb)
            except Dl7Error:
                continue  # gone, or half-written even after a wait: the next save brings it whole
            if code_digest(source) != self.digests.get(nb.path):
                yield nb, source, read_at

    def loop(self, stop: threading.Event | None = None, on_idle: Callable[[], None] = lambda: None) -> None:
        """Run every notebook once, then watch until Ctrl-C (or ``stop``); no kernel is left."""
        from watchfiles import watch

        try:
            for nb in self.notebooks:
                read_at, source = self.read(nb)
                self.run(nb, source, read_at)
            on_idle()
            folders = sorted({str(self.ws.learner_path(nb).parent) for nb in self.notebooks})
            # yield_on_timeout: wake at least every half second, event or not, so that a save
            # made before the watch began (no event ever comes for it) is run as well.
            for changes in watch(
                *folders, stop_event=stop, raise_interrupt=True, rust_timeout=500, yield_on_timeout=True
            ):
                paths = {p for _, p in changes} | {os.path.realpath(p) for _, p in changes}
                ran = None
                for nb, source, read_at in self.changed(paths):
                    self.run(nb, source, read_at)
                    ran = (nb, source)
                if ran is not None:
                    on_idle()
        finally:
            if self.warm is not None:
                self.warm.discard()
                self.warm = None


def _signature(path: Path) -> _Signature | None:
    """Which file ``path`` names and what it holds, as far as ``stat`` tells: a save changes it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class Keys:
    """Single key presses from a terminal: cbreak mode (no echo, no line editing; Ctrl-C still
    sends SIGINT, so a run stops as in `dl7 run`). The terminal's own settings come back on
    every way out: a return, an exception, Ctrl-C, SIGTERM or SIGHUP (turned into SystemExit
    here, so that the ``finally`` clauses run: no kernel outlives dl7 either)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._saved: list[Any] | None = None
        self._handlers: dict[int, Any] = {}

    def __enter__(self) -> Keys:
        import signal
        import termios
        import tty

        self._saved = termios.tcgetattr(self.fd)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._handlers[sig] = signal.signal(sig, _exit_on)
        tty.setcbreak(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal
        import termios

        if self._saved is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
        for sig, handler in self._handlers.items():
            signal.signal(sig, handler)

    def read(self) -> str:
        """The keys pressed since the last read (none: ""), without waiting."""
        import select

        keys = ""
        while select.select([self.fd], [], [], 0)[0]:
            data = os.read(self.fd, 64)
            if not data:
                break
            keys += data.decode(errors="replace")
        return keys


def _exit_on(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


@dataclass
class Interactive:
    """``dl7 watch`` on a terminal, as rustlings watches: one notebook at a time on a screen
    that is redrawn, never scrolled (:func:`dl7.views.watch_lines`, 80×24 and up), single keys,
    and on to the next unfinished notebook of the course when this one passes."""

    curriculum: Curriculum
    ws: Workspace
    progress: Progress
    current: Notebook
    console: Any  # a rich Console on the terminal
    last: NotebookRun | None = None
    note: tuple[str, ...] = ()
    note_title: str = ""
    keep_note: bool = False  # the "moved on" note outlives the run that follows it
    status: str = ""
    solution_at: int = 0
    quit: bool = False

    def __post_init__(self) -> None:
        self.order = tuple(self.curriculum.notebooks)
        self.watcher = Watcher(
            self.curriculum,
            self.ws,
            self.progress,
            self._step(self.current),
            self._on_run,
            self._on_start,
            notebooks=(self.current,),
            on_cell=self._on_cell,
            quit_on_interrupt=False,
            on_rename=self._on_rename,
        )
        self._size: tuple[int, int] | None = None

    # --- what is shown -------------------------------------------------------------------
    def _step(self, nb: Notebook) -> Step:
        return next(s for s in self.curriculum.steps if s.id == nb.step)

    def states(self) -> dict[str, tuple[str, str]]:
        """Every exercise of the course: (status, message), as recorded."""
        from dl7.journey import journey

        j = journey(self.curriculum, self.progress, self.ws.root)
        return {e.id: (e.status, e.message) for s in j.steps for e in s.exercises}

    def exercises(self, states: dict[str, tuple[str, str]]) -> tuple[tuple[str, str, str, str], ...]:
        if self.last is not None and self.last.notebook == self.current and self.last.results:
            return tuple((r.id, r.status, r.message, r.title) for r in self.last.results)
        return tuple((e.id, *states.get(e.id, ("not_run", "")), e.title) for e in self.current.exercises)

    def passes(self, nb: Notebook, states: dict[str, tuple[str, str]]) -> bool:
        return bool(nb.exercises) and all(states.get(e.id, ("",))[0] == "passed" for e in nb.exercises)

    def draw(self) -> None:
        from dl7.solutions import has_passed
        from dl7.views import WatchScreen, draw_watch

        states = self.states()
        step = self._step(self.current)
        problem = ""
        if self.last is not None and self.last.notebook == self.current:
            if self.last.outcome not in ("completed", "interrupted"):
                problem = f"The run stopped: {self.last.message}"
            elif self.last.cell_errors:
                first = self.last.cell_errors[0].describe()
                unfinished = any(r.status != "passed" for r in self.last.results)
                problem = (
                    f"{len(self.last.cell_errors)} other cell(s) raised, probably because of the "
                    f"exercise above: {first}"
                    if unfinished
                    else f"! a cell raised an error: {first}"
                )
        if self.last is not None and self.last.notebook == self.current and self.last.kernel_note:
            problem = f"{problem}\n{self.last.kernel_note}".strip()
        screen = WatchScreen(
            course=self.curriculum.title,
            notebook=str(self.ws.learner_path(self.current).relative_to(self.ws.root)),
            title=self.current.title,
            exercises=self.exercises(states),
            done=sum(s == "passed" for s, _ in states.values()),
            total=len(states),
            step=step.id,
            step_done=sum(states.get(e.id, ("",))[0] == "passed" for e in step.exercises),
            step_total=len(step.exercises),
            status=self.status,
            note=self.note,
            note_title=self.note_title,
            problem=problem,
            solution_allowed=any(has_passed(self.progress, e.id) for e in self.current.exercises),
        )
        self._size = self.console.size
        draw_watch(self.console, screen)

    def say(self, title: str, lines: tuple[str, ...] = (), *, keep: bool = False) -> None:
        self.note_title, self.note, self.keep_note = title, lines or ("",), keep
        self.draw()

    # --- runs ----------------------------------------------------------------------------
    def _on_start(self, nb: Notebook) -> None:
        self.status = f"running since {datetime.now():%H:%M:%S} · Ctrl-C stops this run"
        if not self.keep_note:
            self.note, self.note_title = (), ""
        self.draw()

    def _on_rename(self, nb: Notebook, path: Path) -> None:
        shown = path.relative_to(self.ws.root) if path.is_relative_to(self.ws.root) else path
        self.say(
            f"{nb.path} was renamed to {shown}: watching it in its place",
            (f"to give it back its name: mv {path} {self.ws.root / nb.path}",),
        )

    def _on_cell(self, event: object) -> None:
        if not getattr(event, "done", True):
            n, total = getattr(event, "code_index", 0) + 1, getattr(event, "code_total", 0)
            self.status = f"running cell {n} of {total} · Ctrl-C stops this run"
            self.draw()

    def _on_run(self, run: NotebookRun) -> None:
        self.last = run
        if run.outcome == "interrupted":
            self.status = "stopped (Ctrl-C), nothing recorded · save or r runs it again · Ctrl-C quits"
        else:
            self.status = f"checked at {datetime.now():%H:%M:%S} in {run.seconds:.1f} s · save to check again"
        for lost in run.lost:
            self.note_title, self.note = "not kept:", (lost.message,)
        self.keep_note = False

    def run(self) -> None:
        """Run the current notebook now; when it passes, move on to the next unfinished one."""
        try:
            read_at, source = self.watcher.read(self.current)
        except Dl7Error as exc:
            self.say(f"cannot read {self.current.path}:", (exc.message, exc.hint or ""))
            return
        run = self.watcher.run(self.current, source, read_at)
        self.draw()
        if run.passed:
            self.move(after_pass=True)

    def move(self, *, after_pass: bool = False) -> None:
        """On to the next notebook of the course, the next unfinished one if there is one."""
        states = self.states()
        at = self.order.index(self.current)
        rest = self.order[at + 1 :] + self.order[:at]
        todo = [nb for nb in rest if not self.passes(nb, states) and nb.exercises]
        if after_pass and not todo:
            self.say("✔ every notebook of the course passes: well done", ("q quits",))
            return
        target = (todo or list(rest) or [self.current])[0]
        if after_pass:
            title = f"✔ {self.current.path} passes: now watching {target.path}"
        else:
            title = f"now watching {target.path}"
        self.current = target
        self.status = f"starting {target.path}…"
        self.watcher.notebooks = (target,)
        self.last = None
        self.solution_at = 0
        self.say(title, ("save it to check it again",), keep=True)
        self.run()

    # --- keys ----------------------------------------------------------------------------
    def first_failing(self) -> str | None:
        return next((i for i, s, *_ in self.exercises(self.states()) if s != "passed"), None)

    def hint(self) -> None:
        ex_id = self.first_failing()
        ex = next((e for e in self.current.exercises if e.id == ex_id), None)
        if ex is None:
            self.say("every exercise of this notebook passes: no hint needed")
            return
        if not ex.hints:
            self.say(f"{ex.id} has no hints", ("its check's message says what is off",))
            return
        try:
            shown = self.progress.show_next_hint(ex.id, len(ex.hints))
        except Dl7Error:
            shown = min(len(ex.hints), self.progress.hints_shown(ex.id) + 1)
        lines = tuple(f"{n}. {h}" for n, h in enumerate(ex.hints[:shown], 1))
        more = "that was the last hint" if shown >= len(ex.hints) else "h again for the next one"
        self.say(f"hint {shown} of {len(ex.hints)} for {ex.name} ({more})", lines)

    def solution(self) -> None:
        from dl7.solutions import has_passed, reference_solution

        passed = [e for e in self.current.exercises if has_passed(self.progress, e.id)]
        if not passed:
            self.say("no solution yet", ("an exercise's solution shows once your own answer passes",))
            return
        ex = passed[self.solution_at % len(passed)]
        self.solution_at += 1
        try:
            found = reference_solution(self.curriculum, self._step(self.current), ex)
        except Dl7Error as exc:
            self.say(f"no solution for {ex.name}", (exc.message,))
            return
        lines = tuple(line for _, code in found.cells for line in code.splitlines())
        self.say(f"the course's solution of {ex.name} (whole: dl7 solution {ex.id})", lines)

    def listing(self) -> None:
        states = self.states()
        lines = []
        for nb in self.order:
            done = sum(states.get(e.id, ("",))[0] == "passed" for e in nb.exercises)
            mark = "▶" if nb == self.current else ("✔" if self.passes(nb, states) else " ")
            lines.append(f"{mark} {nb.path}  {done}/{len(nb.exercises)}")
        at = self.order.index(self.current)
        self.say(
            "the course's notebooks (n moves to the next unfinished one)", tuple(lines[max(0, at - 2) :])
        )

    def key(self, key: str) -> None:
        if key == "q":
            self.quit = True
        elif key == "h":
            self.hint()
        elif key == "s":
            self.solution()
        elif key == "r":
            self.note, self.note_title = (), ""
            self.status = "starting the run…"
            self.draw()
            self.run()
        elif key == "n":
            self.move()
        elif key == "l":
            self.listing()
        elif key in ("\x0c", " ", "\n", "\x1b"):  # Ctrl-L, space, Enter, Esc: back to the verdict
            self.note, self.note_title = (), ""
            self.draw()

    def loop(self, keys: Keys) -> None:
        """Run the current notebook, then watch until q or Ctrl-C (at rest); no kernel is left."""
        from watchfiles import watch

        stop = threading.Event()
        try:
            self.draw()
            self.run()
            folders = sorted({str(self.ws.learner_path(nb).parent) for nb in self.order})
            for changes in watch(
                *folders, stop_event=stop, raise_interrupt=True, rust_timeout=150, yield_on_timeout=True
            ):
                for key in keys.read():
                    self.key(key.lower())
                    if self.quit:
                        return
                paths = {p for _, p in changes} | {os.path.realpath(p) for _, p in changes}
                ran = False
                for _nb, _source, _read_at in self.watcher.changed(paths):
                    self.run()
                    ran = True
                if not ran and self.console.size != self._size:
                    self.draw()  # the terminal was resized
        finally:
            if self.watcher.warm is not None:
                self.watcher.warm.discard()
                self.watcher.warm = None


def interactive(
    curriculum: Curriculum, ws: Workspace, progress: Progress, notebooks: tuple[Notebook, ...], console: Any
) -> None:
    """``dl7 watch`` with stdin a terminal: see :class:`Interactive`. Starts at the first of
    ``notebooks`` not passing yet."""
    screen = Interactive(curriculum, ws, progress, notebooks[0], console)
    states = screen.states()
    screen.current = next((nb for nb in notebooks if not screen.passes(nb, states)), notebooks[0])
    screen.watcher.notebooks = (screen.current,)
    try:
        with Keys(sys.stdin.fileno()) as keys:
            screen.loop(keys)
    finally:
        with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
            console.file.write("\n")
            console.file.flush()
