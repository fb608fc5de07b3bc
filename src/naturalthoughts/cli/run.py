"""`nt run`: placeholder, filled in by the pipeline module."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("run", help="(being built)")
    def _cmd() -> None:
        raise typer.Exit(1)
