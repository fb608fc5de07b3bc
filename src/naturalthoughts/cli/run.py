"""`nt run`: the whole pipeline from one YAML config, through the stage runner."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from naturalthoughts.cli.common import QuietOption, WaitOption
from naturalthoughts.console import console

STATUS_STYLE = {"done": "green", "up-to-date": "cyan", "stopped": "yellow", "incomplete": "red"}


HELP = (
    "Run every stage in order through the stage runner: ingest, generate, annotate, select, then for each "
    "student sft-data, train and eval, and the report.\n\n"
    "A stage whose inputs and config match its last successful run is skipped (up to date); an interrupted stage "
    "resumes where it stopped (finished model responses come from the cache). The whole config, selection "
    "expressions included, is validated before the first stage runs."
)


def register(app: typer.Typer) -> None:
    @app.command("run", help=HELP)
    def run(
        config: Annotated[
            Path | None,
            typer.Argument(
                help="Pipeline YAML (sources, ingest, generate, annotate, select, ...). Default: the embedded offline "
                "default (reasoning-gym questions through SmolLM2-135M on llama.cpp). `nt run --show-config` prints it."
            ),
        ] = None,
        run_dir: Annotated[str | None, typer.Option("--run", help="Run directory (overrides run_dir).")] = None,
        force: Annotated[bool, typer.Option("--force", help="Rerun every stage, up to date or not.")] = False,
        force_stage: Annotated[
            list[str] | None,
            typer.Option("--force-stage", metavar="STAGE", help="Rerun this stage (and so what depends on it)."),
        ] = None,
        wait: WaitOption = False,
        quiet: QuietOption = False,
        show_config: Annotated[bool, typer.Option("--show-config", help="Print the resolved config and exit.")] = False,
    ) -> None:
        """``nt run`` (help text: HELP)."""
        from naturalthoughts.cli.common import raise_for_outcomes, reporter, this_command
        from naturalthoughts.pipeline import check_force, load_pipeline_config, pipeline_stages, run_stages
        from naturalthoughts.rundir import RunDir

        cfg = load_pipeline_config(config, run_dir)
        if show_config:
            import yaml

            console.print(escape(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)))
            return
        forced: bool | list[str] = True if force else list(force_stage or [])
        stages = pipeline_stages(cfg)
        if isinstance(forced, list):
            check_force([stage.key for stage in stages], forced)
        outcomes = run_stages(
            RunDir(cfg.run_dir),
            stages,
            force=forced,
            wait=wait,
            reporter=reporter(quiet),
            on_stage=None if quiet else lambda key: console.rule(f"[bold]{escape(key)}"),
        )
        table = Table(title=f"run directory: {escape(cfg.run_dir)}")
        table.add_column("stage", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("result", overflow="fold")
        table.add_column("peak RSS", justify="right", no_wrap=True)
        for outcome in outcomes:
            style = STATUS_STYLE.get(outcome.status, "")
            result = outcome.summary + (f" ({outcome.problem})" if outcome.problem else "")
            table.add_row(escape(outcome.key), f"[{style}]{outcome.status}[/]", escape(result),
                          _megabytes(outcome.record.get("peak_rss_mb")))  # fmt: skip
        console.print(table)
        print_made(Path(cfg.run_dir))
        raise_for_outcomes(outcomes, this_command(f"nt run {config or ''} --run {cfg.run_dir}".replace("  ", " ")))


def _megabytes(value: float | None) -> str:
    """A stage's recorded peak resident memory (the whole process's, while that stage ran)."""
    if value is None:
        return ""
    return f"{value / 1024:.2f} GB" if value >= 1024 else f"{value:,.0f} MB"


def print_made(root: Path) -> None:
    """A few lines: what the run directory now holds and where to look."""
    from naturalthoughts.rundir import RunDir

    run = RunDir(root)
    lines = []
    for label, path in (
        ("questions", run.questions),
        ("traces", run.traces),
        ("annotations", run.annotations),
    ):
        if path.exists():
            lines.append(f"{label}: {path} ({_rows(path):,} rows)")
    for label, folder, pattern in (
        ("selections", run.selections_dir, "*.parquet"),
        ("SFT data", run.sft_dir, "*"),
        ("students", run.models_dir, "*"),
        ("evaluations", run.eval_dir, "*"),
    ):
        if folder.is_dir():
            names = sorted(p.stem for p in folder.glob(pattern) if not p.name.startswith(".") and p.stem != "compare")
            if names:
                lines.append(f"{label}: {folder}/ ({', '.join(names)})")
    if run.report.exists():
        lines.append(f"report: {run.report} (open it in a browser)")
    lines.append(f"manifest: {run.manifest}; log: {run.root / 'logs' / 'nt.log'}")
    for line in lines:
        console.print(escape(line), soft_wrap=True)


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows
