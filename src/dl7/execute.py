"""Execute one notebook in a fresh kernel with nbclient.

The kernel is started by :mod:`dl7.kernels` (this Python, the course's environment, the
checker modules) with the notebook's folder as cwd.

Every cell runs even after an error (a learner's later exercises are still checked); a
per-cell timeout and a whole-notebook budget stop runaway cells; the kernel is always stopped
with every process it started (:func:`dl7.kernels.stop`) on success, timeout, a dead kernel or
Ctrl-C. A learner's exception, a timeout or a dead kernel is an *outcome* (:class:`Execution`),
not an error of dl7.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import re
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# First: nbclient imports nbformat, which must be imported without the IRI grammar.
from dl7.notebook_format import nbformat

# isort: split
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from dl7 import kernels
from dl7.errors import Dl7Error


@dataclass(frozen=True)
class CellEvent:
    """Progress: a code cell is about to run (``done`` False) or has run."""

    index: int  # position among all cells, 0-based
    code_index: int  # position among code cells, 0-based
    code_total: int
    done: bool
    seconds: float = 0.0


@dataclass(frozen=True)
class Execution:
    """What happened when a notebook ran."""

    nb: Any  # the executed notebook (nbformat NotebookNode)
    outcome: str  # completed | timeout | budget | dead | interrupted
    stopped_at: int | None  # index of the cell that was running when execution stopped
    message: str
    seconds: float

    @property
    def completed(self) -> bool:
        return self.outcome == "completed"


# Every client with a kernel, so Ctrl-C can stop them all at once (validate runs several in
# threads, where no signal handler can be installed); once set, no new kernel starts.
_active: set[_Client] = set()
_active_lock = threading.Lock()
_stop = threading.Event()


def interrupt_all() -> None:
    """Ctrl-C: kill every running kernel now and start no new one. Safe in a signal handler."""
    _stop.set()
    with _active_lock:
        clients = list(_active)
    for client in clients:
        client.interrupted = True
        _kill(client)


def clear_interrupt() -> None:
    """Forget a Ctrl-C once the run it stopped is over: ``dl7 watch`` goes on to the next save."""
    _stop.clear()


def _ask_to_stop(signum: int, frame: Any) -> None:
    """SIGINT while a notebook runs: stop every kernel, raise nothing (see execute)."""
    interrupt_all()


def _kill(client: _Client) -> None:
    kernels.kill(client.kernel)


class _Client(NotebookClient):  # type: ignore[misc]
    def __init__(self, *args: Any, env: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._env = env
        # Ours to stop, kept here: nbclient forgets its manager (km = None) when it cleans up.
        self.kernel: kernels.Manager | None = kwargs.get("km")
        self.borrowed = self.kernel is not None  # started ahead, by dl7 watch
        self.interrupted = False
        self.started_cells = False

    def create_kernel_manager(self) -> kernels.Manager:
        self.km = self.kernel = kernels.manager(self._env)
        return self.km

    async def _async_cleanup_kernel(self) -> None:
        # The whole process group first, at once: nbclient's shutdown would interrupt the
        # kernel and poll it every 0.1 s, and never reach the processes the kernel started.
        kernels.kill_and_reap(self.kernel)
        await super()._async_cleanup_kernel()

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        # nbclient has just installed its own SIGINT handler, which shuts the kernel down
        # silently and lets a CancelledError escape while the kernel starts. Ours replaces it
        # (on the main thread; elsewhere interrupt_all does the job).
        task = asyncio.current_task()
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._on_sigint, task)
        except (RuntimeError, NotImplementedError):
            pass
        with _active_lock:
            _active.add(self)
        if _stop.is_set():
            raise KeyboardInterrupt
        await super().async_start_new_kernel(**kwargs)

    @contextlib.asynccontextmanager
    async def async_setup_kernel(self, **kwargs: Any) -> AsyncIterator[None]:
        async with super().async_setup_kernel(**kwargs):
            if self.borrowed:
                # A kernel started ahead (`dl7 watch`): nbclient never calls
                # async_start_new_kernel, so its own SIGINT handler stayed, and it kills the
                # kernel without a word: the run read as "the kernel died". Ours again.
                with contextlib.suppress(RuntimeError, NotImplementedError):
                    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._on_sigint, None)
            yield

    def _on_sigint(self, task: asyncio.Task[Any] | None) -> None:
        self.interrupted = True
        if not self.started_cells and task is not None:
            task.cancel()  # stop waiting for the kernel; execute() shuts it down
        else:
            _kill(self)  # the running cell stops; the cells before it keep their results


def execute(
    nb: Any,
    cwd: Path,
    *,
    cell_timeout: int,
    budget: int,
    checkers: tuple[str, ...] = (),
    datasets: str | None = None,
    progress: Callable[[CellEvent], None] | None = None,
    kernel_log: IO[str] | None = None,
    extra_env: dict[str, str] | None = None,
    course_env: dict[str, str] | None = None,
    km: kernels.Manager | None = None,
) -> Execution:
    """Run ``nb`` (a dict or NotebookNode, not modified) top to bottom in a fresh kernel.

    ``course_env`` is the course's declared kernel environment (``Curriculum.kernel.env``).
    ``km`` is a kernel started ahead for this run (see :mod:`dl7.watch`); it must be fresh
    (nothing of a learner's ever ran in it), and like every kernel here it is stopped after.
    """
    # Read as Jupyter does (multi-line sources joined, older minor versions upgraded), without
    # nbformat.reads' schema validation at the end: it only logs, and costs ~60 ms a run.
    nb = nbformat.convert(nbformat.reader.reads(json.dumps(normalised(nb))), 4)  # type: ignore[no-untyped-call]
    env = kernels.environment(course_env, checkers, extra_env, datasets=datasets)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    position = {cell_index: n for n, cell_index in enumerate(code_cells)}
    start = time.monotonic()
    deadline = start + budget
    running: dict[str, Any] = {"index": None, "since": start}

    def timeout_for(cell: Any) -> int:
        return max(1, min(cell_timeout, int(deadline - time.monotonic()) + 1))

    client = _Client(
        nb,
        km=km,
        env=env,
        timeout_func=timeout_for,
        allow_errors=True,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(cwd)}},
        record_timing=False,
    )

    async def on_start(cell: Any, cell_index: int) -> None:
        client.started_cells = True
        running["index"], running["since"] = cell_index, time.monotonic()
        if progress and cell.cell_type == "code":
            progress(CellEvent(cell_index, position[cell_index], len(code_cells), False))

    async def on_done(cell: Any, cell_index: int, execute_reply: Any) -> None:
        if progress:
            seconds = time.monotonic() - running["since"]
            progress(CellEvent(cell_index, position[cell_index], len(code_cells), True, seconds))

    client.on_cell_start = on_start
    client.on_cell_executed = on_done
    outcome, message = "completed", ""
    quiet = _quiet_jupyter_logs()
    launch = kernels.launch_options(cwd, kernel_log)
    if _stop.is_set():  # Ctrl-C came while this run waited its turn
        quiet()
        raise KeyboardInterrupt
    if km is not None:  # started ahead: nbclient will not call async_start_new_kernel
        with _active_lock:
            _active.add(client)
    # A KeyboardInterrupt raised while nbclient builds its event loop leaves a half-made loop
    # whose __del__ prints a traceback ("Exception ignored in BaseEventLoop.__del__"). So Ctrl-C
    # only *asks* to stop here; it is acted on at safe points: before the kernel starts
    # (async_start_new_kernel), by killing the kernel, or just after the run.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _ask_to_stop) if main else None
    try:
        client.execute(**launch)
    except asyncio.CancelledError:  # only our SIGINT handler cancels, while the kernel starts
        client.interrupted = True
    except CellTimeoutError:
        if time.monotonic() >= deadline - 0.5:
            outcome, message = "budget", f"the notebook ran past its time budget of {budget} s"
        else:
            outcome, message = "timeout", f"the cell ran longer than its limit of {cell_timeout} s"
    except DeadKernelError as exc:
        if client.interrupted:
            outcome, message = "interrupted", "interrupted (Ctrl-C)"
        elif running["index"] is None:
            raise _no_kernel(exc) from None
        else:
            outcome, message = "dead", "the kernel died (out of memory, or a crash in native code)"
    except KeyboardInterrupt:
        outcome, message = "interrupted", "interrupted (Ctrl-C)"
    except RuntimeError as exc:
        if client.interrupted:
            outcome, message = "interrupted", f"interrupted (Ctrl-C): {exc}"
        elif running["index"] is None:  # e.g. "Kernel died before replying to kernel_info"
            raise _no_kernel(exc) from None
        else:
            raise
    finally:
        with _active_lock:
            _active.discard(client)
        if km is not None and client.kc is not None:  # nbclient leaves a borrowed kernel's client open
            with contextlib.suppress(Exception):
                client.kc.stop_channels()
        _shutdown(client)
        # nbclient leaves its atexit clean-up registered when the kernel never started; ours ran.
        atexit.unregister(client._cleanup_kernel)
        quiet()
        if main:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if _stop.is_set():  # Ctrl-C came while this notebook ran, perhaps after its last cell
        client.interrupted = True
    if client.interrupted and running["index"] is None:
        raise KeyboardInterrupt  # nothing ran: there is no result to report or record
    if client.interrupted and outcome == "completed":
        outcome, message = "interrupted", "interrupted (Ctrl-C)"
    stopped = None if outcome == "completed" else running["index"]
    return Execution(nb, outcome, stopped, message, time.monotonic() - start)


def normalised(nb: Any) -> dict[str, Any]:
    """A copy of ``nb`` that nbformat accepts without a warning on the learner's terminal.

    Notebooks saved by older tools (or written by hand) often lack cell ids although they
    declare format 4.5, and nbformat then warns on every read ("MissingIDFieldWarning").
    Missing or duplicate ids are given fresh ones, as Jupyter itself does when it saves; the
    learner's file is never touched (this is the copy that runs).
    """
    data = json.loads(json.dumps(nb))
    if (data.get("nbformat"), data.get("nbformat_minor", 0)) < (4, 5):
        return dict(data)
    seen: set[str] = set()
    for n, cell in enumerate(data.get("cells", [])):
        cell_id = cell.get("id") if isinstance(cell, dict) else None
        if not isinstance(cell, dict):
            continue
        if not isinstance(cell_id, str) or not _CELL_ID.match(cell_id) or cell_id in seen:
            cell_id = f"dl7-{n}"
            while cell_id in seen:
                cell_id += "x"
            cell["id"] = cell_id
        seen.add(cell_id)
    return dict(data)


_CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


def _no_kernel(exc: BaseException) -> Dl7Error:
    """A kernel that never started is dl7's problem to report, not an outcome of the notebook."""
    return Dl7Error(
        f"could not start a Jupyter kernel ({sys.executable} -m {kernels.KERNEL_MODULE}): {exc}",
        hint="install ipykernel into the environment that runs dl7: pip install ipykernel",
    )


def _shutdown(client: _Client) -> None:
    """Make sure no kernel, nor anything it started, outlives the run, whatever happened."""
    kernels.stop(client.kernel)


_QUIET_NAMES = ("traitlets", "jupyter_client", "nbclient", "NotebookClient", "asyncio")
_quiet_lock = threading.Lock()
_quiet_state: dict[str, Any] = {"users": 0, "before": {}}


def _quiet_jupyter_logs() -> Callable[[], None]:
    """Silence jupyter_client's per-start warnings (e.g. TCP without encryption) during runs.

    Validation runs notebooks in threads, so this is reference-counted: the first run saves the
    levels, the last one to finish restores them, whatever order the runs end in.
    """
    with _quiet_lock:
        if _quiet_state["users"] == 0:
            _quiet_state["before"] = {name: logging.getLogger(name).level for name in _QUIET_NAMES}
            for name in _QUIET_NAMES:
                logging.getLogger(name).setLevel(logging.CRITICAL)
        _quiet_state["users"] += 1
    done = False

    def restore() -> None:
        nonlocal done
        with _quiet_lock:
            if done:
                return
            done = True
            _quiet_state["users"] -= 1
            if _quiet_state["users"] == 0:
                for name, level in _quiet_state["before"].items():
                    logging.getLogger(name).setLevel(level)

    return restore
