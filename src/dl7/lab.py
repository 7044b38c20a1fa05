"""``dl7 open``: JupyterLab on the workspace, with the step's first unfinished notebook open.

The server listens on 127.0.0.1 only, on a free port, with a fresh random token; its log goes
to ``.dl7/jupyter.log`` so the terminal shows only the URL. Its kernels get the environment
`dl7 run` gives the course's kernels (:func:`dl7.kernels.environment`), so a notebook behaves
the same in JupyterLab and under `dl7 run`.

The token is a key to run code as the learner, so it is never on a command line (every local
user can read ``/proc/PID/cmdline``): the server reads it from ``JUPYTER_TOKEN`` (its environment
is the learner's alone), and the browser is given a ``file://`` page in a private (0700) folder
that redirects to the tokened URL, as Jupyter's own ``open_browser`` does.

The server runs in its own session, so the terminal's Ctrl-C reaches dl7 alone, which then stops
it (and with it every kernel) without JupyterLab's "Shutdown this Jupyter server (y/[n])?"
question. :func:`serve` makes closing the terminal (SIGHUP) and SIGTERM do the same: left
alone, either would end dl7 at once and leave the server running, token and all.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING
from urllib.parse import quote

from dl7.errors import Dl7Error

if TYPE_CHECKING:
    from dl7.curriculum import Notebook
    from dl7.journey import StepState

START_TIMEOUT = 120.0  # seconds for JupyterLab to answer (a loaded laptop's first start is slow)
GRACE = 10.0  # seconds the server gets to shut its kernels down before its group is SIGKILLed
REAP_TIMEOUT = 5.0  # seconds to wait for a SIGKILLed server to be reaped (it takes milliseconds)
TOKEN_ENV = "JUPYTER_TOKEN"  # read by jupyter_server's IdentityProvider (auth/identity.py)
# Closing the terminal, a logout or `kill`, and Ctrl-C: each must stop the server.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGHUP", "SIGTERM", "SIGINT") if hasattr(signal, name)
)
REDIRECT_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="refresh" content="0;url={url}">
<title>Opening JupyterLab</title>
</head>
<body>
<p>This page should take you to JupyterLab. If it does not, <a href="{url}">follow this link</a>.</p>
</body>
</html>
"""


def first_unfinished(state: StepState) -> Notebook:
    """The step's first notebook with an exercise not passing yet; else its first notebook."""
    passed = {e.id for e in state.exercises if e.status == "passed"}
    for nb in state.step.notebooks:
        if any(ex.id not in passed for ex in nb.exercises):
            return nb
    if not state.step.notebooks:
        raise Dl7Error(
            f"step {state.step.id} has no notebooks", hint=f"`dl7 read {state.step.id}` lists its readings"
        )
    return state.step.notebooks[0]


