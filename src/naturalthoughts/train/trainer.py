"""The trainer: TRL's ``SFTTrainer`` with token-budget batching, a resumable loss log and nt's progress.

What comes from TRL unchanged: tokenisation of prompt/completion rows with the student's own chat template, the
completion-only loss mask (the prompt and the mode instruction are masked; the assistant turn and its end-of-turn
tokens are trained: the stock SmolLM2 and Llama-3.1 templates have no ``{% generation %}`` markers, so
``assistant_only_loss`` cannot be used), padding-free batches (``padding_free=True``: the examples of a
micro-batch are concatenated with position ids restarting at each, so attention never crosses two examples), PEFT
LoRA, checkpoints and resume. What this module adds:

- :class:`~naturalthoughts.train.batching.TokenBudgetBatchSampler` in place of a fixed number of examples per
  batch (``get_train_dataloader``);
- ``elapsed_s`` and ``session`` in every log entry, so the loss log of a resumed run reads as one curve;
- callbacks: progress (steps, loss, tokens/s, ETA) and a graceful stop (finish the step, save a checkpoint).

The same code runs on one CPU and under ``accelerate launch`` (DeepSpeed ZeRO-3, FSDP): nothing here depends on
the number of processes except the micro-batch count, which is rounded to a multiple of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from torch.utils.data import DataLoader
from transformers import TrainerCallback
from trl import SFTConfig, SFTTrainer

from naturalthoughts.train.batching import TokenBudgetBatchSampler
from naturalthoughts.train.config import TrainConfig


class NTTrainer(SFTTrainer):
    """``SFTTrainer`` whose training batches hold about ``tokens_per_micro_batch`` tokens each."""

    def __init__(self, *args: Any, tokens_per_micro_batch: int, session: int = 0, **kwargs: Any) -> None:
        self.tokens_per_micro_batch = tokens_per_micro_batch
        self.session = session
        self.elapsed_before = 0.0
        self._started = time.monotonic()
        super().__init__(*args, **kwargs)

    def get_train_dataloader(self) -> DataLoader:
        dataset = self._remove_unused_columns(self.train_dataset, description="Training")
        lengths = [len(ids) for ids in dataset["input_ids"]]
        sampler = TokenBudgetBatchSampler(
            lengths, self.tokens_per_micro_batch, seed=self.args.seed, multiple_of=self.args.world_size
        )
        loader = DataLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
        )
        return self.accelerator.prepare(loader)

    def continue_token_count(self, tokens: int) -> None:
        """Start TRL's running ``num_tokens`` at ``tokens`` (a resumed run continues its count, like its steps)."""
        if hasattr(self, "_total_train_tokens"):
            self._total_train_tokens = tokens

    def train(self, *args: Any, **kwargs: Any) -> Any:
        self._started = time.monotonic()
        return super().train(*args, **kwargs)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:
            logs["elapsed_s"] = round(self.elapsed_before + time.monotonic() - self._started, 3)
            logs["session"] = self.session
        super().log(logs, start_time)


