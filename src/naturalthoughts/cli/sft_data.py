"""`nt sft-data`: a selection as chat-format SFT data with System-1/System-2 mixing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from naturalthoughts.cli.common import ConfigOption, ForceOption, QuietOption, RunOption, WaitOption

HELP = (
    "Turn selections/NAME.parquet into SFT data under RUN/sft/NAME/: train.parquet (a Hugging Face dataset of "
    "messages), train.jsonl (OpenAI chat), sharegpt.json + dataset_info.json (LLaMA-Factory)."
    "\n\nSystem-2 examples keep the trace (<think> reasoning </think> answer); System-1 examples are the answer "
    "after the empty thinking block. --mix chooses: none (all System-2), random:P (exactly round(P*n) System-2), "
    "difficulty (System-2 where the models disagree), length:T (System-2 above T reasoning tokens)."
    "\n\nOnly complete responses whose whole example fits --max-length (the student's chat template) are used; "
    "the others are dropped and counted, never truncated. See docs/training.md."
    "\n\nExamples:\n\n  nt sft-data --run runs/demo --selection random-40\n\n"
    "  nt sft-data --run runs/demo --selection random-40 --mix difficulty --max-length 4096"
)

MixOption = Annotated[
    str | None, typer.Option("--mix", help="none | random:P | difficulty | length:T \\[default: none].")
]
StudentOption = Annotated[
    str | None, typer.Option("--student", help="Student model folder or Hub id \\[default: bundled SmolLM2-135M].")
]
SelectionOption = Annotated[str, typer.Option("--selection", "-s", help="Selection name (selections/NAME.parquet).")]


def sft_overrides(mix: str | None, seed: int | None, max_length: int | None, student: str | None,
                  adaptive_share: float | None, chat_template: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {"mix": mix, "seed": seed, "max_length": max_length, "student": student, "adaptive_share": adaptive_share,
            "chat_template": chat_template}  # fmt: skip


def print_sft(meta: dict[str, Any], folder: Path) -> None:
    from naturalthoughts.console import say

    counts, shares = meta["counts"], meta["shares"]
    say(
        f"sft-data: {counts['examples']:,} examples ({counts['system2']:,} System-2 = {shares['system2']:.1%}, "
        f"{counts['system1']:,} System-1; {counts['adaptive']:,} without instruction) -> {folder}"
    )
    say(
        f"  dropped: {counts['too_long']:,} longer than {meta['max_length']:,} tokens, {counts['incomplete']:,} "
        f"incomplete, {counts['no_question']:,} without question · {counts['tokens']:,} tokens "
        f"({counts['trained_tokens']:,} trained) · mix {meta['mix']} seed {meta['seed']}"
    )
    template = meta.get("template") or {}
    if "loss_checked" in counts:
        say(
            f"  chat template {template.get('source', 'student')} ({template.get('label', 'own template')}): "
            f"{counts['loss_checked']:,} examples checked at the loss mask, {counts['loss_failed']:,} failed"
        )


def register(app: typer.Typer) -> None:
    @app.command("sft-data", help=HELP, no_args_is_help=True)
    def sft_data_cmd(
        run: RunOption,
        selection: SelectionOption,
        mix: MixOption = None,
        seed: Annotated[int | None, typer.Option("--seed", help="Seed of the mixing choices \\[default: 0].")] = None,
        max_length: Annotated[
            int | None, typer.Option("--max-length", help="Training length in tokens \\[default: 16384].")
        ] = None,
        student: StudentOption = None,
        adaptive_share: Annotated[
            float | None, typer.Option("--adaptive-share", help="Share of examples without a mode instruction.")
        ] = None,
        chat_template: Annotated[
            str | None,
            typer.Option(
                "--chat-template",
                help="A .jinja chat template to train with \\[default: TRL's training template for the student's "
                "family, else the student's own].",
            ),
        ] = None,
        name: Annotated[str | None, typer.Option("--name", help="Output name \\[default: SELECTION+MIX].")] = None,
        config: ConfigOption = None,
        force: ForceOption = False,
        wait: WaitOption = False,
        quiet: QuietOption = False,
    ) -> None:
        from naturalthoughts.cli.common import run_stage
        from naturalthoughts.config import load_section
        from naturalthoughts.sft import SftDataConfig, SftDataStage

        overrides = sft_overrides(mix, seed, max_length, student, adaptive_share, chat_template)
        cfg = load_section(SftDataConfig, config, "sft", overrides)
        stage = SftDataStage(cfg, selection=selection, name=name)
        outcome = run_stage(stage, run, force=force, wait=wait, quiet=quiet)
        if outcome.value is not None:
            from naturalthoughts.rundir import RunDir

            print_sft(outcome.value, stage.folder(RunDir(run)))
