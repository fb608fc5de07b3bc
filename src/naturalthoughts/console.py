"""Shared rich consoles and progress bars, so every stage looks and behaves the same."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def progress(*extra_columns: object, transient: bool = False) -> Progress:
    """A progress bar with count, rate-friendly columns and ETA; extra columns are appended."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        *extra_columns,
        console=err_console,
        transient=transient,
        refresh_per_second=4,
    )
