"""Files written whole or not at all, with the modes a plain ``open()`` would give them.

``tempfile.mkstemp`` and ``mkdtemp`` create owner-only files (0o600) and folders (0o700), so a
file replaced through them silently loses its mode. Here a new file gets ``0o666`` less the
umask (the kernel applies it, so there is no race on reading the umask), a replaced file keeps
its old mode, and the data reach the disk before the rename that makes them visible.

Also here: keeping a file that another program may be writing in place (:func:`keep_as`), and
logs that a long ``dl7 watch`` cannot grow without bound (:func:`append_log`).
"""

from __future__ import annotations

import contextlib
import errno
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


# A log past this size starts afresh at its next opening, its previous content kept as
# ``<name>.1``: `dl7 watch` opens one for every kernel it starts, for hours.
LOG_LIMIT = 1 << 20
# Why a hard link may be refused where a rename still works: a file system without hard
# links (FAT, some network and FUSE mounts), or a file that has too many already.
_NO_LINK = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}


def keep_as(path: Path, keep: Path) -> str:
    """Give ``path``'s file a second name, ``keep`` (a new name), and say how: ``"link"``,
    ``"rename"`` or ``"copy"``.

    The file itself is kept, not a copy of its bytes, because JupyterLab saves a notebook in
    place: a copy made during a save would hold half of it, while the file itself receives
    the rest of the save through the writer's open descriptor, whatever its name. A hard link
    leaves ``path`` in place meanwhile; a rename (where hard links are refused) leaves it
    missing until the caller writes it anew; a copy is the last resort, across devices.
    """
    try:
        os.link(path, keep)
        return "link"
    except OSError as exc:
        if exc.errno not in _NO_LINK and exc.errno != errno.EXDEV:
            raise
        if exc.errno != errno.EXDEV:
            try:
                os.rename(path, keep)  # ``keep`` is new: nothing is replaced
                return "rename"
            except OSError as again:
                if again.errno != errno.EXDEV:
                    raise
    import shutil  # only across devices: it pulls in bz2 and lzma

    shutil.copy2(path, keep)
    return "copy"


def rotate_log(path: Path, limit: int = LOG_LIMIT) -> None:
    """Move ``path`` to ``<name>.1`` (replacing an older one) once it holds ``limit`` bytes."""
    with contextlib.suppress(OSError):  # a log that cannot rotate is no reason not to run
        if os.stat(path).st_size >= limit:
            os.replace(path, path.with_name(path.name + ".1"))


@contextlib.contextmanager
def append_log(path: Path, header: str) -> Iterator[IO[str]]:
    """``path`` opened for appending a kernel's own output, or ``os.devnull`` when it cannot
    be written (a full or read-only disk, a file where its folder should be): a log is never
    a reason not to run a notebook. A log past :data:`LOG_LIMIT` is rotated first: it keeps
    this run's output and the previous file's, no more."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        rotate_log(path)
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
