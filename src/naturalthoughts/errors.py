"""Errors a user can act on, one class per kind of failure, each with its documented exit code.

The CLI prints an :class:`NTError` as one or two lines on stderr (no traceback unless ``--debug``) and exits with
its code:

====  ==================================================================================
code  meaning
====  ==================================================================================
0     success (also: every stage was already up to date)
1     internal error (a bug: run again with ``--debug`` and report the traceback)
2     usage or configuration error (unknown option or key, bad value, missing argument)
3     missing prerequisite (an earlier stage's output, a package, network for a Hub id)
4     bad input (invalid rows, unreadable or empty files, too few eligible traces)
5     needs the network (a Hub id on an offline machine)
6     budget stop (cost or token budget reached; finished work is kept, rerun to resume)
7     engine failure (most requests to the model failed)
8     run directory busy (another ``nt`` process holds its lock)
9     cannot write: the disk or a quota is full, or the file system is read-only (finished work is kept)
130   interrupted (SIGINT, Ctrl-C): finished work is kept, rerun the same command to resume
143   terminated (SIGTERM): as 130
====  ==================================================================================
"""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import sqlite3
from collections.abc import Callable
from typing import Any


class Fix:
    """What to do about an error, as data: run ``command`` (a stage's name, or another command such as ``run``) with
    ``args`` and ``options``. Stages name the stage and its options; they never spell a command line.

    The command line interface shows it as the ``nt`` command (:meth:`command_line`: option ``max_length`` is
    ``--max-length``, ``True`` a flag, an upper-case value such as ``NAME`` a placeholder to fill in); anywhere else
    it reads as words (``str(fix)``). A test checks that every command and option a ``Fix`` names exists.
    """

    __slots__ = ("args", "command", "options")

    def __init__(self, command: str, *args: Any, **options: Any) -> None:
        self.command = command
        self.args = tuple(str(a) for a in args)
        # values as they are written on a command line (a flag is True)
        self.options = {name: value if value is True else str(value) for name, value in options.items()
                        if value is not None and value is not False}  # fmt: skip

    def at(self, run: Any) -> Fix:
        """This fix in the run directory ``run`` (its ``run`` option, first)."""
        rest = {name: value for name, value in self.options.items() if name != "run"}
        root = run if isinstance(run, str | os.PathLike) else run.root  # a path, or a RunDir
        return Fix(self.command, *self.args, run=str(root), **rest)

    def command_line(self) -> str:
        """``nt COMMAND ARGS --option value ...``; without a command, the options alone (for the same command)."""
        words = ["nt", *self.command.split(), *self.args] if self.command else []
        for name, value in self.options.items():
            words.append("--" + name.replace("_", "-"))
            if value is not True:
                words.append(str(value))
        return " ".join(word if word == "..." else shlex.quote(word) for word in words)

    def __str__(self) -> str:
        options = ", ".join(name if value is True else f"{name}={value}" for name, value in self.options.items())
        if not self.command:
            return f"the same command with {options}"
        what = " ".join((self.command, *self.args))
        return f"`{what}`" + (f" ({options})" if options else "")

    def __repr__(self) -> str:
        return f"Fix({self.command!r}, *{self.args!r}, **{self.options!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fix) and (self.command, self.args, self.options) == (
            other.command, other.args, other.options,
        )  # fmt: skip

    def __hash__(self) -> int:
        return hash((self.command, self.args, tuple(sorted((k, str(v)) for k, v in self.options.items()))))


class NTError(Exception):
    """Base class: the message is written for the user and names what to do.

    ``fix`` says what to do as data (:class:`Fix`); the message places it with ``{fix}`` (else it follows the
    message). ``str(error)`` reads the fix as words; the command line shows the ``nt`` command (:meth:`render`).
    """

    exit_code = 1

    def __init__(self, message: str = "", *args: Any, fix: Fix | None = None) -> None:
        self.message, self.fix = message, fix
        super().__init__(self.render(str) if fix is not None else message, *args)

    def render(self, show: Callable[[Fix], str]) -> str:
        """The message with the fix shown by ``show`` (``str``: words; ``Fix.command_line``: the command)."""
        message = getattr(self, "message", None)
        if getattr(self, "fix", None) is None or message is None:
            return str(self)
        assert self.fix is not None
        shown = show(self.fix)
        if "{fix}" in message:
            return message.replace("{fix}", shown)
        return f"{message.rstrip('.')}: run {shown}."


