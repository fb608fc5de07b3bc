"""`nt ingest`: a thin layer over :func:`naturalthoughts.ingest.ingest`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from naturalthoughts.cli.common import ConfigOption, ForceOption, QuietOption, WaitOption

SOURCES_HELP = (
    "Question sources: JSONL / JSON / CSV / Parquet files or folders of them; hf:OWNER/NAME[:SPLIT] (needs "
    "network); builtin:sample; reasoning-gym:TASK[{key=value,...}][,TASK...]:N[:SEED] (N generated questions per "
    "task; key=value sets the task's parameters, e.g. 'reasoning-gym:gcd{max_value=50},syllogism:200:7')."
)


def register(app: typer.Typer) -> None:
    @app.command(
        "ingest",
        help="Read question sources into RUN/questions.parquet: validate, decontaminate against benchmarks, "
        "and remove exact and near duplicates (the first occurrence is kept).\n\n"
        "Reads the NaturalReasoning schema (question, reference_answer, responses[].response) as is; map other "
        "column names with the --*-col options. Every removed row is written to RUN/rejected.parquet with why.\n\n"
        "Examples:\n\n"
        "  nt ingest natural_reasoning.jsonl --run runs/nr\n\n"
        "  nt ingest builtin:sample reasoning-gym:basic_arithmetic,leg_counting:200:0 --run runs/demo\n\n"
        "  nt ingest 'reasoning-gym:gcd{max_value=50},syllogism:200:7' --run runs/gym\n\n"
        "  nt ingest data/ --run runs/x --skip-bad --decontaminate gsm8k,mmlu_pro=mmlu_pro_test.parquet",
    )
    def ingest_command(
        sources: list[str] = typer.Argument(..., metavar="SOURCE...", help=SOURCES_HELP, show_default=False),
        run: Path = typer.Option(..., "--run", help="Run directory (created if missing).", show_default=False),
        skip_bad: bool = typer.Option(
            False, "--skip-bad", help="Keep good rows and write invalid ones to rejected.parquet instead of failing."
        ),
        no_near_dup: bool = typer.Option(False, "--no-near-dup", help="Skip MinHash near-duplicate detection."),
        decontaminate: str | None = typer.Option(
            None,
            "--decontaminate",
            metavar="LIST",
            help="Comma list of benchmarks to remove overlapping questions against: names (gpqa_diamond, mmlu, "
            "gsm8k, aime2025, math500 are installed) and NAME=FILE_OR_HF_ID for mmlu_pro / supergpqa. "
            "Default: all installed ones. 'none' turns it off.",
        ),
        ngram: int | None = typer.Option(None, "--ngram", help="Word n-gram size for decontamination (default 13)."),
        near_dup_threshold: float | None = typer.Option(
            None, "--near-dup-threshold", help="Jaccard similarity for near duplicates (default 0.55)."
        ),
        max_question_chars: int | None = typer.Option(
            None, "--max-question-chars", help="Reject longer questions (default 20000)."
        ),
        question_col: str | None = typer.Option(
            None, "--question-col", help="Column holding the question (default: question)."
        ),
        answer_col: str | None = typer.Option(
            None, "--answer-col", help="Column holding the reference answer (default: reference_answer)."
        ),
        response_col: str | None = typer.Option(
            None,
            "--response-col",
            help="Column holding another model's answer: a list of {response, response_model} or text "
            "(default: responses).",
        ),
        response_model_col: str | None = typer.Option(
            None,
            "--response-model-col",
            help="Column naming that model when --response-col holds text (default: response_model).",
        ),
        domain_col: str | None = typer.Option(
            None, "--domain-col", help="Column holding a domain label (default: domain)."
        ),
        allow_empty: bool = typer.Option(
            False, "--allow-empty", help="Accept a source that yields no questions (otherwise an error)."
        ),
        config: ConfigOption = None,
        force: ForceOption = False,
        wait: WaitOption = False,
        quiet: QuietOption = False,
    ) -> None:
        from naturalthoughts.cli.common import run_stage
        from naturalthoughts.config import load_section
        from naturalthoughts.console import console
        from naturalthoughts.ingest import IngestConfig, IngestStage
        from naturalthoughts.ingest.stage import summary_rows

        overrides = {
            "skip_bad": skip_bad or None,
            "near_dup": False if no_near_dup else None,
            "decontaminate": decontaminate,
            "decontam_ngram": ngram,
            "near_dup_threshold": near_dup_threshold,
            "max_question_chars": max_question_chars,
            "columns.question": question_col,
            "columns.answer": answer_col,
            "columns.responses": response_col,
            "columns.response_model": response_model_col,
            "columns.domain": domain_col,
            "allow_empty": allow_empty or None,
        }
        cfg = load_section(IngestConfig, config, "ingest", overrides)
        outcome = run_stage(IngestStage(cfg, sources=sources), run, force=force, wait=wait, quiet=quiet)
        result = outcome.value
        if result is None:
            return

        table = Table(title="nt ingest", show_header=True)
        table.add_column("rows")
        table.add_column("count", justify="right")
        for label, value in summary_rows(result):
            table.add_row(label, f"{value:,}")
        for name, count in result.contaminated_by.most_common(5):
            table.add_row(escape(f"  contaminated by {name}"), f"{count:,}")
        console.print(table)
        console.print(f"kept questions: {escape(str(result.questions_path))}", soft_wrap=True)
        console.print(f"removed rows and why: {escape(str(result.rejected_path))}", soft_wrap=True)
