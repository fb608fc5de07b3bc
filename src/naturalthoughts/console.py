"""Shared rich consoles, so every command looks the same.

Text that comes from files, data or error messages is never interpreted as rich markup (a file named
``data[1].csv`` or a YAML error with brackets is printed as it is): print it with :func:`print_error`,
:func:`say`, or ``console.print(rich.markup.escape(text))``.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from naturalthoughts.redact import scrub

# emoji=False: ":name:" in a stage key (sft-data:pick:...) must not turn into an emoji.
console = Console(highlight=False, emoji=False)
err_console = Console(stderr=True, highlight=False, emoji=False)


def print_error(message: str, style: str = "red") -> None:
    """``error: <message>`` on stderr; the message is plain text, never markup."""
    label = "error: " if style == "red" else ""
    message = scrub(message)
    err_console.print(Text.assemble((label, f"bold {style}"), Text(message, style="" if label else style)),
                      soft_wrap=True)


def say(message: str, style: str = "") -> None:
    """A line of plain text on stdout (never markup)."""
    console.print(Text(scrub(message), style=style), soft_wrap=True)
