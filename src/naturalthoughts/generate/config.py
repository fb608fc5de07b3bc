"""Configuration of ``nt generate``: the teacher engine, sampling, prompt, budget, retry and executor."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from naturalthoughts.config import VOLATILE, StrictModel
from naturalthoughts.engines.config import EngineConfig, LlamaCppEngineConfig
from naturalthoughts.engines.thinking import ThinkingBudget

RetryKind = Literal["incomplete", "failed"]

# What the bundled SmolLM2-135M gets by default. Asked to think in tags it almost never closes </think> (2 of 143
# builtin:sample traces complete at 256 tokens), so its reasoning is pre-filled with <think>, cut at the budget and
# closed by the toolkit with the answer cue, and its answer gets a phase of its own that ends at the first blank
# line: left to run, a fifth of its answers ramble past 320 tokens. The same 256 tokens as the old default, split
# between the phases.
# Measured on builtin:sample (complete traces, time): see benchmarks/README.md, "thinking budget".
EMBEDDED_THINKING = ThinkingBudget(budget=128, answer_max_tokens=128, answer_cue="Final Answer:\n")
EMBEDDED_ANSWER_STOP = ("\n\n",)


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
    imported: Literal["refuse", "add"] = Field(
        default="refuse",
        description="When traces.parquet holds traces the ingest stage imported: 'refuse' (the default: "
        "generating would replace them) or 'add' (keep them and generate `samples` more per question, numbered "
        "after the imported ones).",
    )
    temperature: float = Field(default=0.6, ge=0, description="DeepSeek-R1's recommended 0.6.")
    top_p: float = Field(default=0.95, gt=0, le=1, description="DeepSeek-R1's recommended 0.95.")
    max_tokens: int = Field(
        default=16384,
        ge=1,
        description="Completion cap (the paper's 16,384). The embedded engine clamps it to its per-slot context.",
    )
    seed: int | None = Field(default=None, description="Base seed; sample i is sent seed + i. None: server's choice.")
    concurrency: int | None = Field(
        default=None,
        ge=1,
        description="Requests in flight; overrides the engine's own setting when given.",
        json_schema_extra=VOLATILE,
    )
    prompt_template: str = Field(
        default="auto",
        description="'r1' (the question is the user turn: for reasoning models), 'think-tags' (asks a "
        "non-reasoning model to think inside <think></think>, then answer), a path to a text file containing "
        "{question}, or 'auto' (think-tags for the embedded llamacpp engine, r1 otherwise).",
    )
    system_prompt: str | None = Field(default=None, description="Optional system turn before the user turn.")
    stop: list[str] | None = Field(
        default=None,
        description="Stop sequences (under a thinking budget they end the answer phase; the reasoning phase ends at "
        "the closing tag). None: a blank line for the embedded default with its default thinking budget (the "
        "small model's answer is its first paragraph), none for every other teacher.",
    )
    thinking: ThinkingBudget | None = Field(
        default=None,
        description="A thinking budget (s1-style budget forcing: the reasoning is cut at `budget` tokens, closed by "
        "the toolkit and answered in a second phase; traces it closed have forced = true). None (the default): on "
        f"for the bundled embedded model (budget {EMBEDDED_THINKING.budget}, answer "
        f"{EMBEDDED_THINKING.answer_max_tokens} tokens, within max_tokens, cue 'Final Answer:'), off for every other "
        "teacher (a model that reasons natively gets no budget). "
        "`thinking: {}` turns it off.",
    )
    price_input_per_million: float = Field(
        default=0.0, ge=0, description="USD per million prompt tokens.", json_schema_extra=VOLATILE
    )
    price_output_per_million: float = Field(
        default=0.0, ge=0, description="USD per million completion tokens.", json_schema_extra=VOLATILE
    )
    max_cost: float | None = Field(
        default=None,
        gt=0,
        description="Stop sending once this many USD are spent. Spend recorded by earlier stopped runs with the same "
        "config and budget counts too, so a rerun with the same budget sends nothing more; raise it to continue.",
        json_schema_extra=VOLATILE,
    )
    max_total_tokens: int | None = Field(
        default=None,
        gt=0,
        description="Stop sending once this many tokens (prompt + completion) are used; counted as max_cost is.",
        json_schema_extra=VOLATILE,
    )
    retry: list[RetryKind] = Field(
        default_factory=list,
        description="Regenerate only these rows of the existing traces.parquet and keep every other row: "
        "'incomplete' (cut at max_tokens, no closing tag, empty answer) and/or 'failed' (errors, not sent).",
    )
    chunk_size: int = Field(
        default=1024,
        ge=1,
        description="Requests answered and written to traces.parquet at a time: questions are read, sent and "
        "written a chunk at a time, so memory stays flat at any pool size.",
        json_schema_extra=VOLATILE,
    )
    failure_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="The stage fails (exit 7) when more than this share of the requests it sent failed, once at "
        "least failure_min_sent were sent; with fewer, only when every one failed. The traces are written first.",
        json_schema_extra=VOLATILE,
    )
    failure_min_sent: int = Field(default=5, ge=1, description="See failure_share.", json_schema_extra=VOLATILE)
    executor: Literal["local", "ray"] = Field(
        default="local", description="'ray' runs on a Ray cluster.", json_schema_extra=VOLATILE
    )
    ray: RayOptions = Field(default_factory=RayOptions, json_schema_extra=VOLATILE)
    progress: bool = Field(
        default=True,
        description="Show progress (generate() and estimate(); through the runner its reporter decides).",
        json_schema_extra=VOLATILE,
    )

    def embedded_default(self) -> bool:
        """Whether the bundled model runs with the thinking defaults made for it (no ``thinking`` given)."""
        return self.thinking is None and self.engine.serves_bundled_model()

    def thinking_budget(self, max_tokens: int | None = None) -> ThinkingBudget:
        """The thinking budget this run uses: ``thinking`` when given, else the default for the teacher.

        The embedded default is fitted into ``max_tokens`` (the completion cap after clamping): when its reasoning
        budget and answer limit add up to more, both shrink in proportion.
        """
        if self.thinking is not None:
            return self.thinking
        if not self.embedded_default():
            return ThinkingBudget()  # off: the teacher reasons in its own way
        cap = max_tokens if max_tokens is not None else self.max_tokens
        budget, answer = EMBEDDED_THINKING.budget or cap, EMBEDDED_THINKING.answer_max_tokens or cap
        if budget + answer > cap:
            budget = max(1, cap * budget // (budget + answer))
            answer = max(1, cap - budget)
        return EMBEDDED_THINKING.model_copy(update={"budget": budget, "answer_max_tokens": answer})

    def stop_sequences(self) -> tuple[str, ...]:
        """The stop sequences every request carries (see ``stop``)."""
        if self.stop is not None:
            return tuple(self.stop)
        return EMBEDDED_ANSWER_STOP if self.embedded_default() else ()
