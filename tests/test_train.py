"""nt train: TRL SFTTrainer on the tiny random Llama (SmolLM2 tokenizer and chat template), for real."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from naturalthoughts.progress import quiet_reporter
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner
from naturalthoughts.sft import SftDataConfig, SftDataStage
from naturalthoughts.text import modes
from naturalthoughts.train import TrainConfig, TrainStage
from naturalthoughts.train.stage import prepare
from test_sft_data import SELECTION, make_run

FAST = {"logging_steps": 1, "save_steps": 2, "tokens_per_step": 512, "tokens_per_micro_batch": 512, "max_length": 512}


def _stages(student: Path, mix: str = "none", **train) -> list:
    sft = SftDataStage(SftDataConfig(mix=mix, max_length=512, student=str(student)), selection=SELECTION)
    config = TrainConfig(**{"preset": "cpu-demo", "student": str(student), **FAST, **train})
    return [sft, TrainStage(config, sft=sft.args["name"])]


def _run(run: RunDir, stages: list):
    with Runner(run, reporter=quiet_reporter()) as runner:
        return runner.run_all(stages)


def test_loss_mask_token_by_token_on_a_rendered_example(run_dir: RunDir, tiny_llama_dir: Path) -> None:
    make_run(run_dir.root, n=4)
    sft, train = _stages(tiny_llama_dir, mix="random:0.5", seed=1)
    _run(run_dir, [sft])
    prepared = prepare(train, run_dir)
    tokenizer = prepared.trainer.processing_class
    rows = pq.read_table(run_dir.sft_dir / sft.args["name"] / "train.parquet").to_pylist()
    dataset = prepared.trainer.train_dataset
    for row, example in zip(rows, dataset, strict=True):
        ids, labels = example["input_ids"], example["labels"]
        assert len(ids) == row["tokens"]  # TRL tokenises exactly as sft-data counted (nothing truncated)
        trained = [i for i, label in enumerate(labels) if label != -100]
        assert trained == list(range(trained[0], len(ids)))  # one contiguous trained span, to the end
        assert all(labels[i] == ids[i] for i in trained)
        prompt, completion = tokenizer.decode(ids[: trained[0]]), tokenizer.decode(ids[trained[0] :])
        instruction = modes.THINK_INSTRUCTION if row["mode"] == "system-2" else modes.NO_THINK_INSTRUCTION
        assert instruction in prompt and row["messages"][1]["content"] in prompt  # instruction and question masked
        assert prompt.endswith("<|im_start|>assistant\n")
        target = row["messages"][-1]["content"]
        assert completion == target + "<|im_end|>\n"  # reasoning, answer and the end-of-turn token are trained
        assert ids[trained[-2]] == tokenizer.convert_tokens_to_ids("<|im_end|>")
        assert len(trained) == row["completion_tokens"]


def test_a_few_steps_lower_the_loss_and_write_the_model_folder(run_dir: RunDir, tiny_llama_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    make_run(run_dir.root, n=4, repeat="The same reasoning every time, so the loss must fall.")
    stages = _stages(tiny_llama_dir, method="full", learning_rate=3e-3, max_steps=6, precision="fp32")
    outcomes = _run(run_dir, stages)
    folder = run_dir.models_dir / SELECTION
    loss = pq.read_table(folder / "loss.parquet").to_pylist()
    assert [r["step"] for r in loss] == [1, 2, 3, 4, 5, 6]
    assert loss[-1]["loss"] < loss[0]["loss"] - 0.5, loss
    assert all(r["tokens"] > 0 and r["session"] == 0 for r in loss)
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert model.config.num_hidden_layers == 2
    card = (folder / "README.md").read_text()
    training = json.loads((folder / "training.json").read_text())
    assert run_dir.traces_fingerprint() in card and "random" in card and "System-2 100.00%" in card
    assert training["hyperparameters"]["learning_rate"] == 3e-3 and training["result"]["steps"] == 6
    assert (folder / "loss.png").exists() and not (run_dir.root / "checkpoints" / SELECTION).exists()
    record = outcomes[1].record
    assert record["status"] == "done" and record["counts"]["steps"] == 6
    assert (
        _run(run_dir, _stages(tiny_llama_dir, method="full", learning_rate=3e-3, max_steps=6, precision="fp32"))[
            1
        ].status
        == "up-to-date"
    )


def _bf16() -> bool:
    from naturalthoughts.resources import bf16_native

    return bf16_native("cpu")


@pytest.mark.parametrize(
    ("checkpointing", "precision"),
    [
        (False, "fp32"),
        pytest.param(False, "bf16", marks=pytest.mark.skipif(not _bf16(), reason="no bf16 on this CPU")),
        pytest.param(True, "bf16", marks=pytest.mark.skipif(not _bf16(), reason="no bf16 on this CPU")),
    ],
    ids=["fp32", "bf16", "bf16-gradient-checkpointing"],
)
def test_lora_writes_the_adapter_and_merged_weights(
    run_dir: RunDir, tiny_llama_dir: Path, checkpointing: bool, precision: str
) -> None:
    """In fp32 the merge is made in place from the trained model (no second copy loaded); in bf16 the frozen base is
    held in bf16 and the deltas go into the stored float32 weights (not bf16-rounded ones: the logits below would
    differ by more than 1e-4); with gradient checkpointing (the default config's) the LoRA weights still get their
    gradients."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    make_run(run_dir.root, n=4)
    train = {"method": "lora", "learning_rate": 1e-2, "max_steps": 3, "lora_r": 4, "lora_alpha": 8}
    _run(run_dir, _stages(tiny_llama_dir, gradient_checkpointing=checkpointing, precision=precision, **train))
    folder = run_dir.models_dir / SELECTION
    assert (folder / "adapter" / "adapter_config.json").exists()
    assert json.loads((folder / "config.json").read_text())["dtype"] == "float32"  # the stored dtype, both ways
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    merged = AutoModelForCausalLM.from_pretrained(folder).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    with_adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama_dir), folder / "adapter")
    with torch.no_grad():
        merged_logits, base_logits = merged(ids).logits, base(ids).logits
        adapter_logits = with_adapter.eval()(ids).logits
    assert not torch.allclose(merged_logits, base_logits, atol=1e-4)  # training changed the model
    assert torch.allclose(merged_logits, adapter_logits, atol=1e-4)  # the merge is base + adapter


