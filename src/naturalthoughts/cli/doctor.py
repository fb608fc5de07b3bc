"""`nt doctor`: a table of what is installed and what is not, with the command that installs it."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from naturalthoughts.console import console


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor() -> None:
        """Check Python, torch, the bundled model and data, GPU, vLLM and Ray; say how to install what is missing."""
        from naturalthoughts.doctor import run_checks

        checks = run_checks()
        table = Table(title="naturalthoughts doctor", show_lines=False)
        for column in ("", "component", "status", "to install"):
            table.add_column(column, overflow="fold")
        for check in checks:
            mark = "[green]✓[/]" if check.ok else ("[red]✗[/]" if check.required else "[yellow]–[/]")
            table.add_row(mark, escape(check.name), escape(check.detail), "" if check.ok else escape(check.fix))
        console.print(table)
        missing = [c.name for c in checks if c.required and not c.ok]
        if missing:
            console.print(f"[red]missing required pieces:[/] {', '.join(missing)}")
            raise typer.Exit(1)
        console.print("[green]everything the embedded default needs is here.[/]")
