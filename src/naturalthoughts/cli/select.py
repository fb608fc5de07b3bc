"""`nt select`: a thin layer over :mod:`naturalthoughts.select`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from naturalthoughts.cli.common import ConfigOption, ForceOption, QuietOption, RunOption, WaitOption
from naturalthoughts.errors import ConfigError

SUMMARY = "Select N traces of the pool into selections/NAME.parquet (trace_id, rank, score, method)."


def _help() -> str:
    """The whole help (the registered methods and filters) when `nt select` is the command; else the summary only,
    so other commands do not import the selection methods (numpy, pyarrow) to describe this one."""
    from naturalthoughts.cli.common import invoked_command

    if invoked_command() not in ("select", None):
        return SUMMARY
    from naturalthoughts.select import DEFAULT_FILTER, FILTERS, METHODS

    methods = "\n".join(f"  {name:<11} {m.summary}" for name, m in METHODS.items())
    filters = "\n".join(f"  {name:<14} {f.summary}" for name, f in FILTERS.items())
    text = f"""{SUMMARY}

The same pool, expression, size and seed always give a byte-identical file. See docs/selection.md.

\b
EXPR grammar:
  expression := stage ( ">" stage )*
  stage      := "filter:" filter ( "," filter )*  |  method
  filter     := [ "!" ] call          method := call
  call       := NAME [ "(" [ [KEY "="] VALUE ( "," ... )* ] ")" ]

Filters narrow the pool (all must hold; "!" negates; null never passes). The default filter
"{DEFAULT_FILTER}" applies unless a term of the same name replaces it, "all" is given, or
--no-default-filter.

Methods then order the eligible traces, left to right: a tier method (disagree, length(mode=longest))
puts traces in priority tiers and the stages to its right order each tier; a group method (topic,
semantic, strategy(mode=coverage)) takes groups round-robin, each ordered by the stages to its right;
a subset method (strategy, length, verbosity, short-ref) keeps some traces for the stages to its right.
Inside the rightmost stage the order is random. The selection is the first N.

\b
Methods:
{methods}

\b
Filters:
{filters}

\b
Examples:
  nt select --run runs/demo --method random --size 1000
  nt select --run runs/demo -m 'filter:complete,correct>disagree>strategy' -n 10000
  nt select --run runs/demo -m 'strategy(min=4,max=8,density_quantile=0.25)' -n 10000
  nt select --run runs/demo -m 'topic(level=field)' -n 10000 --seed 1
  nt select --run runs/demo --compare
"""
    # rich keeps single newlines: reflow prose paragraphs, keep \b (verbatim) blocks as written
    paragraphs = text.strip().split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else p.replace("\n", " ") for p in paragraphs)


def _fmt(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if float(value).is_integer() else f"{value:.3f}"


def load_select_config(path: Path | None, overrides: dict[str, Any]) -> Any:
    """A SelectConfig from ``--config`` (one entry of a pipeline's ``select:`` list, or a single mapping), then the
    options given on the command line."""
    from naturalthoughts.config import apply_overrides, copy_mapping, load_yaml, section_of, validate
    from naturalthoughts.select.config import SelectConfig

    data: Any = section_of(load_yaml(path), "select", path, lists=True) if path else {}
    if isinstance(data, list):
        name = overrides.get("name")
        named = [entry for entry in data if isinstance(entry, dict) and entry.get("name") == name]
        if name is not None and named:
            data = named[0]
        elif len(data) == 1:
            data = data[0]
        else:
            names = ", ".join(str(e.get("name")) for e in data if isinstance(e, dict)) or "none named"
            raise ConfigError(f"{path}: has {len(data)} selections; pick one with --name ({names})")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the select section must be a mapping or a list of mappings")
    data = apply_overrides(copy_mapping(data), overrides)
    return validate(SelectConfig, data, source=f"{path} (section select)" if path else "options")


def register(app: typer.Typer) -> None:
    @app.command("select", help=_help())
    def select_command(
        run: RunOption,
        method: str | None = typer.Option(
            None, "--method", "-m", metavar="EXPR", help="Selection expression \\[default: random]."
        ),
        size: int | None = typer.Option(None, "--size", "-n", help="Number of traces to select."),
        seed: int | None = typer.Option(None, "--seed", help="Seed (default 0): same seed, same file."),
        name: str | None = typer.Option(None, "--name", help="Output name \\[default: from EXPR and size]."),
        allow_smaller: bool = typer.Option(False, "--allow-smaller", help="Take all eligible when fewer than N."),
        no_default_filter: bool = typer.Option(
            False, "--no-default-filter", help="Do not add the default filter (complete traces, 16,384 tokens)."
        ),
        compare: bool = typer.Option(
            False, "--compare", help="Print the pool and every selection side by side; write selections/compare.csv."
        ),
        config: ConfigOption = None,
        force: ForceOption = False,
        wait: WaitOption = False,
        quiet: QuietOption = False,
    ) -> None:
        from rich.markup import escape

        from naturalthoughts.console import console

        if compare:
            _print_compare(run, wait=wait, quiet=quiet)
            return
        overrides = {
            "method": method,
            "size": size,
            "seed": seed,
            "name": name,
            "allow_smaller": allow_smaller or None,
            "default_filter": False if no_default_filter else None,
        }
        cfg = load_select_config(config, overrides)
        from naturalthoughts.cli.common import run_stage
        from naturalthoughts.select.stage import SelectStage

        outcome = run_stage(SelectStage(cfg), run, force=force, wait=wait, quiet=quiet)
        result = outcome.value
        if result is None:
            return
        stats = result.statistics
        console.print(
            f"[bold]{result.selected:,}[/] of {result.eligible:,} eligible traces → {escape(str(result.path))}\n"
            f"  expression: {escape(result.expression)}   seed: {result.seed}\n"
            f"  domain entropy: {_fmt(stats.get('domain entropy (bits)', float('nan')))} bits   "
            f"mean strategies: {_fmt(stats['mean distinct strategies'])}   "
            f"median reasoning tokens: {_fmt(stats['reasoning tokens p50'])}   "
            f"disagreement: {_fmt(stats['disagreement rate'])}   correct: {_fmt(stats['correct rate'])}",
            soft_wrap=True,
        )


def _print_compare(run: Path, *, wait: bool, quiet: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from naturalthoughts.cli.common import run_stage
    from naturalthoughts.console import console
    from naturalthoughts.rundir import RunDir
    from naturalthoughts.select.compare import COMPARE_CSV, CompareSelectionsStage

    # Through the runner (the run directory's lock, a manifest record); always computed: it is quick to make.
    frame = run_stage(CompareSelectionsStage(), run, force=True, wait=wait, quiet=quiet).value
    # Keep numbers whole: as many selections per table as the terminal fits, the statistic column repeated.
    label_width = max(len(str(i)) for i in frame.index)
    per_table = max(1, (console.width - label_width - 4) // 13)
    for start in range(0, len(frame.columns), per_table):
        part = frame.iloc[:, start : start + per_table]
        table = Table(title="pool and selections" if start == 0 else None)
        table.add_column("statistic", no_wrap=True, min_width=label_width)
        for column in part.columns:  # long selection names fold inside the header
            table.add_column(str(column), justify="right", width=10, overflow="fold")
        for statistic, row in part.iterrows():
            table.add_row(str(statistic), *(_fmt(v) for v in row.tolist()))
        console.print(table)
    console.print(escape(f"written to {RunDir(run).selections_dir / COMPARE_CSV}"), soft_wrap=True)
