"""Configuration of ``nt train``: two presets and every value they set, overridable one by one.

- ``paper``: the paper's recipe (section 6): full fine-tuning, AdamW with weight decay 0.1, a constant learning
  rate of 2e-5, no warm-up, epochs by subset size (10 for about 1k examples, 6 for about 10k, 8 for 100k and
  more), about 400k tokens per optimizer step (token-budget micro-batches and gradient accumulation), 16,384-token
  examples, bf16, gradient checkpointing. Unpublished details follow the project's notes: betas (0.9, 0.95),
  gradient clipping at 1.0.
- ``cpu-demo``: what trains the bundled SmolLM2-135M on a 2-core laptop in a few minutes: LoRA r=16 on every
  linear layer, learning rate 2e-4 (constant), one epoch, 1,024-token examples, 4,096 tokens per step, bf16 when
  the CPU has it, no gradient checkpointing (it costs speed and saves nothing that matters at this size).

A preset fills every field the user did not set: ``TrainConfig(preset="paper", method="lora")`` is the paper's
recipe with LoRA. The manifest records the resolved values.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from naturalthoughts.config import VOLATILE, StrictModel

Preset = Literal["paper", "cpu-demo"]
DEFAULT_PRESET: Preset = "cpu-demo"

# AdamW as the paper trained (weight decay 0.1, constant schedule, no warm-up); betas and clipping are our choice.
OPTIMIZER: dict[str, Any] = {
    "lr_scheduler": "constant",
    "warmup_ratio": 0.0,
    "weight_decay": 0.1,
    "adam_beta1": 0.9,
    "adam_beta2": 0.95,
    "max_grad_norm": 1.0,
    "precision": "auto",
}

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        **OPTIMIZER,
        "method": "full",
        "learning_rate": 2e-5,
        "epochs": "auto",
        "max_length": 16384,
        "tokens_per_step": 400_000,
        "tokens_per_micro_batch": 32_768,
        "gradient_checkpointing": True,
    },
    "cpu-demo": {
        **OPTIMIZER,
        "method": "lora",
        "lora_r": 16,
        "lora_alpha": 32,
        # No dropout: on a CPU its random masks took a quarter of a LoRA step of the bundled student (23 of 107 s on
        # the default's training, benchmarks/README.md). Set lora_dropout for its regularisation at that price.
        "lora_dropout": 0.0,
        "learning_rate": 2e-4,
        "epochs": 1,
        "max_length": 1024,
        "tokens_per_step": 4096,
        "tokens_per_micro_batch": 4096,
        "gradient_checkpointing": False,
    },
}

# The paper's epochs by subset size; the boundaries are the geometric midpoints of 1k, 10k and 100k.
PAPER_EPOCHS = ((3_163, 10), (31_623, 6), (math.inf, 8))


def paper_epochs(examples: int) -> int:
    """10 epochs for about 1k examples, 6 for about 10k, 8 for 100k and more (the paper's table)."""
    return next(epochs for bound, epochs in PAPER_EPOCHS if examples < bound)


class TrainConfig(StrictModel):
    preset: Preset = Field(DEFAULT_PRESET, description="paper | cpu-demo: fills every value not set explicitly")
    student: str | None = Field(None, description="student model folder or Hub id; None: bundled SmolLM2-135M")
    method: Literal["lora", "full"] = Field("lora", description="LoRA adapters (PEFT) or full fine-tuning")
    lora_r: int = Field(16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha (scale = alpha / r)")
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, description="LoRA dropout (cpu-demo: 0)")
    lora_target_modules: list[str] | Literal["all-linear"] = Field("all-linear", description="modules with adapters")
    learning_rate: float = Field(2e-4, gt=0)
    lr_scheduler: Literal["constant", "cosine", "linear"] = Field("constant", description="learning-rate schedule")
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.1, ge=0.0)
    adam_beta1: float = Field(0.9, gt=0.0, lt=1.0)
    adam_beta2: float = Field(0.95, gt=0.0, lt=1.0)
    max_grad_norm: float = Field(1.0, ge=0.0, description="gradient clipping (0 = none)")
    epochs: int | Literal["auto"] = Field(1, description="passes over the data; auto: the paper's rule by size")
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps (overrides epochs)")
    max_length: int = Field(1024, ge=16, description="longest example in tokens (longer ones are dropped)")
    tokens_per_step: int = Field(4096, ge=1, description="tokens per optimizer step, over devices and accumulation")
    tokens_per_micro_batch: int = Field(4096, ge=16, description="tokens per forward pass on one device")
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field("auto", description="auto: bf16 where supported")
    gradient_checkpointing: bool = Field(False, description="recompute activations (saves memory, costs time)")
    attn_implementation: str = Field("sdpa", description="sdpa | eager | flash_attention_2 | ...")
    seed: int = Field(0, ge=0, description="seed of initialisation, batching and dropout")
    logging_steps: int = Field(1, ge=1, description="log the loss every N steps", json_schema_extra=VOLATILE)
    save_steps: int = Field(
        50, ge=1, description="checkpoint every N steps (an interrupted run resumes there)", json_schema_extra=VOLATILE
    )
    save_total_limit: int = Field(2, ge=1, description="checkpoints kept while training", json_schema_extra=VOLATILE)
    keep_checkpoints: bool = Field(
        False, description="keep the checkpoints after a successful run", json_schema_extra=VOLATILE
    )
    merge: bool = Field(True, description="LoRA: also write the merged weights (needed for GGUF export and eval)")

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        preset = data.get("preset", DEFAULT_PRESET)
        return {**PRESETS.get(preset, {}), **{k: v for k, v in data.items() if v is not None or k == "student"}}

    @model_validator(mode="after")
    def _micro_batch_holds_an_example(self) -> TrainConfig:
        if self.tokens_per_micro_batch < self.max_length:
            raise ValueError(
                f"tokens_per_micro_batch ({self.tokens_per_micro_batch}) must be at least max_length "
                f"({self.max_length}): the longest example must fit in one micro-batch"
            )
        return self

    def resolved_epochs(self, examples: int) -> int:
        return paper_epochs(examples) if self.epochs == "auto" else int(self.epochs)

    def accumulation(self, world_size: int) -> int:
        """Micro-batches per optimizer step on each device for about ``tokens_per_step`` tokens per step."""
        return max(1, math.ceil(self.tokens_per_step / (self.tokens_per_micro_batch * world_size)))

    def micro_batch_tokens(self, world_size: int) -> int:
        """The token budget of one micro-batch: ``tokens_per_micro_batch`` at most, less when that lets a step hold
        about ``tokens_per_step`` (8 GPUs, paper preset: 2 x 8 micro-batches of 25,000 tokens = 400,000), never
        less than ``max_length`` (one example must fit)."""
        even_share = math.ceil(self.tokens_per_step / (world_size * self.accumulation(world_size)))
        return max(self.max_length, min(self.tokens_per_micro_batch, even_share))

    def precision_for(self, device: str) -> str:
        if self.precision != "auto":
            return self.precision
        from naturalthoughts.resources import bf16_native

        return "bf16" if bf16_native(device) else "fp32"
