"""`nt study`: the paper's experiment as one command (a grid of selections x sizes x mixes x seeds)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from naturalthoughts.cli.common import QuietOption, WaitOption

HELP = (
    "The paper's experiment: a grid of selections x sizes x mixes x seeds, trained, evaluated and tabulated."
    "\n\nBuild the pool once (ingest, generate, annotate), then for every cell of the grid "
    "(selection expression x size x mix policy x seed) select -> sft-data -> train -> eval, evaluate the untrained "
    "student too, and write a Table-1-like comparison (accuracy ± standard error per benchmark, mean tokens) to "
    "RUN/study/NAME/table.md and .csv, and to the report."
    "\n\nEvery stage has its own manifest key, so a rerun does only what is missing or changed: an interrupted "
    "study resumes at the stage that was cut. See docs/study.md and configs/study-*.yaml."
    "\n\nExamples:\n\n  nt study configs/study-cpu.yaml\n\n  nt study configs/study-cpu.yaml --plan"
)


def register(app: typer.Typer) -> None:
    @app.command("study", help=HELP)
    def study_cmd(
        config: Annotated[Path, typer.Argument(help="Study YAML: a pipeline file with a `study:` grid.")],
        run_dir: Annotated[str | None, typer.Option("--run", help="Run directory (overrides run_dir).")] = None,
        plan: Annotated[bool, typer.Option("--plan", help="List the cells and their stages; run nothing.")] = False,
        force: Annotated[
            list[str] | None, typer.Option("--force", help="Rerun this stage key or name (repeatable), e.g. eval.")
        ] = None,
        wait: WaitOption = False,
        quiet: QuietOption = False,
    ) -> None:
        from naturalthoughts.cli.common import raise_for_outcomes, reporter, this_command
        from naturalthoughts.console import say
        from naturalthoughts.study.config import load_study_config
        from naturalthoughts.study.stage import run_study

        cfg = load_study_config(config, run_dir)
        if plan:
            _print_plan(cfg)
            return
        outcomes = run_study(cfg, force=list(force or []) or False, wait=wait, reporter=reporter(quiet),
                             on_stage=None if quiet else lambda key: say(f"── {key}", style="bold"))  # fmt: skip
        ran = [o for o in outcomes if o.status != "up-to-date"]
        say(f"study {cfg.study.name}: {len(ran)} of {len(outcomes)} stages ran, "
            f"{sum(o.status == 'up-to-date' for o in outcomes)} up to date")  # fmt: skip
        _print_table(cfg)
        raise_for_outcomes(outcomes, this_command(f"nt study {config}"))


def _print_plan(cfg: object) -> None:
    from rich.table import Table

    from naturalthoughts.console import console
    from naturalthoughts.manifest import Manifest
    from naturalthoughts.rundir import RunDir
    from naturalthoughts.study.stage import stage_keys

    run = RunDir(cfg.run_dir)  # type: ignore[attr-defined]
    manifest = Manifest(run.manifest)
    table = Table(title=f"study {cfg.study.name} in {run.root}")  # type: ignore[attr-defined]
    table.add_column("stage")
    table.add_column("last successful run")
    for key in stage_keys(cfg):
        last = manifest.latest(key, ("done",)) if run.manifest.exists() else None
        table.add_row(key, (last or {}).get("finished_at") or "never")
    console.print(table)


def _print_table(cfg: object) -> None:
    from naturalthoughts.console import console
    from naturalthoughts.rundir import RunDir
    from naturalthoughts.study.results import TABLE_MD, study_dir

    path = study_dir(RunDir(cfg.run_dir), cfg.study.name) / TABLE_MD  # type: ignore[attr-defined]
    if path.exists():
        console.print(path.read_text(encoding="utf-8"), markup=False, highlight=False)
        console.print(f"written to {path}", markup=False, highlight=False)
