"""Benchmark `nt train`: its cpu-demo settings against TRL out of the box and a bare TRL script with nt's settings.

All three train SmolLM2-135M-Instruct (the bundled student, LoRA r=16 on every linear layer) on the same SFT
examples: synthetic traces with log-normal reasoning lengths (like real reasoning traces), rendered by
`nt sft-data`. Each configuration runs in a fresh subprocess, one after the other:

- ``nt``: ``nt train --preset cpu-demo`` through the runner (bf16 autocast, padding-free token-budget batches,
  no gradient checkpointing);
- ``trl-default``: ``SFTTrainer`` with TRL's own defaults (fp32 because TRL's default bf16 fails on a CPU without
  ``use_cpu``, padded batches, gradient checkpointing on) and the same number of examples per step on average;
- ``trl-bare``: a bare ``SFTTrainer`` script with nt's settings (bf16, ``padding_free``, no checkpointing) and a
  fixed number of examples per batch (TRL's sampler).

It prints non-pad tokens per second (measured from the second optimizer step on, so start-up and the first step's
allocations are left out) and the first step's loss per token of each, beside the targets: nt >= 0.95 x the bare
script (no toolkit overhead) and >= 1.8 x TRL out of the box, with the same loss per token (within 5%).

    .venv/bin/python benchmarks/bench_train.py            # 96 examples up to 1,024 tokens, 8 steps each
    .venv/bin/python benchmarks/bench_train.py --quick    # 12 examples up to 256 tokens, 3 steps each

Run it on an idle machine (it prints the load average before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import QUESTIONS, SELECTION, TRACES

CONFIGS = ("nt", "trl-default", "trl-bare")
TARGET_VS_BARE = 0.95
TARGET_VS_DEFAULT = 1.8
LOSS_TOLERANCE = 0.05
WORDS = (
    "so", "the", "sum", "is", "then", "we", "check", "each", "term", "again", "because", "therefore", "if",
    "not", "which", "gives", "wait", "let", "me", "recompute", "carefully", "value", "of", "x", "and", "y",
)  # fmt: skip


def build_run(root: Path, examples: int, median_words: int, max_words: int, seed: int = 0) -> RunDir:
    """A run directory whose traces have log-normal reasoning lengths, all selected as ``bench``."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(median_words), 0.8, examples).astype(int), 8, max_words)
    run = RunDir(root).ensure()
    questions, traces = [], []
    for i, words in enumerate(lengths):
        text = " ".join(rng.choice(WORDS, size=int(words)))
        question = f"Question {i}: what is {i} times {i + 1}?"
        questions.append({"id": f"q{i}", "question": question, "source": "bench"})
        answer = f"The answer is {i * (i + 1)}."
        traces.append({"trace_id": f"t{i}", "question_id": f"q{i}", "sample": 0, "reasoning": text, "answer": answer,
                       "finish_reason": "stop", "complete": True})  # fmt: skip
    pq.write_table(pa.Table.from_pylist(questions, schema=QUESTIONS), run.questions)
    pq.write_table(pa.Table.from_pylist(traces, schema=TRACES), run.traces)
    run.selections_dir.mkdir(exist_ok=True)
    rows = [{"trace_id": f"t{i}", "rank": i, "method": "random"} for i in range(examples)]
    pq.write_table(pa.Table.from_pylist(rows, schema=SELECTION), run.selection("bench"))
    return run


def sft_data(run: RunDir, max_length: int) -> Path:
    from naturalthoughts.progress import quiet_reporter
    from naturalthoughts.runner import Runner
    from naturalthoughts.sft import SftDataConfig, SftDataStage

    stage = SftDataStage(SftDataConfig(max_length=max_length), selection="bench")
    with Runner(run, reporter=quiet_reporter()) as runner:
        runner.run_stage(stage)
    return stage.folder(run)


def tokens_per_second(points: list[tuple[float, float]]) -> float:
    """(seconds, cumulative tokens) per logged step -> tokens/s from the second step on."""
    (t0, n0), (t1, n1) = points[0], points[-1]
    return (n1 - n0) / (t1 - t0) if t1 > t0 else float("nan")


# ---- one configuration, in its own process ----------------------------------------------------------------------


def run_nt(run: RunDir, steps: int, max_length: int, tokens_per_step: int) -> dict[str, Any]:
    from naturalthoughts.progress import quiet_reporter
    from naturalthoughts.runner import Runner
    from naturalthoughts.train import TrainConfig, TrainStage

    config = TrainConfig(preset="cpu-demo", max_steps=steps, max_length=max_length, tokens_per_step=tokens_per_step,
                         tokens_per_micro_batch=tokens_per_step, save_steps=10_000)  # fmt: skip
    stage = TrainStage(config, sft="bench", name="bench-nt")
    with Runner(run, force=True, reporter=quiet_reporter()) as runner:
        outcome = runner.run_stage(stage)
    loss = pq.read_table(run.models_dir / "bench-nt" / "loss.parquet").to_pylist()
    points = [(r["elapsed_s"], r["tokens"]) for r in loss]
    return {"tokens_per_s": tokens_per_second(points), "first_loss": loss[0]["loss"], "steps": len(loss),
            "precision": outcome.result.value["precision"]}  # fmt: skip


