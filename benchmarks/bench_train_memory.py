"""Peak resident memory of `nt train` on the bundled student, per setting (a measurement, not a test).

    .venv/bin/python benchmarks/bench_train_memory.py --run RUN --sft NAME [--config PIPELINE.yaml]

Trains ``RUN``'s SFT set ``NAME`` (built by ``nt run`` or ``nt sft-data``) with the pipeline config's train section
(default: the bundled default), each setting in a fresh process that does nothing else, and prints the train
stage's ``peak_rss_mb`` (the manifest's) and its seconds: the config as it is, then with small logit tiles turned
off (TRL's own 4,096 x 32,768 tiles), then with gradient checkpointing on and off, then with half the tokens per
micro-batch (``--settings`` picks some).
The load average is printed beside each: seconds are comparable only on an idle machine; peaks barely depend on load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, sys
from naturalthoughts.pipeline import load_pipeline_config
from naturalthoughts.progress import Reporter
from naturalthoughts.runner import run_one
from naturalthoughts.train import trainer
from naturalthoughts.train.stage import TrainStage

run, sft, config_path, setting = sys.argv[1:5]
config = load_pipeline_config(config_path or None, run).train
if setting == "trl-tiles":
    trainer.small_logit_tiles = lambda: None
elif setting in ("checkpointing", "no-checkpointing"):
    config = config.model_copy(update={"gradient_checkpointing": setting == "checkpointing"})
elif setting == "half-micro-batch":
    config = config.model_copy(update={"tokens_per_micro_batch": config.tokens_per_micro_batch // 2})
run_one(TrainStage(config, sft=sft, name="bench-memory"), run, force=True, reporter=Reporter(mode="off"))
"""
SETTINGS = ("as configured", "trl-tiles", "checkpointing", "no-checkpointing", "half-micro-batch")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--sft", required=True)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=SETTINGS)
    args = parser.parse_args()
    env = {**os.environ, "NT_PROGRESS": "off", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    print(f"{'setting':<20}{'peak RSS MB':>12}{'seconds':>9}  load before -> after")
    for setting in args.settings:
        before = " ".join(f"{x:.2f}" for x in os.getloadavg())
        command = [sys.executable, "-c", CHILD, str(args.run), args.sft, str(args.config or ""), setting]
        subprocess.run(command, env=env, check=True)
        record = json.loads((args.run / "manifest.json").read_text())["stages"]["train:bench-memory"][-1]
        after = " ".join(f"{x:.2f}" for x in os.getloadavg())
        seconds = record.get("seconds") or record.get("usage", {}).get("seconds")
        shown = f"{seconds:9.1f}" if isinstance(seconds, int | float) else f"{'?':>9}"
        print(f"{setting:<20}{record.get('peak_rss_mb', 0):12.0f}{shown}  {before} -> {after}")
    shutil.rmtree(args.run / "models" / "bench-memory", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
