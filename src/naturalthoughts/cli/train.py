"""`nt train`: SFT data for a selection (as `nt sft-data`), then TRL SFTTrainer on it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from naturalthoughts.cli.common import ConfigOption, ForceOption, QuietOption, RunOption, WaitOption
from naturalthoughts.cli.sft_data import MixOption, SelectionOption, StudentOption, print_sft, sft_overrides

HELP = (
    "Fine-tune a student on a selection: builds RUN/sft/NAME/ (as nt sft-data), then trains with TRL's "
    "SFTTrainer into RUN/models/NAME/ (merged weights, LoRA adapter, model card, loss.parquet)."
    "\n\nLoss on the assistant turn only, padding-free token-budget batches, bf16 where the hardware has it, the "
    "student's own chat template. Presets: cpu-demo (LoRA on the bundled SmolLM2-135M, minutes on a laptop) and "
    "paper (the paper's recipe: full fine-tuning, AdamW wd 0.1, constant 2e-5, epochs by size, ~400k tokens per "
    "step). Options override single preset values. Checkpoints go to RUN/checkpoints/NAME/: Ctrl-C saves one, "
    "and the same command resumes. Multi-GPU: accelerate launch with configs/accelerate/ (docs/training.md)."
    "\n\nExamples:\n\n  nt train --run runs/demo --selection random-40\n\n"
    "  nt train --run runs/demo --selection random-40 --mix difficulty --max-steps 20\n\n"
    "  accelerate launch --config_file configs/accelerate/deepspeed_zero3.yaml -m naturalthoughts train "
    "--run runs/big --selection nt-10k --preset paper --student meta-llama/Llama-3.1-8B-Instruct"
)


def register(app: typer.Typer) -> None:
    @app.command("train", help=HELP, no_args_is_help=True)
    def train_cmd(
        run: RunOption,
        selection: SelectionOption,
        mix: MixOption = None,
        preset: Annotated[str | None, typer.Option("--preset", help="cpu-demo | paper \\[default: cpu-demo].")] = None,
        max_steps: Annotated[int | None, typer.Option("--max-steps", help="Stop after N optimizer steps.")] = None,
        student: StudentOption = None,
        lora: Annotated[
            bool | None, typer.Option("--lora/--full", help="LoRA adapters or full fine-tuning \\[default: preset].")
        ] = None,
        epochs: Annotated[str | None, typer.Option("--epochs", help="Passes over the data, or auto (paper).")] = None,
        learning_rate: Annotated[float | None, typer.Option("--learning-rate", "--lr", help="Learning rate.")] = None,
        max_length: Annotated[int | None, typer.Option("--max-length", help="Longest example in tokens.")] = None,
        tokens_per_step: Annotated[
            int | None, typer.Option("--tokens-per-step", help="Tokens per optimizer step (all devices).")
        ] = None,
        tokens_per_micro_batch: Annotated[
            int | None, typer.Option("--tokens-per-micro-batch", help="Tokens per forward pass on one device.")
        ] = None,
        precision: Annotated[str | None, typer.Option("--precision", help="auto | bf16 | fp16 | fp32.")] = None,
        gradient_checkpointing: Annotated[
            bool | None, typer.Option("--gradient-checkpointing/--no-gradient-checkpointing")
        ] = None,
        seed: Annotated[int | None, typer.Option("--seed", help="Seed of mixing, batching and init.")] = None,
        adaptive_share: Annotated[
            float | None, typer.Option("--adaptive-share", help="Share of examples without a mode instruction.")
        ] = None,
        name: Annotated[str | None, typer.Option("--name", help="Model name \\[default: SELECTION+MIX].")] = None,
        config: ConfigOption = None,
        force: ForceOption = False,
        wait: WaitOption = False,
        quiet: QuietOption = False,
    ) -> None:
        from naturalthoughts.config import load_section
        from naturalthoughts.sft import SftDataConfig
        from naturalthoughts.train import TrainConfig

        options: dict[str, Any] = {
            "preset": preset, "student": student, "max_steps": max_steps, "learning_rate": learning_rate,
            "method": None if lora is None else ("lora" if lora else "full"), "max_length": max_length,
            "epochs": None if epochs is None else (epochs if epochs == "auto" else _int(epochs, "--epochs")),
            "tokens_per_step": tokens_per_step, "tokens_per_micro_batch": tokens_per_micro_batch,
            "precision": precision, "gradient_checkpointing": gradient_checkpointing, "seed": seed,
        }  # fmt: skip
        train_cfg = load_section(TrainConfig, config, "train", options)
        sft_options = sft_overrides(mix, seed, train_cfg.max_length, train_cfg.student, adaptive_share)
        sft_cfg = load_section(SftDataConfig, config, "sft", sft_options)
        run_training(run, selection, sft_cfg, train_cfg, name, force=force, wait=wait, quiet=quiet)


def _int(text: str, option: str) -> int:
    from naturalthoughts.errors import ConfigError

    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r}: a whole number, or auto") from None


def run_training(run: Any, selection: str, sft_cfg: Any, train_cfg: Any, name: str | None, **runner: Any) -> None:
    """sft-data then train (one process), or the same under ``accelerate launch`` (every process)."""
    from naturalthoughts.cli.common import reporter, run_stage, say_if_up_to_date
    from naturalthoughts.console import say
    from naturalthoughts.rundir import RunDir
    from naturalthoughts.sft import SftDataStage
    from naturalthoughts.train import TrainStage
    from naturalthoughts.train.hardware import world_size

    sft = SftDataStage(sft_cfg, selection=selection, name=name)
    train = TrainStage(train_cfg, sft=sft.args["name"], name=name or sft.args["name"])
    if world_size() > 1:
        from naturalthoughts.train.distributed import run_distributed

        quiet = runner.pop("quiet", False)
        outcomes = run_distributed(run, sft, train, **runner, reporter=reporter(quiet))
        for done in outcomes or []:
            say_if_up_to_date(done)
        outcome = outcomes[-1] if outcomes else None
    else:
        outcome_sft = run_stage(sft, run, **runner)
        if outcome_sft.value is not None:
            print_sft(outcome_sft.value, sft.folder(RunDir(run)))
        outcome = run_stage(train, run, **runner)
    if outcome is not None and outcome.value is not None:
        value = outcome.value
        resumed = f", resumed at step {value['resumed_from_step']:,}" if value["resumed_from_step"] else ""
        say(
            f"train: {value['steps']:,} steps{resumed}, loss {value['first_loss']:.4f} -> {value['final_loss']:.4f}, "
            f"{value['tokens'] or 0:,} tokens in {value['seconds'] or 0:,.0f} s ({value['precision']}) "
            f"-> {value['model']}"
        )