@contextlib.contextmanager
def one_server(lock: Path, port: int) -> Iterator[None]:
    """Hold ``lock`` (:func:`dl7.locations.lab_lock`) while this ``dl7 open`` serves the
    workspace, so that a second one refuses, naming the first one's URL (without its token):
    two servers on one workspace overwrite each other's saves ("File Changed").

    An ``flock``, not a pid to judge: the system lets go of it when its holder ends, however it
    ends (SIGKILL too), so the lock of a dead ``dl7 open`` is simply taken over, and a reused
    pid can never keep a learner out. The file is emptied on the way out, never removed: a
    second ``dl7 open`` that opened it just before could otherwise lock a file no one else sees.
    Where there is no ``flock`` (Windows) nothing is held."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _already_serving(fd) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "port": port}).encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def _already_serving(fd: int) -> Dl7Error:
    hint = "use that one, or stop it (Ctrl-C in its terminal) before starting another"
    try:
        held = json.loads(os.pread(fd, 4096, 0))
        url, pid = f"http://127.0.0.1:{int(held['port'])}/lab", int(held["pid"])
    except (OSError, ValueError, TypeError, KeyError):  # the other one is writing it just now
        return Dl7Error("another `dl7 open` is starting JupyterLab on this workspace", hint=hint)
    return Dl7Error(
        f"JupyterLab is already serving this workspace at {url} (`dl7 open`, pid {pid})",
        hint=f"{hint}; its URL with the token is in the terminal where it runs",
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    process: subprocess.Popen[bytes]
    url: str  # the notebook's page, token included: for the learner's eyes only
    base: str  # http://127.0.0.1:PORT
    token: str
    log_path: Path
    private: Path  # a 0700 folder of dl7's own, for the browser's redirect page

    def wait_until_up(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        # In a header, not the URL: the server's log may show a URL, never a header.
        request = urllib.request.Request(
            f"{self.base}/api/status", headers={"Authorization": f"token {self.token}"}
        )
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Dl7Error(
                    f"JupyterLab stopped at once (exit code {self.process.returncode})",
                    hint=f"its log says why: {self.log_path}; `dl7 doctor` checks the setup",
                )
            try:
                with urllib.request.urlopen(request, timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise Dl7Error(
            f"JupyterLab did not answer within {timeout:.0f} s", hint=f"its log may say why: {self.log_path}"
        )

    def browser_page(self) -> str:
        """A ``file://`` URL for the browser: a page, readable by the learner alone, that
        redirects to :attr:`url`, so the token is on no browser's command line."""
        page = self.private / "open.html"
        fd = os.open(page, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(REDIRECT_PAGE.format(url=html.escape(self.url, quote=True)))
        return page.as_uri()

    def stop(self) -> None:
        """SIGTERM to the server's process group (the server shuts its kernels down), SIGKILL
        to whatever of the group is left after :data:`GRACE` s; then the redirect page goes.
        Safe to call twice, and on a server that stopped by itself."""
        try:
            pid = self.process.pid  # start_new_session: the server leads its own group
            if self.process.returncode is None:  # not reaped, so its pid still names its group
                _signal_group(pid, signal.SIGTERM)
                deadline = time.monotonic() + GRACE
                while not _exited(self.process) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if not _exited(self.process):  # stuck: its kernels (each in a session of their own) go too
                    for child in _children(pid):
                        _signal_group(child, signal.SIGKILL)
                # What the server started in its own group and left behind, or the server itself.
                _signal_group(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(REAP_TIMEOUT)
        finally:
            shutil.rmtree(self.private, ignore_errors=True)


def _signal_group(pgid: int, signum: int) -> None:
    # Never our own group: that would be dl7 itself and its shell's job.
    if pgid > 1 and pgid != os.getpgrp():
        with contextlib.suppress(OSError):  # ESRCH: the group is gone already
            os.killpg(pgid, signum)


def _exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the child has exited, without reaping it where the system allows: a zombie keeps
    its pid, and so its group's number, from going to another process while we still signal
    that group. (macOS has no waitid: there it is reaped.)"""
    if not hasattr(os, "waitid"):
        return process.poll() is not None
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped already
        return True


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux's /proc; elsewhere none are found)."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    # The fields after the command's ")": state, ppid, ...
                    fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[1]) == pid:
                        found.append(int(entry.name))
    return found


def _private_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="dl7-open-"))  # mode 0700, a fresh random name
    mode = folder.stat().st_mode
    if stat.S_IMODE(mode) & 0o077:  # mkdtemp promises 0700; a folder others can enter is no place
        shutil.rmtree(folder, ignore_errors=True)
        raise Dl7Error(
            f"{folder}: the temporary folder is open to other users (mode {stat.S_IMODE(mode):o})",
            hint="set TMPDIR to a folder of your own",
        )
    return folder


def _quiet_terminal() -> None:
    """The terminal has hung up: writing to it now fails (EIO), so what dl7 still has to say
    on its way out goes nowhere, instead of ending in a traceback. A pipe or file is kept."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                # fstat, not isatty: a hung-up terminal answers isatty's ioctl with EIO.
                if stat.S_ISCHR(os.fstat(fd).st_mode):
                    os.dup2(devnull, fd)
        os.close(devnull)


@contextlib.contextmanager
def serve(
    root: Path,
    notebook: str,
    log: IO[bytes],
    *,
    port: int | None = None,
    extra: tuple[str, ...] = (),
    course_env: Mapping[str, str] | None = None,
) -> Iterator[Lab]:
    """JupyterLab serving ``root`` with ``notebook`` (relative to it) as its first page, stopped
    (its whole process group) and its redirect page removed on the way out, however that comes:
    the server stopping, an error, SIGHUP, SIGTERM or SIGINT. Each of those signals unwinds the
    ``with`` body as Ctrl-C does (KeyboardInterrupt), once; more while stopping are ignored, so
    that the stop itself is never cut short. ``course_env``: ``Curriculum.kernel.env``.
    Only in the main thread (where Python runs signal handlers)."""
    starting, pending, stopping = True, False, False

    def unwind(signum: int, frame: FrameType | None) -> None:
        nonlocal pending, stopping
        if signum == getattr(signal, "SIGHUP", None):
            _quiet_terminal()
        if stopping:
            return
        if starting:  # not yet: unwound now, a server just started would be nobody's to stop
            pending = True
            return
        stopping = True
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, unwind) for signum in STOP_SIGNALS}
    lab: Lab | None = None
    try:
        lab = _start(root, notebook, log, port=port, extra=extra, course_env=course_env)
        starting = False
        if pending:
            stopping = True
            raise KeyboardInterrupt
        yield lab
    finally:
        stopping = True
        try:
            if lab is not None:
                lab.stop()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _start(
    root: Path,
    notebook: str,
    log: IO[bytes],
    *,
    port: int | None,
    extra: tuple[str, ...],
    course_env: Mapping[str, str] | None,
) -> Lab:
    from importlib.util import find_spec

    from dl7.kernels import environment

    if find_spec("jupyterlab") is None:
        raise Dl7Error(
            "JupyterLab is not installed in this environment",
            hint=f"{sys.executable} -m pip install 'jupyterlab>=4'",
        )
    port = port or free_port()
    token = secrets.token_hex(24)
    page = f"lab/tree/{quote(notebook)}"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--LabApp.default_url=/{page}",
        # A container's user is often root, where JupyterLab refuses to start without this.
        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        *extra,
    ]
    # The server passes its environment on to every kernel it starts. Not MPLBACKEND: in
    # JupyterLab a learner may choose an interactive backend (%matplotlib widget).
    kernel_env = environment(course_env)
    kernel_env.pop("MPLBACKEND", None)
    # The token in the environment, not on the command line: /proc/PID/environ is the
    # learner's alone. (The kernels inherit it too: they run as the learner already.)
    env = {**os.environ, **kernel_env, TOKEN_ENV: token}
    env.pop("JUPYTER_TOKEN_FILE", None)  # read only when JUPYTER_TOKEN is not set; never ours
    private = _private_folder()
    try:
        process = subprocess.Popen(
            command,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    except BaseException:
        shutil.rmtree(private, ignore_errors=True)
        raise
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/{page}?token={token}"
    return Lab(process, url, base, token, Path(getattr(log, "name", "")), private)
