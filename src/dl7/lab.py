"""``dl7 open``: JupyterLab on the workspace, with the step's first unfinished notebook open.

The server listens on 127.0.0.1 only, on a free port, with a fresh random token; its log goes
to ``.dl7/jupyter.log`` so the terminal shows only the URL. It runs in its own session, so the
terminal's Ctrl-C reaches dl7 alone, which then stops the server (and with it every kernel)
without JupyterLab's "Shutdown this Jupyter server (y/[n])?" question. Its kernels get the
environment `dl7 run` gives the course's kernels (:func:`dl7.kernels.environment`), so a
notebook behaves the same in JupyterLab and under `dl7 run`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import quote

from dl7.errors import Dl7Error

if TYPE_CHECKING:
    from dl7.curriculum import Notebook
    from dl7.journey import StepState

START_TIMEOUT = 120.0  # seconds for JupyterLab to answer (a loaded laptop's first start is slow)


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    process: subprocess.Popen[bytes]
    url: str  # the notebook's page, token included
    base: str  # http://127.0.0.1:PORT
    token: str
    log_path: Path

    def wait_until_up(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Dl7Error(
                    f"JupyterLab stopped at once (exit code {self.process.returncode})",
                    hint=f"its log says why: {self.log_path}; `dl7 doctor` checks the setup",
                )
            try:
                with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        self.stop()
        raise Dl7Error(
            f"JupyterLab did not answer within {timeout:.0f} s", hint=f"its log may say why: {self.log_path}"
        )

    def stop(self) -> None:
        """SIGTERM (the server shuts its kernels down), then SIGKILL if it lingers."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def start(
    root: Path,
    notebook: str,
    log: IO[bytes],
    *,
    port: int | None = None,
    extra: tuple[str, ...] = (),
    course_env: Mapping[str, str] | None = None,
) -> Lab:
    """Start JupyterLab serving ``root`` with ``notebook`` (relative to it) as its first page;
    ``course_env``: the course's kernel environment (``Curriculum.kernel.env``)."""
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
        f"--IdentityProvider.token={token}",
        f"--LabApp.default_url=/{page}",
        # A container's user is often root, where JupyterLab refuses to start without this.
        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        *extra,
    ]
    # The server passes its environment on to every kernel it starts. Not MPLBACKEND: in
    # JupyterLab a learner may choose an interactive backend (%matplotlib widget).
    kernel_env = environment(course_env)
    kernel_env.pop("MPLBACKEND", None)
    env = {**os.environ, **kernel_env}
    process = subprocess.Popen(
        command,
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    return Lab(process, f"{base}/{page}?token={token}", base, token, Path(getattr(log, "name", "")))
