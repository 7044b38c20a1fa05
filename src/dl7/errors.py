"""The one error type dl7 raises for bad input, and the exit codes the CLI maps it to.

Everything the user can fix (a broken manifest, an unknown step, an unreadable notebook)
is a :class:`Dl7Error`. The CLI catches it in exactly one place and prints one line plus an
optional hint; tracebacks are for bugs only.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    NOT_PASSING = 1  # exercises not passing, validation failed
    BAD_INPUT = 2  # bad usage or bad input
    INTERRUPTED = 130
    READER_GONE = 141  # 128 + SIGPIPE: the program reading the output stopped (`dl7 status | head`)


class Dl7Error(Exception):
    """A problem the user can fix: a one-line message, an optional hint, an exit code."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, *, hint: str = "", exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class ManifestError(Dl7Error):
    """A curriculum manifest problem, located by file, line and field."""

    def __init__(self, file: str, line: int | None, field: str, problem: str, *, hint: str = "") -> None:
        where = f"{file}:{line}" if line else file
        loc = f"{where}: {field}: " if field else f"{where}: "
        super().__init__(loc + problem, hint=hint)
        self.file = file
        self.line = line
        self.field = field
        self.problem = problem


class DatasetError(Dl7Error):
    """A data set is unknown, not downloaded yet, or could not be fetched.

    ``exit_code`` is 2 for bad input (an unknown name) and 1 for everything else.
    """

    exit_code = ExitCode.NOT_PASSING


# errno values that mean "the machine said no" rather than "the input is wrong"
_FULL = {"ENOSPC", "EDQUOT", "EFBIG"}
_READ_ONLY = {"EROFS"}
_DENIED = {"EACCES", "EPERM"}
_IN_THE_WAY = {"EEXIST", "ENOTDIR", "EISDIR"}


def os_error(exc: OSError, doing: str, path: object = None, *, env: str = "DL7_HOME") -> Dl7Error:
    """One line for an operating-system error: what dl7 was doing, the path, what the system said.

    ``doing`` reads like "cannot save the executed copy"; ``path`` defaults to the file the
    error names. The hint says what to do: free some space, or point ``env`` somewhere writable.
    """
    import errno

    where = path if path is not None else (exc.filename if exc.filename is not None else "")
    said = exc.strerror or str(exc) or type(exc).__name__
    name = errno.errorcode.get(exc.errno or 0, "")
    if name in _FULL:
        hint = "the disk is full: free some space, then try again"
    elif name in _READ_ONLY:
        hint = f"the file system is read-only: set {env} to a folder you can write"
    elif name in _DENIED:
        hint = f"you may not write there: fix its permissions, or set {env} to a folder you can write"
    elif name in _IN_THE_WAY:
        hint = "something is in the way (a file where a folder should be?): move it aside, then try again"
    else:
        hint = f"check the disk, or set {env} to another folder"
    return Dl7Error(f"{doing} {where}: {said}" if where != "" else f"{doing}: {said}", hint=hint)
