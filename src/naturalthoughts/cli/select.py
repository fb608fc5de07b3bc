"""`nt select`: placeholder until the select stage lands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("select", help="(being built)")
    def _cmd() -> None:
        raise typer.Exit(1)
