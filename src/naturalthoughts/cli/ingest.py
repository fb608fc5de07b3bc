"""`nt ingest`: placeholder until the ingest stage lands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("ingest", help="(being built)")
    def _cmd() -> None:
        raise typer.Exit(1)