class ConfigError(NTError):
    """A configuration file or option is invalid (unknown key, wrong type, bad value)."""

    exit_code = 2


class MissingInputError(NTError):
    """A stage's input is missing or stale; the message names the command that produces it."""

    exit_code = 3


class BadInputError(NTError):
    """Input rows or files are invalid; the message names the file, line or row and the reason."""

    exit_code = 4


class OfflineError(NTError):
    """Something needs the network (a Hub id) and this machine is offline."""

    exit_code = 5


class BudgetExceeded(NTError):
    """A cost or token budget stopped the stage cleanly; a later run resumes."""

    exit_code = 6


class EngineFailure(NTError):
    """Most requests to a model failed; the message gives the commonest error and the endpoint."""

    exit_code = 7


class RunBusyError(NTError):
    """Another process holds the run directory's lock."""

    exit_code = 8


class StorageError(NTError):
    """A write failed because the disk or a quota is full or the file system is read-only: not a bug, and nothing
    the command can fix by itself; finished work is kept, so a rerun resumes."""

    exit_code = 9


# What the OS says when a write cannot happen, however much the command retries; pyarrow's IO errors carry the
# text but not always the number.
_FREE_SPACE = "Free some space (or put the run directory on another disk)"
_STORAGE_ERRNOS = {  # what happened, what to do
    errno.ENOSPC: ("no space left on the device", _FREE_SPACE),
    errno.EDQUOT: ("disk quota exceeded", _FREE_SPACE),
    errno.EROFS: ("read-only file system", "Put the run directory on a writable disk"),
}


# SQLite's primary result codes for the same (the response cache and the spend ledger are SQLite databases).
_SQLITE_PROBLEMS = {13: _STORAGE_ERRNOS[errno.ENOSPC], 8: _STORAGE_ERRNOS[errno.EROFS]}  # SQLITE_FULL, SQLITE_READONLY


def storage_error(exc: BaseException, folder: os.PathLike[str] | str | None = None) -> StorageError | None:
    """``exc`` (or the write error it was raised from) as a :class:`StorageError` when it is a full disk or quota or
    a read-only file system or database, naming the path and the space left on it (``folder``, the run directory,
    when the OS did not name the file); else None. An interrupt stays an interrupt, whatever it interrupted."""
    if not isinstance(exc, Exception):
        return None
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if problem := _storage_problem(current):
            what, fix = problem
            filename = getattr(current, "filename", None)  # may be a file descriptor (os.chmod(fd), ...)
            where = _where(filename if isinstance(filename, str | bytes | os.PathLike) and filename else folder)
            again = "run the same command again: finished work is kept"
            return StorageError(f"cannot write{where}: {what}. {fix} and {again}.")
        # Followed: what an error was raised from, and a failed write's own context (recording a stage that failed
        # on a full disk fails too). Not followed: another error raised while handling a write error (a bug).
        writing = isinstance(current, OSError | sqlite3.Error)
        current = current.__cause__ or (current.__context__ if writing else None)
    return None


def _storage_problem(exc: BaseException) -> tuple[str, str] | None:
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return _SQLITE_PROBLEMS.get(code & 0xFF) if isinstance(code, int) else None
    if not isinstance(exc, OSError):
        return None
    if exc.errno in _STORAGE_ERRNOS:
        return _STORAGE_ERRNOS[exc.errno]
    text = str(exc)
    return next((problem for number, problem in _STORAGE_ERRNOS.items() if os.strerror(number) in text), None)


def _where(filename: object) -> str:
    """ " PATH (N GB free of M GB)" for the file a write failed on, or "" when the OS did not name it."""
    if not filename:
        return ""
    path = os.path.abspath(os.fsdecode(filename))  # type: ignore[arg-type]
    folder = path
    while folder and not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    try:
        usage = shutil.disk_usage(folder)
    except OSError:
        return f" {path}"
    return f" {path} ({usage.free / 1e9:.2f} GB free of {usage.total / 1e9:.2f} GB)"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so cleanup runs exactly as for Ctrl-C (exit code 143)."""


EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Interrupted(NTError):
    """SIGINT or SIGTERM reached a command: finished work is kept (exit code 130 or 143)."""

    def __init__(self, terminated: bool = False) -> None:
        self.exit_code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
        what = "terminated (SIGTERM)" if terminated else "interrupted"
        super().__init__(f"{what}: finished work is saved; run the same command again to resume.")
