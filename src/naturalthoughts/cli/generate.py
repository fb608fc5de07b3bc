"""`nt generate`: placeholder until the generate stage lands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("generate", help="(being built)")
    def _cmd() -> None:
        raise typer.Exit(1)
