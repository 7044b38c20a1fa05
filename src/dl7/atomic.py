"""Files written whole or not at all, with the modes a plain ``open()`` would give them.

``tempfile.mkstemp`` and ``mkdtemp`` create owner-only files (0o600) and folders (0o700), so a
file replaced through them silently loses its mode. Here a new file gets ``0o666`` less the
umask (the kernel applies it, so there is no race on reading the umask), a replaced file keeps
its old mode, and the data reach the disk before the rename that makes them visible.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def new_file(folder: Path, prefix: str, suffix: str) -> tuple[int, Path]:
    """Create a new, empty, uniquely named file like ``mkstemp``, with the umask's mode."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        path = folder / f"{prefix}{os.urandom(6).hex()}{suffix}"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def new_folder(folder: Path, prefix: str, suffix: str) -> Path:
    """Create a new, uniquely named folder like ``mkdtemp``, with the umask's mode."""
    for _ in range(100):
        path = folder / f"{prefix}{os.urandom(6).hex()}{suffix}"
        try:
            path.mkdir(0o777)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def write_atomic(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write via a temporary file and a rename, so a crash never leaves half a file.

    The old file's mode is kept (a new file gets the umask's), and the data are synced to
    disk before the rename. With ``exclusive`` an existing file is never replaced (a
    learner's copy created meanwhile by another process wins).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = new_file(path.parent, f".{path.name}.", ".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            try:
                os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
            except FileNotFoundError:
                pass
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        else:
            os.replace(tmp, path)
        sync_folder(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def append_log(path: Path, header: str) -> Iterator[IO[str]]:
    """``path`` opened for appending a kernel's own output, or ``os.devnull`` when it cannot
    be written (a full or read-only disk, a file where its folder should be): a log is never
    a reason not to run a notebook."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError:
        log = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    try:
        with contextlib.suppress(OSError):
            log.write(header)
            log.flush()
        yield log
    finally:
        with contextlib.suppress(OSError):
            log.close()
