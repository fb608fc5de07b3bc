"""Configuration of ``nt eval``: the model's engine, the benchmarks, modes, seeds, thinking budgets and decoding.

Presets fill what the user did not set (an explicit value always wins):

- ``paper``: the paper's benchmarks (GPQA-Diamond, MATH-500, MMLU-Pro, SuperGPQA) and repeats (24, 16, 1, 1);
- ``qwen``: the paper's decoding for Qwen students (temperature 0.7, top-p 1.0) instead of Llama's (0.6, 0.95).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from naturalthoughts.config import VOLATILE, StrictModel
from naturalthoughts.engines.config import EngineConfig, LlamaCppEngineConfig
from naturalthoughts.text.modes import Mode

Preset = Literal["paper", "qwen"]
PAPER_BENCHMARKS = ["gpqa_diamond", "math500", "mmlu_pro", "supergpqa"]
PAPER_REPEATS = {"gpqa_diamond": 24, "math500": 16, "mmlu_pro": 1, "supergpqa": 1}
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"benchmarks": PAPER_BENCHMARKS, "repeats": PAPER_REPEATS},
    "qwen": {"temperature": 0.7, "top_p": 1.0},
}
DEFAULT_BENCHMARKS = ["gpqa_diamond", "math500"]
TASK_PREFIX, TASK_BENCHMARK = "reasoning-gym:", "reasoning_gym"  # generated held-out items (naturalthoughts.text.tasks)


class EvalConfig(StrictModel):
    """Everything ``nt eval`` needs besides the run (or output) directory and the model's name."""

    engine: EngineConfig = Field(
        default_factory=LlamaCppEngineConfig, description="The evaluated model (see docs/engines.md)."
    )
    benchmarks: list[str] = Field(
        default_factory=lambda: list(DEFAULT_BENCHMARKS),
        description="Benchmark names (naturalthoughts.benchmarks.REGISTRY); reasoning-gym:TASK[,TASK...]:N[:SEED] "
        "for generated reasoning-gym items graded by the tasks' own scorers.",
    )
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="File or hf:ID per benchmark that needs one (mmlu_pro, supergpqa, open_ended) or accepts one.",
    )
    modes: list[Mode] = Field(default_factory=lambda: ["think"], description="think | no-think | adaptive.")
    seeds: int | None = Field(
        default=None, ge=1, description="Samples per item, every benchmark (overrides repeats); None: repeats, else 1."
    )
    seed: int = Field(default=0, description="The first seed; sample i of an item uses seed + i.")
    repeats: dict[str, int] = Field(default_factory=dict, description="Samples per item, per benchmark.")
    limit: int | None = Field(
        default=None, ge=1, description="At most this many items per benchmark (a fixed, spread-out subset)."
    )
    think_budgets: list[int] = Field(
        default_factory=list,
        description="Thinking budgets in tokens: each closes the reasoning at N tokens, then asks for the answer "
        "(think and adaptive modes). Empty: no budget.",
    )
    preset: list[Preset] = Field(default_factory=list, description="paper (benchmarks, repeats), qwen (decoding).")
    temperature: float = Field(default=0.6, ge=0, description="The paper's 0.6 (Llama students).")
    top_p: float = Field(default=0.95, gt=0, le=1, description="The paper's 0.95 (Llama students).")
    max_tokens: int = Field(
        default=16384, ge=1, description="New tokens per sample (the paper's 16,384); clamped to a llama.cpp slot."
    )
    instruction: bool = Field(default=True, description="Send the mode's instruction as the system turn.")
    prefill: bool = Field(
        default=True, description="Start the assistant turn with the mode's prefill (<think> / the empty block)."
    )
    mmlu_pro_official: bool = Field(
        default=False, description="MMLU-Pro: the official prompt and extraction cascade (guess reported apart)."
    )
    simple_evals: bool = Field(
        default=False,
        description="Multiple-choice benchmarks: simple-evals' strict reading (the first 'Answer: X', case-sensitive "
        "letter), which reproduces simple-evals' published GPQA numbers; default: the project's reading.",
    )
    judge: EngineConfig | None = Field(default=None, description="The judge model for open-ended questions.")
    judge_max_tokens: int = Field(default=64, ge=8, description='Tokens for one verdict ({"correct": ...}).')
    tokenizer: str | None = Field(
        default=None,
        description="Count reasoning and answer tokens with this tokenizer (smollm2, approx, an HF folder or id); "
        "None: the server's completion count, split between reasoning and answer by character share.",
    )
    contamination_ngram: int = Field(default=13, ge=1, description="Word n-gram length of the contamination check.")
    chunk_size: int = Field(
        default=256, ge=1, description="Samples sent and written per step (memory bound).", json_schema_extra=VOLATILE
    )
    concurrency: int | None = Field(
        default=None, ge=1, description="Requests in flight; overrides the engine's.", json_schema_extra=VOLATILE
    )
    progress: bool = Field(default=True, description="Show progress (stderr).", json_schema_extra=VOLATILE)

    @model_validator(mode="before")
    @classmethod
    def _apply_presets(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("preset"):
            return data
        presets = data["preset"] if isinstance(data["preset"], list) else [data["preset"]]
        filled = dict(data)
        for name in presets:
            for key, value in PRESETS.get(name, {}).items():
                if key == "repeats":
                    filled["repeats"] = {**value, **(data.get("repeats") or {})}
                else:
                    filled.setdefault(key, value)
        return filled

    @model_validator(mode="before")
    @classmethod
    def _generated_benchmarks(cls, data: Any) -> Any:
        """``reasoning-gym:TASKS:N[:SEED]`` in ``benchmarks`` is the ``reasoning_gym`` benchmark with that source."""
        if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
            return data
        names, sources = [], dict(data.get("sources") or {})
        for entry in data["benchmarks"]:
            if isinstance(entry, str) and entry.startswith(TASK_PREFIX):
                spec = entry.removeprefix(TASK_PREFIX)
                if sources.get(TASK_BENCHMARK, spec) != spec:
                    raise ValueError(f"two reasoning-gym specs ({sources[TASK_BENCHMARK]} and {spec}): give one")
                sources[TASK_BENCHMARK] = spec
                entry = TASK_BENCHMARK
            names.append(entry)
        return {**data, "benchmarks": list(dict.fromkeys(names)), "sources": sources}

    @field_validator("think_budgets")
    @classmethod
    def _budgets(cls, value: list[int]) -> list[int]:
        if any(budget < 1 for budget in value):
            raise ValueError("thinking budgets are token counts >= 1 (for no thinking at all, use mode no-think)")
        return sorted(dict.fromkeys(value))

    @field_validator("modes")
    @classmethod
    def _modes(cls, value: list[Mode]) -> list[Mode]:
        if not value:
            raise ValueError("give at least one mode")
        return list(dict.fromkeys(value))

    def repeats_of(self, benchmark: str) -> int:
        if self.seeds is not None:
            return self.seeds
        return self.repeats.get(benchmark, 1)

    def seeds_of(self, benchmark: str) -> list[int]:
        return [self.seed + i for i in range(self.repeats_of(benchmark))]