@pytest.mark.slow
def test_an_interrupted_run_resumes_from_its_checkpoint_and_continues_the_step_count(
    run_dir: RunDir, tiny_llama_dir: Path
) -> None:
    make_run(run_dir.root, n=8)
    stages = lambda: _stages(tiny_llama_dir, method="full", max_steps=12, save_steps=2)  # noqa: E731
    checkpoint = run_dir.root / "checkpoints" / SELECTION / "checkpoint-2"

    def interrupt_after_first_checkpoint() -> None:
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: finish the step, save a checkpoint, stop

    watcher = threading.Thread(target=interrupt_after_first_checkpoint, daemon=True)
    watcher.start()
    with pytest.raises(KeyboardInterrupt):
        _run(run_dir, stages())
    watcher.join()
    records = json.loads(run_dir.manifest.read_text())["stages"][f"train:{SELECTION}"]
    assert records[-1]["status"] == "interrupted"
    saved = sorted(int(p.name.split("-")[1]) for p in checkpoint.parent.glob("checkpoint-*"))
    stopped_at = saved[-1]
    assert 2 <= stopped_at < 12 and not (run_dir.models_dir / SELECTION).exists()
    outcome = _run(run_dir, stages())[1]
    result = outcome.result.value
    assert result["resumed_from_step"] == stopped_at and result["steps"] == 12
    loss = pq.read_table(run_dir.models_dir / SELECTION / "loss.parquet").to_pylist()
    assert [r["step"] for r in loss] == list(range(1, 13))  # one curve: the first session's steps, then the rest
    assert {r["session"] for r in loss if r["step"] <= stopped_at} == {0}
    assert {r["session"] for r in loss if r["step"] > stopped_at} == {1}
    tokens = [r["tokens"] for r in loss]
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)  # the token count continues too