class ProgressCallback(TrainerCallback):
    """Feeds an nt progress task: one tick per optimizer step, loss and non-pad tokens/s as the statistics."""

    def __init__(self, task: Any, first_step: int) -> None:
        self.task = task
        self.first_step = first_step
        self.last: tuple[float, float] | None = None  # (time, cumulative tokens) at the previous log
        self.tokens_per_s: float | None = None

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.task.update(completed=state.global_step - self.first_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs or "loss" not in logs:
            return
        now, tokens = time.monotonic(), float(logs.get("num_tokens", 0.0))
        if self.last is not None and now > self.last[0]:
            self.tokens_per_s = (tokens - self.last[1]) / (now - self.last[0])
        self.last = (now, tokens)
        rate = f" · {self.tokens_per_s:,.0f} tok/s" if self.tokens_per_s is not None else ""
        self.task.update(completed=state.global_step - self.first_step, stats=f"loss {logs['loss']:.4f}{rate}")


class TrimHeapCallback(TrainerCallback):
    """Trims the heap after every optimizer step (:func:`naturalthoughts.resources.trim_heap`): on CPU, batches of
    changing lengths grow the resident size step by step (the default's 16 steps: 1.43 -> 2.32 GB; with the trim a
    2.18 GB peak, at no measurable cost in time)."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        from naturalthoughts.resources import trim_heap

        trim_heap()


class StopCallback(TrainerCallback):
    """When ``should_stop()`` turns true: finish the optimizer step, save a checkpoint, stop training."""

    def __init__(self, should_stop: Callable[[], bool]) -> None:
        self.should_stop = should_stop
        self.stopped_at: int | None = None

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.should_stop():
            control.should_save = True
            control.should_training_stop = True
            self.stopped_at = state.global_step


def weights_dtype(config: TrainConfig, precision: str) -> str:
    """The dtype the student's weights are loaded in: float32 master weights for full fine-tuning (bf16/fp16 run as
    autocast on top); for LoRA in bf16 the frozen base is bf16 itself (the adapters stay float32, PEFT's default), which
    saves the float32 copy and the per-step casts: 0.5 GB less and faster on the default's CPU student
    (benchmarks/README.md). The merge reloads the base in its stored dtype (:func:`stage.merge_adapter`)."""
    return "bfloat16" if config.method == "lora" and precision == "bf16" else "float32"


def sft_config(config: TrainConfig, output_dir: str, precision: str, examples: int, world_size: int) -> SFTConfig:
    """TRL's config for ``config``: the values nt decides (padding-free, no TRL truncation, ...) in one place."""
    return SFTConfig(
        output_dir=output_dir,
        seed=config.seed,
        data_seed=config.seed,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of the total steps
        weight_decay=config.weight_decay,
        adam_beta1=config.adam_beta1,
        adam_beta2=config.adam_beta2,
        max_grad_norm=config.max_grad_norm,
        optim="adamw_torch",
        num_train_epochs=config.resolved_epochs(examples),
        max_steps=config.max_steps or -1,
        gradient_accumulation_steps=config.accumulation(world_size),
        per_device_train_batch_size=1,  # unused: the token-budget sampler decides the batches
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=_on_cpu(),
        activation_checkpointing=config.gradient_checkpointing,
        padding_free=True,
        max_length=None,  # the SFT data already dropped what does not fit: TRL must not truncate anything
        completion_only_loss=True,
        model_init_kwargs={
            "dtype": weights_dtype(config, precision),
            "attn_implementation": config.attn_implementation,
        },
        logging_steps=config.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        report_to=[],
        disable_tqdm=True,
        dataset_num_proc=None,
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,  # every trained parameter gets a gradient (saves a graph traversal)
        include_num_input_tokens_seen="no",  # TRL logs num_tokens itself; "non_padding" miscounts when pad == eos
    )


# TRL's fused LM head scores [tokens, vocabulary] tiles of at most 4,096 x 32,768 logits; on a CPU (no Triton) each
# tile is folded with whole-tile torch ops, several float32 copies of it at once (a 1,024-token micro-batch: 128 MB
# a copy). Tiles of 512 x 8,192 hold 16 MB a copy; the loss and its gradient are the same sums, in smaller pieces.
CPU_TILE_TOKENS = 512
CPU_TILE_VOCABULARY = 8192


def small_logit_tiles() -> None:
    """Score the LM head in small tiles when training on a CPU (see CPU_TILE_TOKENS); no-op if TRL changed."""
    import importlib

    for module, name, value in (
        ("trl.kernels.chunked_logprob", "TOKEN_CHUNK_SIZE", CPU_TILE_TOKENS),
        ("trl.trainer.utils", "_CHUNKED_LOGPROB_CHUNK_SIZE", CPU_TILE_VOCABULARY),
    ):
        try:
            target = importlib.import_module(module)
        except ImportError:
            continue
        if isinstance(getattr(target, name, None), int):
            setattr(target, name, value)


def _on_cpu() -> bool:
    from naturalthoughts.train.hardware import device

    return device() == "cpu"


def lora_config(config: TrainConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_target_modules,
        task_type="CAUSAL_LM",
    )
