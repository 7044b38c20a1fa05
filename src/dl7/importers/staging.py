"""A course built beside its folder, then swapped in whole: an import that fails leaves nothing.

:class:`Staging` starts from a copy of the course folder as it is (so what the teacher added
there stays), the import writes into the copy, and :meth:`Staging.commit` swaps the copy in
(one ``renameat2(RENAME_EXCHANGE)`` on Linux, two renames elsewhere) and removes the old
folder. :meth:`Staging.abort` removes the copy; the course folder was never touched.

The files an import writes are recorded in ``.dl7-import.json`` with a digest of what was
written (a notebook's digest covers its cells' types, sources and nbgrader metadata, not outputs
or the JSON layout, so running or re-saving a notebook is no edit). A file the teacher edited
since (or one that was there before the first import and differs) is moved to
``.dl7-import-backup/<time>/`` before the import replaces it, and the report names each one.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import stat
import time
from pathlib import Path

from dl7.errors import os_error

RECORD = ".dl7-import.json"
BACKUPS = ".dl7-import-backup"


def digest(path: Path) -> str | None:
    """What counts as the content of an imported file; None when it is not a regular file."""
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return None
        raw = path.read_bytes()
    except OSError:
        return None
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(raw).get("cells", [])
            key = [
                (
                    c.get("cell_type"),
                    "".join(c["source"]) if isinstance(c.get("source"), list) else c.get("source"),
                    (c.get("metadata") or {}).get("nbgrader"),
                )
                for c in cells
            ]
            raw = json.dumps(key, sort_keys=True).encode()
        except (ValueError, AttributeError, TypeError):
            pass  # not a notebook any more: its bytes are its content
    return hashlib.sha256(raw).hexdigest()


class Staging:
    """The course being built; ``folder`` is where the import writes."""

    def __init__(self, target: Path) -> None:
        from dl7.atomic import new_folder

        self.target = target
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        self.backups: list[tuple[str, str]] = []  # (file, where its edited copy went)
        self.left: list[str] = []  # edited files no longer in the source: left in place
        self._pending: dict[str, Path] = {}
        self._written: dict[str, str] = {}
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.folder = new_folder(target.parent, f".{target.name}.import-", "")
        except OSError as exc:
            raise os_error(exc, "cannot create a folder beside", target) from None
        try:
            if target.is_dir():
                import shutil

                shutil.copytree(target, self.folder, symlinks=True, dirs_exist_ok=True)
                os.chmod(self.folder, stat.S_IMODE(target.stat().st_mode))
            self._old = self._read_record()
        except OSError as exc:
            self.abort()
            raise os_error(exc, "cannot copy", target) from None
        except BaseException:
            self.abort()
            raise

    def _read_record(self) -> dict[str, str]:
        try:
            data = json.loads((self.folder / RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        files = data.get("files") if isinstance(data, dict) else None
        return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}

    def before_write(self, rel: str) -> Path:
        """Make way for the import's ``rel``: a teacher's edit of it is set aside (compared with
        what the import writes in :meth:`wrote`). Returns the path to write."""
        path = self.folder / rel
        if path.is_symlink():
            path.unlink()  # never written through
        elif path.exists():
            current = digest(path)
            if current is not None and current != self._old.get(rel):
                aside = self.folder / BACKUPS / ".pending" / rel
                aside.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, aside)
                self._pending[rel] = aside
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def wrote(self, rel: str) -> None:
        """``rel`` now holds what the import wrote: record it; keep a set-aside edit that differs."""
        new = digest(self.folder / rel)
        if new is not None:
            self._written[rel] = new
        aside = self._pending.pop(rel, None)
        if aside is None:
            return
        if digest(aside) == new:
            aside.unlink()
            return
        keep = Path(BACKUPS) / self.stamp / rel
        (self.folder / keep).parent.mkdir(parents=True, exist_ok=True)
        os.replace(aside, self.folder / keep)
        self.backups.append((rel, keep.as_posix()))

    def commit(self) -> None:
        """Drop what an earlier import wrote and this one did not (unless edited), record this
        import, and swap the built folder in."""
        for rel, old in self._old.items():
            path = self.folder / rel
            if rel in self._written or not path.exists():
                continue
            if digest(path) == old:
                path.unlink()
            else:
                self.left.append(rel)
        with contextlib.suppress(OSError):
            (self.folder / BACKUPS / ".pending").rmdir()
        text = json.dumps({"files": dict(sorted(self._written.items()))}, indent=1) + "\n"
        (self.folder / RECORD).write_text(text, encoding="utf-8")
        try:
            if not self.target.exists():
                os.rename(self.folder, self.target)
                return
            if not _exchange(self.folder, self.target):
                aside = self.target.with_name(f".{self.target.name}.old-{os.urandom(4).hex()}")
                os.rename(self.target, aside)
                os.rename(self.folder, self.target)
        except OSError as exc:
            raise os_error(exc, "cannot put the imported course in place at", self.target) from None
        self.abort()  # the old course now lies where the copy was

    def abort(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)
        for stale in self.target.parent.glob(f".{self.target.name}.old-*"):
            shutil.rmtree(stale, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux's renameat2 with RENAME_EXCHANGE); False where the
    system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: this file system cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))
