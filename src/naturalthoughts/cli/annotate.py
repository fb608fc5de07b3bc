"""`nt annotate`: label every trace (domain, strategies, verbosity, length, correctness, disagree, embeddings)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from naturalthoughts.cli.common import ConfigOption, ForceOption, QuietOption, WaitOption

if TYPE_CHECKING:
    from naturalthoughts.annotate import AnnotateConfig, AnnotateResult
    from naturalthoughts.rundir import RunDir

HELP = (
    "Annotate every trace of a run: writes annotations.parquet (one row per trace) and embeddings.parquet."
    "\n\nAnnotators: length, domain, strategies, verbosity, correctness, disagree, embeddings. Methods and models "
    "are set in the config file (section `annotate:`). The defaults call a model only to judge long reference "
    "answers and models-disagree (the embedded SmolLM2-135M unless configured)."
    "\n\nExamples:\n\n  nt annotate --run runs/demo\n\n  nt annotate --run runs/demo --only strategies,length"
    "\n\n  nt annotate --run runs/demo --compare lexical,llm --limit 50"
)


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def load_annotate_config(path: Path | None, tokenizer: str | None) -> AnnotateConfig:
    from naturalthoughts.annotate.config import AnnotateConfig
    from naturalthoughts.config import load_section

    return load_section(AnnotateConfig, path, "annotate", {"length.tokenizer": tokenizer})


def register(app: typer.Typer) -> None:
    @app.command("annotate", help=HELP)
    def annotate_cmd(
        run: Annotated[Path, typer.Option("--run", help="Run directory (reads traces.parquet, questions.parquet).")],
        force: ForceOption = False,
        wait: WaitOption = False,
        only: Annotated[
            str | None, typer.Option("--only", help="Comma-separated annotators to run; others keep their columns.")
        ] = None,
        config: ConfigOption = None,
        compare: Annotated[
            str | None,
            typer.Option("--compare", help="A,B: agreement of two strategy methods (lexical,llm); writes nothing."),
        ] = None,
        limit: Annotated[int | None, typer.Option("--limit", min=1, help="With --compare: the first N traces.")] = None,
        tokenizer: Annotated[
            str | None, typer.Option("--tokenizer", help="Length tokenizer: smollm2, approx, or a HF tokenizer path.")
        ] = None,
        quiet: QuietOption = False,
    ) -> None:
        from naturalthoughts.rundir import RunDir

        cfg = load_annotate_config(config, tokenizer)
        if compare is not None:
            _compare(RunDir(run), cfg, compare, limit)
            return
        from naturalthoughts.annotate.stage import AnnotateStage
        from naturalthoughts.cli.common import run_stage

        names = _split(only)
        stage = AnnotateStage(cfg, only=names) if names is not None else AnnotateStage(cfg)
        outcome = run_stage(stage, run, force=force, wait=wait, quiet=quiet)
        if outcome.value is not None:
            _print_result(outcome.value)


def _compare(run: RunDir, cfg: AnnotateConfig, spec: str, limit: int | None) -> None:
    from rich.table import Table

    from naturalthoughts.annotate import compare
    from naturalthoughts.console import console
    from naturalthoughts.errors import ConfigError

    methods = _split(spec) or []
    if len(methods) != 2:
        raise ConfigError(f"--compare takes two methods separated by a comma, e.g. lexical,llm (got {spec!r})")
    report = compare(run, cfg, a=methods[0], b=methods[1], limit=limit, force=True)  # it writes nothing: always runs
    table = Table(title=f"strategies: {report.a} vs {report.b} (reference) over {report.rows} traces")
    for header in ("strategy", f"n {report.a}", f"n {report.b}", "precision", "recall", "kappa"):
        table.add_column(header, justify="left" if header == "strategy" else "right")

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    for row in report.per_strategy:
        table.add_row(
            row.strategy, str(row.support_a), str(row.support_b), fmt(row.precision), fmt(row.recall), fmt(row.kappa)
        )
    console.print(table)
    if report.skipped:
        console.print(f"{report.skipped} trace(s) left out: one of the annotators could not label them.")


def _print_result(result: AnnotateResult) -> None:
    from rich.table import Table

    from naturalthoughts.console import console

    table = Table(title=f"annotate: {result.rows} traces")
    for header in ("annotator", "method", "annotated", "bad replies", "failed (null + error)"):
        table.add_column(header, overflow="fold")
    for name in result.annotators:
        counts = result.counts[name]
        table.add_row(
            name,
            result.methods[name],
            str(counts.get("annotated", 0)),
            str(counts.get("bad_replies", 0)),
            str(counts.get("failed", 0)),
        )
    console.print(table)
    if result.domain_labelled:
        console.print(
            f"domain accuracy against the source's labels: {result.domain_accuracy:.1%} "
            f"of {result.domain_labelled} labelled traces (chance: {1 / 13:.1%})"
        )
    usage = result.usage
    if usage:
        console.print(
            f"model calls: {usage.get('requests_sent', 0)} sent, {usage.get('cache_hits', 0)} from cache, "
            f"{usage.get('completion_tokens', 0)} completion tokens"
        )
    console.print(f"bad model replies: {result.bad_replies}; rows left null after retries: {result.failed}")
    from rich.markup import escape

    written = f"wrote {result.annotations}" + (f" and {result.embeddings}" if result.embeddings else "")
    console.print(escape(written), soft_wrap=True)
