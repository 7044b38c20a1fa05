"""Start a Jupyter kernel with the course's environment, and stop it with everything it started.

The one owner of kernels for run, watch, validate, doctor and lab. A kernel runs *this*
interpreter (``sys.executable -m ipykernel_launcher``), not whatever ``python3`` kernelspec the
machine has, with the runner's environment, then the course's (the manifest's ``kernel.env``),
and the course's checker modules named in ``DL7_CHECKERS``.

On POSIX jupyter_client starts every kernel in a session of its own (``start_new_session=True``
in ``jupyter_client.launcher``), so the kernel leads a process group that also holds every
process a learner's cell starts (a ``subprocess.Popen``, a data loader's workers). Stopping is
always SIGKILL to that whole group, whatever happened: success, a timeout, a kernel that died
(its children outlive it), Ctrl-C. Never the graceful shutdown: it stalls intermittently
(DESIGN.md), and a kernel that exits by itself leaves its children running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from dl7.checks import CHECKERS_ENV
from dl7.locations import DATASETS_ENV, RUNNER_KERNEL_ENV

# Generic to every course: debugpy's "frozen modules" warning would land in every executed
# notebook, and plots go into the executed copy whatever the learner's matplotlibrc says.
RUNNER_ENV = {
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}
KERNEL_MODULE = "ipykernel_launcher"
KERNEL_NAME = "dl7-python"
REAP_TIMEOUT = 5.0  # seconds to wait for a SIGKILLed kernel to be reaped (it takes milliseconds)


def environment(
    course: Mapping[str, str] | None = None,
    checkers: Sequence[str] = (),
    extra: Mapping[str, str] | None = None,
    *,
    datasets: str | None = None,
) -> dict[str, str]:
    """What a kernel's environment adds to dl7's own: the runner's, the course's, then ``extra``
    (validate's), then the checker modules and the data-set declarations, which only dl7 sets."""
    env = {**RUNNER_ENV, **(course or {}), **(extra or {})}
    if checkers:
        env[CHECKERS_ENV] = os.pathsep.join(checkers)
    if datasets:
        env[DATASETS_ENV] = datasets
    return env


class ThisPython(KernelSpecManager):  # type: ignore[misc]
    """A kernelspec manager that always answers with this interpreter's ipykernel."""

    def __init__(self, extra_env: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extra_env = dict(extra_env)

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", KERNEL_MODULE, "-f", "{connection_file}"],
            display_name=f"Python {sys.version_info.major}.{sys.version_info.minor} (dl7)",
            language="python",
            env=self.extra_env,
            metadata={"debugger": False},
        )


class Manager(AsyncKernelManager):  # type: ignore[misc]
    """jupyter_client's manager, remembering the kernel's process group as soon as it exists.

    nbclient drops its manager (``client.km = None``) and jupyter_client its process once the
    kernel is reaped, so the group is kept here: it is what :func:`kill` signals.
    """

    pgid: int | None = None

    # AsyncKernelManager's start_kernel is a coroutine too, though typed as KernelManager's.
    async def start_kernel(self, **kwargs: Any) -> None:  # type: ignore[override]
        try:
            await super().start_kernel(**kwargs)
        finally:  # a start cancelled by Ctrl-C may still have launched the process
            self.pgid = _group_of(self) or self.pgid


def manager(env: Mapping[str, str]) -> Manager:
    """A manager whose kernel, once started, runs this Python with ``env`` added, and marked
    as dl7's own: a ``check(...)`` in it is the runner's to record, not the learner's."""
    marked = {**env, RUNNER_KERNEL_ENV: "1"}
    return Manager(kernel_name=KERNEL_NAME, kernel_spec_manager=ThisPython(marked))


def launch_options(cwd: os.PathLike[str] | str, log: Any = None) -> dict[str, Any]:
    """``start_kernel`` arguments: the kernel's folder, and where its own stdout and stderr go
    (a log file; by default nowhere, never the learner's terminal)."""
    target = log if log is not None else subprocess.DEVNULL
    return {"cwd": str(cwd), "stdout": target, "stderr": target}


def _process(km: Any) -> subprocess.Popen[bytes] | None:
    return getattr(getattr(km, "provisioner", None), "process", None)


def _group_of(km: Any) -> int | None:
    provisioner = getattr(km, "provisioner", None)
    pgid = getattr(provisioner, "pgid", None)
    if pgid:
        return int(pgid)
    process = _process(km)
    return process.pid if process is not None else None  # start_new_session: pgid == pid


def kill(km: Any) -> None:
    """SIGKILL the kernel's whole process group now. Safe in a signal handler and from any
    thread; does not wait, and does nothing for a kernel that never started."""
    if km is None:
        return
    pgid = getattr(km, "pgid", None) or _group_of(km)
    process = _process(km)
    # Never our own group: that would be dl7 itself (and its shell's job). It cannot happen
    # with start_new_session, but a provisioner other than jupyter_client's could do it.
    if pgid and hasattr(os, "killpg") and pgid != os.getpgrp():
        with contextlib.suppress(OSError):  # ESRCH: the group is gone already
            os.killpg(pgid, signal.SIGKILL)
    if process is not None and process.poll() is None:
        with contextlib.suppress(OSError):
            process.kill()


def kill_and_reap(km: Any) -> None:
    """:func:`kill`, then wait (milliseconds) until the kernel's process is reaped, so that
    jupyter_client finds it dead and does not start its own slower shutdown."""
    if km is None:
        return
    kill(km)
    process = _process(km)
    if process is not None:
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            process.wait(REAP_TIMEOUT)
    if process is None or process.poll() is not None:
        km.pgid = None  # the group is dead; its number may one day be another group's


def stop(km: Any) -> None:
    """Stop a kernel for good: kill its process group, reap it, remove its connection file.

    Safe to call twice, on a kernel that died, that never started, or that is still starting
    in another thread; a second Ctrl-C while it runs is ignored (it takes milliseconds).
    """
    if km is None:
        return
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        kill_and_reap(km)
        loop = asyncio.new_event_loop()
        try:  # the connection file, its ports and sockets; best effort, it may be done already
            with contextlib.suppress(Exception):
                loop.run_until_complete(km.cleanup_resources())
        finally:
            loop.close()
    finally:
        if main:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
