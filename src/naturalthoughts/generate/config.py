"""Configuration of ``nt generate``: the teacher engine, sampling, prompt, budget, retry and executor."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from naturalthoughts.config import StrictModel
from naturalthoughts.engines.config import EngineConfig, LlamaCppEngineConfig

RetryKind = Literal["incomplete", "failed"]


class RayOptions(StrictModel):
    """How ``executor: ray`` spreads the pool over a Ray cluster (Ray Data ``map_batches`` with an actor pool)."""

    address: str | None = Field(
        default=None, description="Ray cluster address ('auto', 'ray://host:10001'); None starts a local instance."
    )
    workers: int = Field(default=2, ge=1, description="Actors, each holding its own engine (e.g. one per GPU).")
    num_cpus_per_worker: float = Field(default=1.0, ge=0)
    num_gpus_per_worker: float = Field(default=0.0, ge=0, description="1 for one vLLM engine per GPU.")
    batch_size: int = Field(
        default=16,
        ge=1,
        description="Requests per Ray Data batch. Results reach the cache when their batch returns, so a killed "
        "run resends at most workers x batch_size requests.",
    )
    num_cpus_local: int | None = Field(default=None, ge=1, description="CPUs for a local instance (address None).")


class GenerateConfig(StrictModel):
    """Everything ``nt generate`` needs besides the run directory."""

    engine: EngineConfig = Field(default_factory=LlamaCppEngineConfig, description="The teacher (see docs/engines.md).")
    samples: int = Field(default=1, ge=1, description="Responses per question.")
    temperature: float = Field(default=0.6, ge=0, description="DeepSeek-R1's recommended 0.6.")
    top_p: float = Field(default=0.95, gt=0, le=1, description="DeepSeek-R1's recommended 0.95.")
    max_tokens: int = Field(
        default=16384,
        ge=1,
        description="Completion cap (the paper's 16,384). The embedded engine clamps it to its per-slot context.",
    )
    seed: int | None = Field(default=None, description="Base seed; sample i is sent seed + i. None: server's choice.")
    concurrency: int | None = Field(
        default=None, ge=1, description="Requests in flight; overrides the engine's own setting when given."
    )
    prompt_template: str = Field(
        default="auto",
        description="'r1' (the question is the user turn: for reasoning models), 'think-tags' (asks a "
        "non-reasoning model to think inside <think></think>, then answer), a path to a text file containing "
        "{question}, or 'auto' (think-tags for the embedded llamacpp engine, r1 otherwise).",
    )
    system_prompt: str | None = Field(default=None, description="Optional system turn before the user turn.")
    price_input_per_million: float = Field(default=0.0, ge=0, description="USD per million prompt tokens.")
    price_output_per_million: float = Field(default=0.0, ge=0, description="USD per million completion tokens.")
    max_cost: float | None = Field(
        default=None, gt=0, description="Stop sending once this run has spent this many USD; a rerun resumes."
    )
    max_total_tokens: int | None = Field(
        default=None, gt=0, description="Stop sending once this run has used this many tokens (prompt + completion)."
    )
    retry: list[RetryKind] = Field(
        default_factory=list,
        description="Regenerate only these rows of the existing traces.parquet and keep every other row: "
        "'incomplete' (cut at max_tokens, no closing tag, empty answer) and/or 'failed' (errors, not sent).",
    )
    executor: Literal["local", "ray"] = Field(default="local", description="'ray' runs on a Ray cluster.")
    ray: RayOptions = Field(default_factory=RayOptions)
    progress: bool = Field(default=True, description="Show the live progress display (stderr).")
