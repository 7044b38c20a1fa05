"""Helpers for tests that prove no process outlives a kernel: a cell that starts a child, and a
wait for that child to be gone (with a generous bound, never a fixed sleep)."""

from __future__ import annotations

import time
from pathlib import Path

# A cell that starts a long-lived child of the kernel and writes its pid next to the notebook
# (a file, not an output: a kernel that dies at once may never send its outputs).
CHILD_CELL = (
    "import subprocess\n"
    "child = subprocess.Popen(['sleep', '300'])\n"
    "with open('child.pid.tmp', 'w') as f:\n"
    "    f.write(str(child.pid))\n"
    "import os\n"
    "os.replace('child.pid.tmp', 'child.pid')\n"
)


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for_file(path: Path, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)
    return path.read_text()


def kill_if_alive(pid: int | None) -> None:
    """Tidy up after a failed test: the child must not run on for minutes."""
    import os
    import signal

    if pid is not None and alive(pid):
        os.kill(pid, signal.SIGKILL)
