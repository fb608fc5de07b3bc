"""Errors a user can act on. The CLI prints them without a traceback and exits non-zero."""

from __future__ import annotations


class NTError(Exception):
    """Base class: the message is written for the user and names what to do."""

    exit_code = 1


class ConfigError(NTError):
    """A configuration file or option is invalid (unknown key, wrong type, bad value)."""

    exit_code = 2


class MissingInputError(NTError):
    """A stage's input table is missing; the message names the command that produces it."""

    exit_code = 3


class BadInputError(NTError):
    """Input rows are invalid; the message lists every bad row (file, line, reason)."""

    exit_code = 4


class OfflineError(NTError):
    """Something needs the network (a Hub id) and this machine is offline."""

    exit_code = 5


class BudgetExceeded(NTError):
    """A cost or token budget stopped the stage cleanly; a later run resumes."""

    exit_code = 6
