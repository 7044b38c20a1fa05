"""Downloading and unpacking, safely: streamed with a sha256, never half-installed, no escapes.

Used by :mod:`dl7.datasets`; errors are :class:`~dl7.errors.DatasetError` with one-line
messages that say what to run next.
"""

from __future__ import annotations

import copy
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO

from dl7.errors import DatasetError

_CHUNK = 1 << 16
_TIMEOUT_S = 30.0

Progress = Callable[[int, "int | None"], None]
"""``progress(bytes_done, bytes_total_or_None)``, called as a download advances."""


def download(url: str, out: IO[bytes], *, name: str, size_hint: int | None, progress: Progress | None) -> str:
    """Stream ``url`` into ``out``; return the sha256 hex digest of what arrived."""
    host = urllib.parse.urlsplit(url).netloc or url
    digest = hashlib.sha256()
    done = 0
    request = urllib.request.Request(url, headers={"User-Agent": "dl7"})
    local: OSError | None = None  # a write that failed: the disk's fault, not the network's
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else size_hint
            if progress:
                progress(0, total)
            while chunk := response.read(_CHUNK):
                try:
                    out.write(chunk)
                except OSError as exc:
                    local = exc
                    raise
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except urllib.error.HTTPError as exc:
        raise DatasetError(
            f"could not download {name}: {host} answered HTTP {exc.code} {exc.reason}"
        ) from exc
    except urllib.error.URLError as exc:
        raise DatasetError(
            f"could not reach {host} to download {name} ({exc.reason}); are you online?"
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        if exc is local:
            raise  # the caller names the file it could not write
        raise DatasetError(
            f"the download of {name} broke off after {done:,} bytes ({exc or type(exc).__name__}); "
            f"nothing was kept: run `dl7 data fetch {name}` again"
        ) from exc
    if length and length.isdigit() and done != int(length):
        raise DatasetError(
            f"the download of {name} was interrupted: got {done:,} of {int(length):,} bytes; "
            f"nothing was kept: run `dl7 data fetch {name}` again"
        )
    return digest.hexdigest()


def install(staging: Path, final: Path) -> None:
    """Move the finished folder into place with one rename (replacing an old copy if any)."""
    old: Path | None = None
    if final.exists():
        old = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}-", suffix=".old"))
        os.replace(final, old / final.name)
    try:
        os.replace(staging, final)
    except OSError:
        if not final.is_dir():  # another fetch may have finished first; otherwise it is real
            raise
        shutil.rmtree(staging, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def extract_tar(archive: Path, dest: Path, label: str | None = None) -> None:
    """Unpack ``archive`` into ``dest``, refusing any member that could land outside ``dest``."""
    dest = dest.resolve()
    label = label or archive.name
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                problem = _unsafe(member, dest)
                if problem:
                    raise DatasetError(f"refusing to extract {label}: member {member.name!r} {problem}")
            if hasattr(tarfile, "data_filter"):  # Python 3.11.4+ (and backports): its own checks too
                tar.extractall(dest, members=members, filter="data")
            else:  # older 3.11: every member passed the checks above; keep no odd mode bits either
                tar.extractall(dest, members=[_plain(m) for m in members])
    except (tarfile.TarError, EOFError) as exc:
        raise DatasetError(f"could not extract {label}: {exc}") from exc


def _plain(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """``member`` as the ``data`` filter leaves it, for a Python without filters: no set-id,
    sticky or group/other write bits, readable and writable by its owner, no owner or group
    taken from the archive (only root would apply them: here they fall back to root's own)."""
    plain = copy.copy(member)
    mode = (member.mode or 0) & 0o755 | 0o600
    if member.isdir():
        plain.mode = mode | 0o100
    elif member.isfile():
        plain.mode = mode if mode & 0o100 else mode & ~0o011  # executable by others only if by its owner
    plain.uid = plain.gid = 0
    plain.uname = plain.gname = ""
    return plain


def _inside(root: Path, relative: str) -> bool:
    target = os.path.normpath(os.path.join(root, relative))
    return os.path.commonpath([str(root), target]) == str(root)


def _unsafe(member: tarfile.TarInfo, dest: Path) -> str | None:
    """Why ``member`` is not safe to extract, or None."""
    name = member.name.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if ".." in path.parts:
        return "climbs out of the target folder with '..'"
    if member.issym():
        link = member.linkname.replace("\\", "/")
        if link.startswith("/") or not _inside(dest, os.path.join(str(path.parent), link)):
            return f"is a link pointing outside the data set ({member.linkname})"
    elif member.islnk():
        if member.linkname.startswith("/") or not _inside(dest, member.linkname):
            return f"is a link pointing outside the data set ({member.linkname})"
    elif not (member.isfile() or member.isdir()):
        return "is a device or special file"
    return None
