"""`nt eval`: a model on reasoning benchmarks (think / no-think / adaptive, seeds, thinking budgets), and
`nt eval compare DIR...`: one table across models, modes and benchmarks."""

from __future__ import annotations

import re
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
from naturalthoughts.errors import ConfigError


def _split(values: list[str] | None) -> list[str]:
    """``--bench a,b --bench c`` -> ``[a, b, c]``."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


# One --bench entry: a reasoning-gym spec (its task list has commas of its own), or anything up to the next comma.
_BENCH = re.compile(r"\s*((?:reasoning-gym:|reasoning_gym=)[^:]+:\d+(?::-?\d+)?|[^,]+)\s*(?:,|$)")


def parse_benches(values: list[str] | None) -> tuple[list[str], dict[str, str]]:
    """``gsm8k,mmlu_pro=pro.parquet,reasoning-gym:gcd,syllogism:80:7`` -> names and the sources given with
    ``NAME=FILE_OR_hf:ID`` (a reasoning-gym spec is the ``reasoning_gym`` benchmark's source)."""
    names, sources = [], {}
    for value in values or []:
        for match in _BENCH.finditer(value):
            entry = match.group(1).strip()
            if not entry:
                continue
            if entry.startswith("reasoning-gym:"):
                entry = "reasoning_gym=" + entry.removeprefix("reasoning-gym:")
            name, _, source = entry.partition("=")
            names.append(name.strip())
            if source.strip():
                sources[name.strip()] = source.strip()
    return names, sources


def parse_ints(values: list[str] | None, option: str) -> list[int]:
    try:
        return [int(part) for part in _split(values)]
    except ValueError:
        raise ConfigError(f"{option}: give whole numbers, e.g. {option} 512,1024") from None


def locate(model: str, run: Any) -> Path | None:
    """The file or folder ``model`` names: a path, or a model folder of the run (``RUN/models/NAME``)."""
    path = Path(model).expanduser()
    if path.exists():
        return path
    if run is not None and (run.models_dir / model).exists():
        return run.models_dir / model
    return None


def engine_section_for(model: str | None, run: Any) -> dict[str, Any] | None:
    """The engine section ``--model`` implies when no ``--engine`` is given (a file: the first engine that loads
    files of its kind, e.g. a GGUF on llama.cpp; a model folder: the student engine); None leaves the config's."""
    if model is None:
        return None
    path = locate(model, run)
    if path is None:
        raise ConfigError(
            f"--model {model}: no such file or folder (nor {run.models_dir / model})"
            if run is not None
            else f"--model {model}: no such file or folder; for a served model add --base-url (or --engine openai)"
        )
    if path.is_file():
        from naturalthoughts.engines.config import engine_configs, engine_name

        for config in engine_configs():  # the first engine that loads files of this kind
            if path.suffix.lower() in config.model_suffixes:
                return {"engine": engine_name(config), config.model_field: str(path)}
    from naturalthoughts.eval.models import is_model_folder, student_section

    if is_model_folder(path):
        return student_section(path)
    raise ConfigError(f"--model {model}: neither a GGUF file nor a model folder (config.json or adapter_config.json)")


def build_config(
    config_path: Path | None,
    options: dict[str, Any],
    engine: dict[str, Any],
    judge: dict[str, Any],
    run: Path | None,
) -> Any:
    """The eval section of ``config_path`` (or the file itself), then the model / judge options, then the rest."""
    from naturalthoughts.config import apply_overrides, copy_mapping, load_yaml, section_of, validate
    from naturalthoughts.engines.config import DEFAULT_ENGINE
    from naturalthoughts.eval.config import EvalConfig
    from naturalthoughts.rundir import RunDir

    data: dict[str, Any] = copy_mapping(section_of(load_yaml(config_path), "eval", config_path) if config_path else {})
    rundir = RunDir(run) if run is not None else None
    model = engine.pop("model")
    if engine["engine"] is None and engine["base_url"] is None and model is not None:
        # a path: a GGUF runs on llama.cpp, a model folder on the student engine; same-engine YAML keys are kept
        section = engine_section_for(model, rundir) or {}
        configured = dict(data.get("engine") or {})
        if configured.get("engine", DEFAULT_ENGINE) == section.get("engine"):
            section = {**configured, **section}
    else:
        section = engine_section(data, model=model, **engine)
    if section:
        data["engine"] = section
    if any(value is not None for value in judge.values()):
        data["judge"] = engine_section({"engine": data.get("judge")}, **judge) or None
    given = options.pop("sources", None)  # an empty {} must not replace the file's eval.sources
    if given:
        data["sources"] = {**(data.get("sources") or {}), **given}
    data = apply_overrides(data, options)
    source = f"{config_path} (section eval)" if config_path else "options"
    return validate(EvalConfig, data, source=source)


def _print_summary(summary: Any, folder: Path) -> None:
    from rich.markup import escape

    from naturalthoughts.console import console
    from naturalthoughts.eval.compare import markdown_table

    console.print(escape(markdown_table(summary.to_pylist())), soft_wrap=True)
    console.print(escape(f"samples and summary: {folder}"), soft_wrap=True)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="eval",
        help="Evaluate a model on reasoning benchmarks in think / no-think / adaptive modes (docs/evaluation.md).",
        invoke_without_command=True,
        no_args_is_help=False,
    )

    @group.callback()
    def eval_cmd(
        ctx: typer.Context,
        run: Annotated[
            Path | None, typer.Option("--run", help="Run directory (cache, manifest; results in RUN/eval/NAME).")
        ] = None,
        out: Annotated[
            Path | None, typer.Option("--out", help="Write the results here (alone: this folder is the run).")
        ] = None,
        model: Annotated[
            str | None,
            typer.Option(
                help="A GGUF file (llama.cpp), a model or LoRA folder (a student; NAME = RUN/models/NAME), or with "
                "--engine/--base-url the engine's model name. Default: the bundled SmolLM2-135M."
            ),
        ] = None,
        engine: Annotated[str | None, typer.Option(help=f"{engine_choices('eval')}.")] = None,
        base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint incl. /v1.")] = None,
        api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the API key.")] = None,
        name: Annotated[str | None, typer.Option(help="The model's name in results \\[default: from --model].")] = None,
        bench: Annotated[
            list[str] | None,
            typer.Option(
                help="Benchmarks, comma-separated; NAME=FILE or NAME=hf:ID gives the data of mmlu_pro, supergpqa, "
                "open_ended (or another file for math500) \\[default: gpqa_diamond,math500]."
            ),
        ] = None,
        mode: Annotated[list[str] | None, typer.Option(help="think | no-think | adaptive, comma-separated.")] = None,
        seeds: Annotated[int | None, typer.Option(help="Samples (seeds) per item \\[default: 1; presets].")] = None,
        seed: Annotated[int | None, typer.Option(help="First seed \\[default: 0].")] = None,
        limit: Annotated[int | None, typer.Option(help="At most N items per benchmark (a fixed subset).")] = None,
        think_budget: Annotated[
            list[str] | None,
            typer.Option(help="Thinking budgets N[,N...]: close the reasoning at N tokens, then answer."),
        ] = None,
        preset: Annotated[
            list[str] | None, typer.Option(help="paper (benchmarks and repeats), qwen (temperature 0.7, top-p 1.0).")
        ] = None,
        temperature: Annotated[float | None, typer.Option(help="Default 0.6 (the paper's).")] = None,
        top_p: Annotated[float | None, typer.Option(help="Default 0.95.")] = None,
        max_tokens: Annotated[int | None, typer.Option(help="New tokens per sample (default 16384).")] = None,
        mmlu_pro_official: Annotated[
            bool, typer.Option("--mmlu-pro-official", help="MMLU-Pro's official prompt and cascade.")
        ] = False,
        simple_evals: Annotated[
            bool,
            typer.Option(
                "--simple-evals", help="Multiple choice: simple-evals' strict reading (the first 'Answer: X')."
            ),
        ] = False,
        no_instruction: Annotated[
            bool, typer.Option("--no-instruction", help="No mode instruction in the system turn.")
        ] = False,
        no_prefill: Annotated[
            bool, typer.Option("--no-prefill", help="Do not start the assistant turn with the mode's prefill.")
        ] = False,
        judge_engine: Annotated[str | None, typer.Option(help="Judge engine for open_ended.")] = None,
        judge_model: Annotated[str | None, typer.Option(help="Judge model (GGUF, checkpoint or served name).")] = None,
        judge_base_url: Annotated[str | None, typer.Option(help="Judge endpoint incl. /v1.")] = None,
        tokenizer: Annotated[
            str | None, typer.Option(help="Count tokens with this tokenizer (smollm2, approx, HF folder).")
        ] = None,
        concurrency: Annotated[int | None, typer.Option(help="Requests in flight / batch size.")] = None,
        config: ConfigOption = None,
        force: ForceOption = False,
        wait: WaitOption = False,
        quiet: QuietOption = False,
    ) -> None:
        """Evaluate a model: per-sample records (RUN/eval/NAME/samples.parquet) and a summary (accuracy, mean
        tokens, truncation and extraction-failure rates).

        Resumable and cached: every reply is kept in the run's response cache, so an interrupted evaluation reuses
        every finished sample and the same model with the same seeds gives identical records.
        """
        if ctx.invoked_subcommand is not None:
            return
        from naturalthoughts.cli.common import raise_for_outcomes, run_stage, this_command
        from naturalthoughts.eval import EvalStage
        from naturalthoughts.rundir import RunDir

        if run is None and out is None:
            raise ConfigError("nt eval: give --run DIR (results in DIR/eval/NAME) or --out DIR")
        names, sources = parse_benches(bench)
        options: dict[str, Any] = {
            "engine.api_key_env": api_key_env,
            "benchmarks": names or None,
            "sources": sources,
            "modes": _split(mode) or None,
            "seeds": seeds,
            "seed": seed,
            "limit": limit,
            "think_budgets": parse_ints(think_budget, "--think-budget") or None,
            "preset": _split(preset) or None,
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "mmlu_pro_official": True if mmlu_pro_official else None,
            "simple_evals": True if simple_evals else None,
            "instruction": False if no_instruction else None,
            "prefill": False if no_prefill else None,
            "tokenizer": tokenizer,
            "concurrency": concurrency,
            "progress": False if quiet else None,
        }
        cfg = build_config(
            config,
            options,
            {"engine": engine, "model": model, "base_url": base_url},
            {"engine": judge_engine, "model": judge_model, "base_url": judge_base_url},
            run,
        )
        root = run if run is not None else out
        assert root is not None
        stage = EvalStage(cfg, model_name=name, out=out)
        outcome = run_stage(stage, root, force=force, wait=wait, quiet=quiet)
        folder = stage.out_dir(RunDir(root))
        if outcome.result is not None and outcome.result.value is not None:
            _print_summary(outcome.result.value, folder)
        where = f"--run {root}" if run is not None else f"--out {root}"
        raise_for_outcomes([outcome], this_command(f"nt eval {where}"))

    @group.command("compare")
    def compare_cmd(
        dirs: Annotated[list[Path], typer.Argument(help="Evaluation folders, run directories or summary files.")],
        fmt: Annotated[str, typer.Option("--format", help="markdown | csv.")] = "markdown",
        output: Annotated[Path | None, typer.Option("--output", "-o", help="Also write the table here.")] = None,
        table: Annotated[
            str,
            typer.Option(
                "--table",
                help="both | accuracy | paired. paired: for every pair of models evaluated on the same items, the "
                "difference in accuracy ± paired SE, bootstrap CI, no-answer rates, accuracy among answered. "
                "--format csv writes one table: accuracy unless --table paired.",
            ),
        ] = "both",
        resamples: Annotated[int, typer.Option("--resamples", min=0, help="Bootstrap resamples (0: no CI).")] = 2000,
    ) -> None:
        """One table across models, modes, budgets and benchmarks: accuracy (mean ± stderr over seeds) beside
        mean tokens; then every pair of models on the same items: the paired difference, its standard error
        (clustered by item) and bootstrap CI, the no-answer rate and the accuracy among answered samples."""
        from rich.markup import escape

        from naturalthoughts.atomic import write_text
        from naturalthoughts.console import console
        from naturalthoughts.eval.compare import (
            csv_table,
            markdown_table,
            paired_comparisons,
            paired_csv,
            paired_markdown,
            read_summaries,
        )

        if fmt not in ("markdown", "csv"):
            raise ConfigError(f"--format {fmt}: choose markdown or csv")
        if table not in ("both", "accuracy", "paired"):
            raise ConfigError(f"--table {table}: choose both, accuracy or paired")
        if fmt == "csv" and table == "both":
            table = "accuracy"  # a CSV holds one table
        parts = []
        if table in ("both", "accuracy"):
            rows = read_summaries(dirs)
            parts.append(markdown_table(rows) if fmt == "markdown" else csv_table(rows))
        if table in ("both", "paired"):
            found = paired_comparisons(dirs, resamples=resamples)
            paired = paired_markdown(found) if fmt == "markdown" else paired_csv(found)
            parts.append(("## Paired differences\n\n" if table == "both" else "") + paired)
        text = "\n\n".join(part.rstrip("\n") for part in parts)
        console.print(escape(text), soft_wrap=True)
        if output is not None:
            write_text(text + "\n", output)

    app.add_typer(group, name="eval")
