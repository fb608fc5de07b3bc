"""Shared rich consoles, so every command looks the same.

Text that comes from files, data or error messages is never interpreted as rich markup (a file named
``data[1].csv`` or a YAML error with brackets is printed as it is): print it with :func:`print_error`,
:func:`say`, or ``console.print(rich.markup.escape(text))``. :func:`print_error` and :func:`say` also show control
characters as escapes (:func:`terminal_safe`): a path or name a user typed cannot move the cursor or recolour the
terminal.
"""

from __future__ import annotations

import re

from rich.console import Console
from rich.text import Text

from naturalthoughts.redact import scrub

# emoji=False: ":name:" in a stage key (sft-data:pick:...) must not turn into an emoji.
console = Console(highlight=False, emoji=False)
err_console = Console(stderr=True, highlight=False, emoji=False)


# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """``text`` with every control character (an escape sequence's ESC, a carriage return, a bidi override) shown
    as its Python escape (``\\x1b``), so it prints as it reads."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def print_error(message: str, style: str = "red") -> None:
    """``error: <message>`` on stderr; the message is plain text, never markup, its control characters escaped."""
    label = "error: " if style == "red" else ""
    message = terminal_safe(scrub(message))
    err_console.print(
        Text.assemble((label, f"bold {style}"), Text(message, style="" if label else style)), soft_wrap=True
    )


def say(message: str, style: str = "") -> None:
    """A line of plain text on stdout (never markup)."""
    console.print(Text(terminal_safe(scrub(message)), style=style), soft_wrap=True)
