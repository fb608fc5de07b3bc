"""Configuration of ``nt annotate``: which annotators run, each one's method, and the models they call."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from naturalthoughts.config import StrictModel
from naturalthoughts.engines.config import EngineConfig, LlamaCppEngineConfig

ANNOTATOR_NAMES = ("length", "domain", "strategies", "verbosity", "correctness", "disagree", "embeddings")


class DomainConfig(StrictModel):
    method: Literal["zero-shot", "llm"] = Field(
        default="zero-shot",
        description="zero-shot: nearest label description under the sentence-embedding model (no LLM); "
        "llm: the annotator engine answers JSON, validated against the closed label set.",
    )


class StrategiesConfig(StrictModel):
    method: Literal["lexical", "llm"] = Field(
        default="lexical", description="lexical: cue patterns (fast, any scale); llm: the annotator engine counts them."
    )
    workers: int = Field(default=2, ge=1, description="Threads for the lexical pass (pyarrow releases the GIL).")


class VerbosityConfig(StrictModel):
    method: Literal["proxy", "llm"] = Field(
        default="proxy",
        description="proxy: share of repeated word trigrams in the reasoning, scaled to 0-10; llm: a 0-10 judge score.",
    )


class LengthConfig(StrictModel):
    tokenizer: str = Field(
        default="smollm2",
        description="smollm2 (the bundled GGUF's tokenizer), approx (characters / 4, for very large pools), "
        "or a Hugging Face tokenizer folder or Hub id.",
    )


class CorrectnessConfig(StrictModel):
    short_answer_max_words: int = Field(
        default=6, ge=1, description="References with at most this many words are graded by normalised exact match."
    )
    use_judge: bool = Field(default=True, description="Grade long references with the judge engine; else leave null.")


class DisagreeConfig(StrictModel):
    second_engine: EngineConfig | None = Field(
        default=None,
        description="Engine that writes the second answer when the pool has no other_answer (null: use the pool only).",
    )
    second_max_tokens: int = Field(default=1024, ge=16)


class EmbeddingsConfig(StrictModel):
    model: str | None = Field(
        default=None, description="sentence-transformers model folder or id; None = the bundled all-MiniLM-L6-v2."
    )
    of: Literal["question", "trace"] = Field(default="question", description="Embed the question or the reasoning.")
    batch_size: int = Field(default=64, ge=1)


class AnnotateConfig(StrictModel):
    annotators: list[str] = Field(
        default_factory=lambda: list(ANNOTATOR_NAMES), description="Annotators to run (--only overrides)."
    )
    domain: DomainConfig = Field(default_factory=DomainConfig)
    strategies: StrategiesConfig = Field(default_factory=StrategiesConfig)
    verbosity: VerbosityConfig = Field(default_factory=VerbosityConfig)
    length: LengthConfig = Field(default_factory=LengthConfig)
    correctness: CorrectnessConfig = Field(default_factory=CorrectnessConfig)
    disagree: DisagreeConfig = Field(default_factory=DisagreeConfig)
    embeddings: EmbeddingsConfig = Field(default_factory=EmbeddingsConfig)
    annotator_engine: EngineConfig = Field(
        default_factory=LlamaCppEngineConfig,
        description="Model for the LLM annotators (domain, strategies, verbosity). Default: the embedded SmolLM2-135M.",
    )
    judge_engine: EngineConfig = Field(
        default_factory=LlamaCppEngineConfig,
        description="Judge for correctness of long answers and for models-disagree (paper: Llama-3.1-8B-Instruct).",
    )
    max_attempts: int = Field(default=3, ge=1, description="Tries per row when a model's reply is invalid.")
    max_tokens: int = Field(default=256, ge=8, description="Completion budget of annotator and judge replies.")
    max_input_chars: int = Field(
        default=6000, ge=200, description="Longer traces are shown to LLM annotators as head + tail of this size."
    )
    batch_rows: int = Field(default=4096, ge=1, description="Traces per Arrow batch (bounds memory).")
