"""The shipped accelerate configs load with accelerate, and nt train runs as a 2-process job on this CPU."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from test_sft_data import SELECTION, make_run

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "accelerate"


def _launch_env(name: str) -> tuple[object, dict[str, str]]:
    """What ``accelerate launch --config_file NAME`` resolves and exports to its processes (no process started)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import (
        prepare_deepspeed_cmd_env,
        prepare_multi_gpu_env,
        prepare_simple_launcher_cmd_env,
    )

    argv = ["--config_file", str(CONFIGS / name), "-m", "naturalthoughts", "train", "--run", "r", "--selection", "s"]
    args, defaults, from_config = _validate_launch_command(launch_command_parser().parse_args(argv))
    if args.use_deepspeed:  # as accelerate's launch_command does before deepspeed_launcher
        fields = list(defaults.deepspeed_config) + (["mixed_precision"] if from_config else [])
        args.deepspeed_fields_from_accelerate_config = ",".join(fields)
        return args, prepare_deepspeed_cmd_env(args)[1]
    if args.use_fsdp:
        return args, prepare_multi_gpu_env(args)
    return args, prepare_simple_launcher_cmd_env(args)[1]


def test_deepspeed_zero3_config_loads_with_accelerate() -> None:
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    config = load_config_from_file(str(CONFIGS / "deepspeed_zero3.yaml"))
    assert config.distributed_type == DistributedType.DEEPSPEED and config.deepspeed_config["zero_stage"] == 3
    args, env = _launch_env("deepspeed_zero3.yaml")
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true" and env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == "3"
    assert env["ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL"] == "true" and env["ACCELERATE_MIXED_PRECISION"] == "bf16"
    assert args.module and args.training_script == "naturalthoughts"


def test_fsdp_config_loads_and_builds_accelerates_fsdp_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    from accelerate.utils import FullyShardedDataParallelPlugin
    from torch.distributed.fsdp import StateDictType

    args, env = _launch_env("fsdp.yaml")
    assert env["ACCELERATE_USE_FSDP"] == "true" and args.num_processes == 8
    for key, value in env.items():
        if key.startswith(("FSDP_", "ACCELERATE_")):
            monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()  # what the processes build from that environment
    assert plugin.fsdp_version == 2 and plugin.state_dict_type == StateDictType.FULL_STATE_DICT
    assert plugin.reshard_after_forward is True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# accelerate's multi-GPU / FSDP launcher is torch.distributed.run driven by a namespace (the script's own options are
# never parsed by it: torchrun's command line would take nt's --run for its own --run-path)
LAUNCHER = """
import sys
from torch.distributed import run
parser = run.get_args_parser()
args = parser.parse_args(["--nproc_per_node", "2", "--master_port", sys.argv[1], "-m", "naturalthoughts"])
args.training_script_args = sys.argv[2:]
run.run(args)
"""


@pytest.mark.slow
def test_nt_train_runs_as_two_processes_on_the_cpu_like_a_multi_gpu_launch(
    tmp_path: Path, tiny_llama_dir: Path
) -> None:
    """The distributed code path (rank 0 owns the run directory, the decision is broadcast, data parallel over
    gloo). FSDP and DeepSpeed themselves need GPUs: accelerate runs CPU processes as MULTI_CPU (DDP)."""
    run = make_run(tmp_path / "run", n=6)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NT_PROGRESS": "lines"}
    options = ["train", "--run", str(run.root), "--selection", SELECTION, "--student", str(tiny_llama_dir), "--full",
               "--max-steps", "2", "--max-length", "512", "--tokens-per-micro-batch", "512", "--tokens-per-step",
               "1024", "--precision", "fp32"]  # fmt: skip

    def launch() -> subprocess.CompletedProcess:
        command = [sys.executable, "-c", LAUNCHER, str(_free_port()), *options]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)

    done = launch()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "train: 2 steps" in done.stdout
    record = json.loads(run.manifest.read_text())["stages"][f"train:{SELECTION}"][-1]
    assert record["status"] == "done" and record["result"]["world_size"] == 2
    assert record["result"]["distributed"] == "MULTI_CPU"
    # one optimizer step = one micro-batch on each of the two processes (1,024 tokens / (512 x 2))
    assert record["result"]["gradient_accumulation_steps"] == 1
    loss = pq.read_table(run.models_dir / SELECTION / "loss.parquet").to_pylist()
    assert [r["step"] for r in loss] == [1, 2] and loss[-1]["loss"] < loss[0]["loss"]
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(run.models_dir / SELECTION).config.num_hidden_layers == 2
    again = launch()  # up to date: the main process says so and every process ends
    assert again.returncode == 0 and "up to date" in again.stdout, again.stderr[-3000:]
