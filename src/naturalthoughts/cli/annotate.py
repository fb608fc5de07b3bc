"""`nt annotate`: placeholder until the annotate stage lands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("annotate", help="(being built)")
    def _cmd() -> None:
        raise typer.Exit(1)
