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
        "With --traces LAYOUT the sources carry responses (R1-style traces, OpenThoughts, OpenR1-Math, "
        "AM-DeepSeek-R1...): they are imported to RUN/traces.parquet beside the questions, and annotate, select and "
        "train work on them without nt generate.\n\n"
        "Examples:\n\n"
        "  nt ingest natural_reasoning.jsonl --run runs/nr\n\n"
        "  nt ingest builtin:sample reasoning-gym:basic_arithmetic,leg_counting:200:0 --run runs/demo\n\n"
        "  nt ingest 'reasoning-gym:gcd{max_value=50},syllogism:200:7' --run runs/gym\n\n"
        "  nt ingest data/ --run runs/x --skip-bad --decontaminate gsm8k,mmlu_pro=mmlu_pro_test.parquet\n\n"
        "  nt ingest openr1_math/ --run runs/r1 --traces r1 --teacher deepseek-ai/DeepSeek-R1",
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
        traces: str | None = typer.Option(
            None,
            "--traces",
            metavar="LAYOUT",
            help="The sources carry responses: import them as traces.parquet too (then nt generate is not needed). "
            "r1: one column holds <think>reasoning</think>answer; split: reasoning and final answer in two columns; "
            "messages: a list of turns, OpenAI role/content or ShareGPT from/value. Unnamed columns default to those "
            "of the public sets using the layout (docs/traces.md).",
            rich_help_panel="Traces",
        ),
        teacher: str | None = typer.Option(
            None,
            "--teacher",
            help="The model that wrote the responses (e.g. deepseek-ai/DeepSeek-R1).",
            rich_help_panel="Traces",
        ),
        teacher_col: str | None = typer.Option(
            None, "--teacher-col", help="Column naming each response's model.", rich_help_panel="Traces"
        ),
        trace_col: str | None = typer.Option(
            None,
            "--trace-col",
            help="r1: the response column (default: response, generations...).",
            rich_help_panel="Traces",
        ),
        reasoning_col: str | None = typer.Option(
            None,
            "--reasoning-col",
            help="split: the reasoning column (default: reasoning, deepseek_reasoning...).",
            rich_help_panel="Traces",
        ),
        final_col: str | None = typer.Option(
            None,
            "--final-col",
            help="split: the final-answer column (default: final_answer, deepseek_solution...).",
            rich_help_panel="Traces",
        ),
        messages_col: str | None = typer.Option(
            None,
            "--messages-col",
            help="messages: the turns column (default: messages or conversations).",
            rich_help_panel="Traces",
        ),
        correct_col: str | None = typer.Option(
            None,
            "--correct-col",
            help="A correctness flag or verifier verdict per response (kept as "
            "traces.source_correct; nt annotate compares its own verdict with it).",
            rich_help_panel="Traces",
        ),
        finish_col: str | None = typer.Option(
            None, "--finish-col", help="The finish reason per response (stop, length...).", rich_help_panel="Traces"
        ),
        system_col: str | None = typer.Option(
            None, "--system-col", help="The system prompt (default: system).", rich_help_panel="Traces"
        ),
        tokenizer: str | None = typer.Option(
            None,
            "--tokenizer",
            help="Counts the traces' tokens: a tokenizer folder or Hub id in the local cache, "
            "smollm2, or approx (characters / 4). Default: the teacher's when installed, else approx (labelled).",
            rich_help_panel="Traces",
        ),
        max_trace_tokens: int | None = typer.Option(
            None,
            "--max-trace-tokens",
            help="Longer traces are incomplete, finish_reason length (default 16384).",
            rich_help_panel="Traces",
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
            "max_trace_tokens": max_trace_tokens,
        }
        cfg = load_section(IngestConfig, config, "ingest", overrides)
        options = {
            "traces": traces, "teacher": teacher, "teacher_col": teacher_col, "trace_col": trace_col,
            "reasoning_col": reasoning_col, "final_col": final_col, "messages_col": messages_col,
            "correct_col": correct_col, "finish_col": finish_col, "system_col": system_col, "tokenizer": tokenizer,
        }  # fmt: skip
        if any(v is not None for v in options.values()):  # trace sources: the question columns are theirs too
            options.update(question_col=question_col, answer_col=answer_col, domain_col=domain_col)
        entries = source_entries(sources, {k: v for k, v in options.items() if v is not None})
        outcome = run_stage(IngestStage(cfg, sources=entries), run, force=force, wait=wait, quiet=quiet)
        result = outcome.value
        if result is None:
            return

        table = Table(title="nt ingest", show_header=True)
        table.add_column("rows")
        table.add_column("count", justify="right")
        for label, value in summary_rows(result):
            if value is None:
                continue
            table.add_row(label, f"{value:,}")
        for name, count in result.contaminated_by.most_common(5):
            table.add_row(escape(f"  contaminated by {name}"), f"{count:,}")
        console.print(table)
        console.print(f"kept questions: {escape(str(result.questions_path))}", soft_wrap=True)
        if result.traces_path is not None:
            console.print(f"imported traces: {escape(str(result.traces_path))}", soft_wrap=True)
        console.print(f"removed rows and why: {escape(str(result.rejected_path))}", soft_wrap=True)


def source_entries(sources: list[str], options: dict[str, str]) -> list[str | dict[str, str]]:
    """The command line's sources as ingest entries: plain strings, or (with trace options) one spec per source."""
    from naturalthoughts.ingest.layouts import spec_of

    if not options:
        return list(sources)
    entries: list[str | dict[str, str]] = []
    for source in sources:
        entry = {"source": source, **options}
        spec_of(entry)  # trace options without --traces: an error naming them
        entries.append(entry)
    return entries