def run_trl(run: RunDir, folder: Path, steps: int, batch: int, nt_settings: bool) -> dict[str, Any]:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from naturalthoughts.student import bundled_student_dir
    from naturalthoughts.train.config import TrainConfig
    from naturalthoughts.train.trainer import lora_config

    messages = pq.read_table(folder / "train.parquet", columns=["messages"]).column("messages").to_pylist()
    dataset = Dataset.from_dict({"prompt": [m[:-1] for m in messages], "completion": [m[-1:] for m in messages]})
    stamps: list[float] = []

    class Stamp(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "loss" in logs:
                stamps.append(time.monotonic())

    settings: dict[str, Any] = {"bf16": False}  # TRL's default bf16=True fails on a CPU without use_cpu
    if nt_settings:
        settings = {"bf16": True, "padding_free": True, "max_length": None, "activation_checkpointing": False}
    args = SFTConfig(output_dir=str(run.root / "trl-out"), max_steps=steps, per_device_train_batch_size=batch,
                     learning_rate=2e-4, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
                     disable_tqdm=True, seed=0, **settings)  # fmt: skip
    lora = lora_config(TrainConfig(preset="cpu-demo"))
    trainer = SFTTrainer(model=str(bundled_student_dir()), args=args, train_dataset=dataset, peft_config=lora)
    trainer.add_callback(Stamp())
    trainer.train()
    logged = [e for e in trainer.state.log_history if "loss" in e]
    points = [(stamp, e["num_tokens"]) for stamp, e in zip(stamps, logged, strict=True)]
    checkpointing = bool(trainer.args.activation_checkpointing)
    return {"tokens_per_s": tokens_per_second(points), "first_loss": logged[0]["loss"], "steps": len(logged),
            "precision": "bf16" if args.bf16 else "fp32", "gradient_checkpointing": checkpointing}  # fmt: skip


def one(config: str, root: Path, steps: int, max_length: int, tokens_per_step: int, batch: int) -> dict[str, Any]:
    run = RunDir(root)
    folder = run.sft_dir / "bench"
    if config == "nt":
        return run_nt(run, steps, max_length, tokens_per_step)
    return run_trl(run, folder, steps, batch, nt_settings=config == "trl-bare")


# ---- the comparison ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="12 examples up to 256 tokens, 3 steps each")
    parser.add_argument("--steps", type=int, help="optimizer steps per configuration")
    parser.add_argument("--one", choices=CONFIGS, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=0, help=argparse.SUPPRESS)
    options = parser.parse_args()
    examples, median, max_length, tokens_per_step, steps = (12, 60, 256, 1024, 3) if options.quick else \
        (96, 250, 1024, 4096, 8)  # fmt: skip
    steps = options.steps or steps
    if options.one:
        result = one(options.one, options.root, steps, max_length, tokens_per_step, options.batch)
        print("RESULT " + json.dumps(result), flush=True)
        return 0

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="nt-bench-train-") as tmp:
        run = build_run(Path(tmp) / "run", examples, median, max_words=max_length // 2)
        folder = sft_data(run, max_length)
        table = pq.read_table(folder / "train.parquet", columns=["tokens"])
        lengths = np.array(table.column("tokens").to_pylist())
        # the examples per batch that give TRL's runs nt's tokens per step on average
        batch = max(1, round(len(lengths) * tokens_per_step / int(lengths.sum())))
        print(f"{len(lengths)} examples, tokens p50 {np.median(lengths):.0f} / max {lengths.max()} (log-normal); "
              f"{tokens_per_step:,} tokens per step = {batch} examples per TRL batch; {steps} steps each; "
              f"load average {load_before:.2f}", flush=True)  # fmt: skip
        results = {}
        for config in CONFIGS:
            command = [sys.executable, __file__, "--one", config, "--root", str(run.root), "--batch", str(batch),
                       "--steps", str(steps)] + (["--quick"] if options.quick else [])  # fmt: skip
            started = time.monotonic()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
            if done.returncode or line is None:
                print(f"{config}: failed\n{done.stderr[-3000:]}")
                return 1
            results[config] = json.loads(line[len("RESULT ") :]) | {"wall_s": time.monotonic() - started}
            print(f"  {config:12s} {results[config]['tokens_per_s']:8.1f} non-pad tokens/s   first-step loss "
                  f"{results[config]['first_loss']:.4f}   ({results[config]['precision']}, "
                  f"{results[config]['wall_s']:.0f} s wall)", flush=True)  # fmt: skip
    report(results, load_before, os.getloadavg()[0])
    return 0


def report(results: dict[str, dict[str, Any]], load_before: float, load_after: float) -> None:
    nt, default, bare = (results[c] for c in CONFIGS)
    vs_bare = nt["tokens_per_s"] / bare["tokens_per_s"]
    vs_default = nt["tokens_per_s"] / default["tokens_per_s"]
    loss_gap = abs(nt["first_loss"] - default["first_loss"]) / default["first_loss"]
    print()
    print("| figure | measured | target |")
    print("|---|---|---|")
    for name in CONFIGS:
        print(f"| {name} non-pad tokens/s | {results[name]['tokens_per_s']:.1f} | |")
    print(f"| nt / bare TRL with nt's settings | {vs_bare:.3f} | >= {TARGET_VS_BARE} |")
    print(f"| nt / TRL out of the box | {vs_default:.3f} | >= {TARGET_VS_DEFAULT} |")
    print(f"| first-step loss nt / TRL default / bare | {nt['first_loss']:.4f} / {default['first_loss']:.4f} / "
          f"{bare['first_loss']:.4f} | within {LOSS_TOLERANCE:.0%} |")  # fmt: skip
    print(f"| load average before / after | {load_before:.2f} / {load_after:.2f} | idle machine (< 0.5) |")
    ok = vs_bare >= TARGET_VS_BARE and vs_default >= TARGET_VS_DEFAULT and loss_gap <= LOSS_TOLERANCE
    print(f"\ntargets {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
