"""`nt run`: the whole pipeline from one YAML config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from naturalthoughts.console import console


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        config: Annotated[
            Path | None,
            typer.Argument(help="Pipeline YAML (sources, ingest, generate, annotate, select). Default: the embedded "
                           "offline default, builtin:sample through SmolLM2-135M on llama.cpp."),
        ] = None,
        run_dir: Annotated[str | None, typer.Option("--run", help="Run directory (overrides run_dir).")] = None,
        show_config: Annotated[bool, typer.Option("--show-config", help="Print the resolved config and exit.")] = False,
    ) -> None:
        """Run every built stage in order: ingest → generate → annotate → select.

        Rerunning after an interruption resumes: finished model responses come from the cache.
        """
        from naturalthoughts.pipeline import load_pipeline_config, run_pipeline

        cfg = load_pipeline_config(config, run_dir)
        if show_config:
            import yaml

            console.print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
            return
        result = run_pipeline(cfg, on_stage=lambda name: console.rule(f"[bold]{name}"))
        table = Table(title=f"run directory: {result.run.root}")
        table.add_column("stage")
        table.add_column("result", overflow="fold")
        for outcome in result.outcomes:
            table.add_row(outcome.stage, outcome.summary)
        for name in result.not_built:
            table.add_row(name, "[yellow]not built yet[/]")
        console.print(table)
        console.print(f"manifest: {result.run.manifest}")
