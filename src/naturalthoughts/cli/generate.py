"""`nt generate`: teacher traces for every question, resumable, budgeted, local or on Ray."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from naturalthoughts.cli.common import (
    ConfigOption,
    ForceOption,
    QuietOption,
    WaitOption,
    engine_choices,
    engine_section,
)


class Retry(StrEnum):
    incomplete = "incomplete"
    failed = "failed"


class Executor(StrEnum):
    local = "local"
    ray = "ray"


def build_config(config_path: Path | None, options: dict[str, Any], engine: dict[str, str | None]) -> Any:
    """The generate section of ``config_path`` (or the file itself), then the engine options, then the rest."""
    from naturalthoughts.config import apply_overrides, copy_mapping, load_yaml, section_of, validate
    from naturalthoughts.generate.config import GenerateConfig

    data: dict[str, Any] = copy_mapping(
        section_of(load_yaml(config_path), "generate", config_path) if config_path else {}
    )
    section = engine_section(data, **engine)
    if section:
        data["engine"] = section
    data = apply_overrides(data, options)
    source = f"{config_path} (section generate)" if config_path else "options"
    return validate(GenerateConfig, data, source=source)


def _print_estimate(result: Any, config: Any) -> None:
    from rich.table import Table

    from naturalthoughts.console import console

    table = Table(title="nt generate --estimate", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("requests in the pool", f"{result.requests_total:,}")
    table.add_row("already cached (free)", f"{result.requests_cached:,}")
    table.add_row(
        "sample", f"{result.sample_size} ({result.sample_sent} sent, {result.sample_incomplete} not complete)"
    )
    table.add_row(
        "mean prompt / completion tokens", f"{result.mean_prompt_tokens:,.0f} / {result.mean_completion_tokens:,.0f}"
    )
    table.add_row("requests left to send", f"{result.requests_to_send:,}")
    table.add_row("projected prompt tokens", f"{result.projected_prompt_tokens:,}")
    table.add_row("projected completion tokens", f"{result.projected_completion_tokens:,}")
    table.add_row("projected time", _duration(result.projected_seconds))
    priced = config.price_input_per_million or config.price_output_per_million
    table.add_row("projected cost", f"${result.projected_cost_usd:,.2f}" if priced else "$0 (no prices configured)")
    from naturalthoughts.generate.ledger import budget_line

    status = result.budget
    table.add_row("spent so far (this budget)", f"${status['spent_usd']:,.4f} · {status['spent_tokens']:,} tokens")
    if (line := budget_line(status)) is not None:
        table.add_row("budget", line.removeprefix("budget: "))
    console.print(table)
    if result.sample_incomplete:
        console.print(
            f"[yellow]{result.sample_incomplete} of {result.sample_size} sampled replies were not complete "
            "(cut at max_tokens or no </think>): consider a larger --max-tokens.[/]",
            soft_wrap=True,
        )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h {minutes}m" if days else f"{hours}h {minutes}m {secs}s"


def _print_result(result: Any) -> None:
    from naturalthoughts.console import console

    counts, usage = result.counts, result.usage
    console.print(
        f"[bold]{result.traces}[/]: {counts['rows']:,} rows for {counts['questions']:,} questions — "
        f"{counts['complete']:,} complete, {counts['incomplete']:,} incomplete, {counts['errors']:,} errors, "
        f"{counts['not_sent']:,} not sent",
        soft_wrap=True,
    )
    console.print(
        f"teacher {result.teacher} · {usage['requests_sent']:,} requests sent, {usage['cache_hits']:,} cache hits · "
        f"{usage['prompt_tokens']:,} prompt + {usage['completion_tokens']:,} completion tokens · "
        f"${usage['cost_usd']:,.4f} · {usage['wall_time_s']:.1f} s",
        soft_wrap=True,
    )
    from naturalthoughts.generate.ledger import budget_line

    if (line := budget_line(result.budget)) is not None:
        console.print(line, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command("generate", no_args_is_help=True)
    def generate_cmd(
        run: Annotated[Path, typer.Option("--run", help="Run directory holding questions.parquet.")],
        config: ConfigOption = None,
        engine: Annotated[
            str | None, typer.Option(help=f"{engine_choices('generate')} (default llamacpp: the embedded model).")
        ] = None,
        model: Annotated[
            str | None, typer.Option(help="Model name (openai), checkpoint (transformers/vllm) or GGUF (llamacpp).")
        ] = None,
        base_url: Annotated[
            str | None, typer.Option(help="OpenAI-compatible endpoint incl. /v1 (implies --engine openai).")
        ] = None,
        api_key_env: Annotated[
            str | None, typer.Option(help="Environment variable holding the API key (default OPENAI_API_KEY).")
        ] = None,
        samples: Annotated[int | None, typer.Option(help="Responses per question (default 1).")] = None,
        add_to_imported: Annotated[
            bool,
            typer.Option(
                "--add-to-imported",
                help="traces.parquet holds traces imported by `nt ingest --traces`: keep them and add --samples "
                "generated ones per question, numbered after them (without it, generate refuses to replace them).",
            ),
        ] = False,
        temperature: Annotated[float | None, typer.Option(help="Default 0.6 (DeepSeek-R1's advice).")] = None,
        top_p: Annotated[float | None, typer.Option(help="Default 0.95.")] = None,
        max_tokens: Annotated[int | None, typer.Option(help="Completion cap (default 16384, the paper's).")] = None,
        seed: Annotated[int | None, typer.Option(help="Base seed; sample i uses seed + i.")] = None,
        concurrency: Annotated[int | None, typer.Option(help="Requests in flight.")] = None,
        prompt_template: Annotated[
            str | None,
            typer.Option(help="r1, think-tags, a file containing {question}, or auto (think-tags for llamacpp)."),
        ] = None,
        system_prompt: Annotated[str | None, typer.Option(help="Optional system turn.")] = None,
        price_input: Annotated[float | None, typer.Option(help="USD per million prompt tokens.")] = None,
        price_output: Annotated[float | None, typer.Option(help="USD per million completion tokens.")] = None,
        max_cost: Annotated[
            float | None, typer.Option(help="Stop sending at this spend (USD); rerun to resume.")
        ] = None,
        max_total_tokens: Annotated[
            int | None, typer.Option(help="Stop sending at this many tokens; rerun to resume.")
        ] = None,
        think_budget: Annotated[
            int | None,
            typer.Option(
                help="Thinking budget (s1-style budget forcing): cut the reasoning at N tokens, close it, then "
                "generate the answer. Default: on (128) for the bundled model, off for every other teacher."
            ),
        ] = None,
        think_min: Annotated[
            int | None, typer.Option(help="With a budget: replace an early </think> by 'Wait' until N tokens.")
        ] = None,
        answer_max_tokens: Annotated[
            int | None, typer.Option(help="With a budget: token limit of the answer phase.")
        ] = None,
        no_think_budget: Annotated[
            bool, typer.Option("--no-think-budget", help="No thinking budget, also for the bundled model.")
        ] = False,
        retry: Annotated[
            list[Retry] | None,
            typer.Option(help="Regenerate only incomplete and/or failed rows of traces.parquet (repeatable)."),
        ] = None,
        estimate: Annotated[
            bool, typer.Option("--estimate", help="Send a small sample and print projected tokens, time, cost.")
        ] = False,
        estimate_size: Annotated[int, typer.Option(help="Requests in the --estimate sample.")] = 8,
        executor: Annotated[Executor | None, typer.Option(help="local (default) or ray.")] = None,
        ray_address: Annotated[str | None, typer.Option(help="Ray cluster address; omit for a local Ray.")] = None,
        ray_workers: Annotated[int | None, typer.Option(help="Ray actors, each with its own engine.")] = None,
        force: ForceOption = False,
        wait: WaitOption = False,
        quiet: QuietOption = False,
    ) -> None:
        """Teacher traces for every question in questions.parquet → traces.parquet (R1 style: reasoning inside
        <think>…</think>, then the answer).

        Resumable: every reply is committed to the run's response cache as it arrives, so a killed run loses
        only what was in flight; run the same command again to finish. A reply cut at --max-tokens is kept as
        incomplete and is only regenerated with --retry incomplete.
        """
        from naturalthoughts.cli.common import raise_for_outcomes, run_stage, this_command
        from naturalthoughts.errors import ConfigError
        from naturalthoughts.generate import estimate as estimate_fn
        from naturalthoughts.generate.stage import GenerateStage

        options = {
            "engine.api_key_env": api_key_env,
            "samples": samples,
            "imported": "add" if add_to_imported else None,
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "seed": seed,
            "concurrency": concurrency,
            "prompt_template": prompt_template,
            "system_prompt": system_prompt,
            "price_input_per_million": price_input,
            "price_output_per_million": price_output,
            "max_cost": max_cost,
            "max_total_tokens": max_total_tokens,
            "retry": [r.value for r in retry] if retry else None,
            "executor": executor.value if executor else None,
            "ray.address": ray_address,
            "ray.workers": ray_workers,
            "progress": False if quiet else None,
        }
        budget_given = any(v is not None for v in (think_budget, think_min, answer_max_tokens))
        if no_think_budget and budget_given:
            raise ConfigError("--no-think-budget turns the thinking budget off: drop --think-budget/--think-min")
        options.update(
            {
                "thinking": {} if no_think_budget else None,
                "thinking.budget": think_budget,
                "thinking.min_tokens": think_min,
                "thinking.answer_max_tokens": answer_max_tokens,
            }
        )
        cfg = build_config(config, options, {"engine": engine, "model": model, "base_url": base_url})
        if estimate:
            _print_estimate(estimate_fn(run, cfg, sample_size=estimate_size, quiet=quiet), cfg)
            return
        outcome = run_stage(GenerateStage(cfg), run, force=force, wait=wait, quiet=quiet)
        if outcome.value is not None:
            _print_result(outcome.value)
        raise_for_outcomes([outcome], this_command(f"nt generate --run {run}"))  # with its options
