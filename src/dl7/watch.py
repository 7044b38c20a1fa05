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
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
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
        from dl7.runner import run_notebook

        kernel = None
        cwd = self.ws.learner_path(nb).parent
        if self.warm is not None and self.warm.cwd == cwd:
            kernel = self.warm.take()
        elif self.warm is not None:
            self.warm.discard()
        self.warm = None
        self.on_start(nb)
        run = run_notebook(
            self.curriculum, self.ws, self.progress, nb, source, kernel=kernel, started_ns=read_at
        )
        self.digests[nb.path] = code_digest(source)  # what ran, whatever the file holds now
        self.on_run(run)
        if run.outcome == "interrupted":
            raise KeyboardInterrupt
        return run

    def changed(self, paths: set[str]) -> Iterator[tuple[Notebook, dict[str, Any], int]]:
        """The step's notebooks whose code differs from the code that last ran from them, with
        when each was read. Read again: those among ``paths`` (an event) and those whose file
        changed since it was last read (a save no event reported)."""
        for nb in self.notebooks:
            learner = self.ws.learner_path(nb)
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
            last: tuple[Notebook, dict[str, Any]] | None = None
            for nb in self.notebooks:
                read_at, source = self.read(nb)
                self.run(nb, source, read_at)
                last = (nb, source)
            if last is not None:
                self.prepare(*last)
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
                    self.prepare(*ran)
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
