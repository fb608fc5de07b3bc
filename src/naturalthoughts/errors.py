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
130   interrupted (SIGINT, Ctrl-C): finished work is kept, rerun the same command to resume
143   terminated (SIGTERM): as 130
====  ==================================================================================
"""

from __future__ import annotations


class NTError(Exception):
    """Base class: the message is written for the user and names what to do."""

    exit_code = 1


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
