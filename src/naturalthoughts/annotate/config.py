"""Configuration of ``nt annotate``: which annotators run, each one's method, and the models they call."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from naturalthoughts.config import VOLATILE, StrictModel
from naturalthoughts.engines.config import EngineConfig, LlamaCppEngineConfig

ANNOTATOR_NAMES = (
    "length", "domain", "strategies", "verbosity", "correctness", "pass_rate", "disagree", "embeddings",
)  # fmt: skip

# Length tokenizers that are not a tokenizer name: the teacher's own (found from the run), the server's counts.
TEACHER_TOKENIZER = "teacher"
SERVER_COUNTS = "server"


def embedded_engine() -> LlamaCppEngineConfig:
    """The bundled SmolLM2-135M for annotators and judges: 4 slots of 4,096 tokens, room for a clipped trace plus
    the longest valid reply of any annotator's schema."""
    return LlamaCppEngineConfig(n_parallel=4, n_ctx=16384)


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
        default=TEACHER_TOKENIZER,
        description="teacher: the teacher's own tokenizer when the run names one that loads offline (the bundled "
        "GGUF's for the embedded teacher, a transformers/vLLM teacher's folder), else the server's counts; "
        "server: the server's completion_tokens from traces.parquet; smollm2; approx (characters / 4, for very "
        "large pools); or a Hugging Face tokenizer folder or Hub id.",
    )


class CorrectnessConfig(StrictModel):
    short_answer_max_words: int = Field(
        default=6, ge=1, description="References with at most this many words are graded by normalised exact match."
    )
    use_judge: bool = Field(default=True, description="Grade long references with the judge engine; else leave null.")
    source_flag: Literal["fallback", "prefer", "ignore"] = Field(
        default="fallback",
        description="Imported traces' own correctness flag (traces.source_correct): fallback fills rows this "
        "annotator cannot decide, prefer takes it wherever present, ignore leaves it; agreement is reported.",
    )


class DisagreeConfig(StrictModel):
    use_pool: bool = Field(
        default=True,
        description="Judge against the pool's other_answer (NaturalReasoning's Llama-3.3-70B response) where a row "
        "has one: the paper's cross-model signal.",
    )
    second_engine: EngineConfig | None = Field(
        default_factory=embedded_engine,
        description="Writes the second answer for rows without other_answer (null: pool only, those rows stay null). "
        "Default: the bundled SmolLM2-135M; when it is also the teacher this is self-disagreement, labelled "
        "`self:second-sample` in disagree_method.",
    )
    second_temperature: float = Field(default=1.0, ge=0, description="Sampling temperature of the second answer.")
    second_top_p: float = Field(default=0.95, gt=0, le=1)
    second_seed: int = Field(default=1, description="Seed of the second answer (another seed than the teacher's).")
    second_max_tokens: int = Field(
        default=48, ge=16, description="Cap on the second answer (it is asked for a one-sentence final answer)."
    )
    max_answer_chars: int = Field(
        default=1200, ge=100, description="Each final answer is shown to the judge as head + tail of this size."
    )
    checker: bool = Field(
        default=True,
        description="Decide with the one answer checker where the question has a reference it grades (a task "
        "scorer, a number, a formula, a choice, a short text) and both answers say something it reads: a right and a "
        "wrong answer differ, two right ones agree, two wrong ones are compared as read. The judge decides the rest "
        "(disagree_judge says which). false: the judge decides every row, as in the paper.",
    )


class EmbeddingsConfig(StrictModel):
    model: str | None = Field(
        default=None, description="sentence-transformers model folder or id; None = the bundled all-MiniLM-L6-v2."
    )
    of: Literal["question", "trace"] = Field(default="question", description="Embed the question or the reasoning.")
    batch_size: int = Field(default=64, ge=1)


class AnnotateConfig(StrictModel):
    annotators: list[str] = Field(
        default_factory=lambda: list(ANNOTATOR_NAMES), description="Annotators to run (the stage's `only` overrides)."
    )
    domain: DomainConfig = Field(default_factory=DomainConfig)
    strategies: StrategiesConfig = Field(default_factory=StrategiesConfig)
    verbosity: VerbosityConfig = Field(default_factory=VerbosityConfig)
    length: LengthConfig = Field(default_factory=LengthConfig)
    correctness: CorrectnessConfig = Field(default_factory=CorrectnessConfig)
    disagree: DisagreeConfig = Field(default_factory=DisagreeConfig)
    embeddings: EmbeddingsConfig = Field(default_factory=EmbeddingsConfig)
    annotator_engine: EngineConfig = Field(
        default_factory=embedded_engine,
        description="Model for the LLM annotators (domain, strategies, verbosity). Default: the embedded SmolLM2-135M.",
    )
    judge_engine: EngineConfig = Field(
        default_factory=embedded_engine,
        description="Judge for correctness of long answers and for models-disagree (paper: Llama-3.1-8B-Instruct).",
    )
    max_attempts: int = Field(default=3, ge=1, description="Tries per row when a model's reply is invalid.")
    verdicts: Literal["auto", "token", "schema"] = Field(
        default="schema",
        description="How yes/no judges (correctness, disagree) reply: 'token' pre-fills the JSON reply up to its "
        "verdict and constrains the rest to one token, true or false (falling back to 'schema' for a reply that is "
        "not one); 'schema' generates the whole schema-constrained JSON reply; 'auto' is 'token' on engines that "
        "constrain a reply to a few strings (the embedded llama.cpp), else 'schema'. The default stays 'schema': "
        "the bundled 135M judge's token verdicts agreed with its schema verdicts on 95.0% of the default pool's "
        "rows, below the 98% a drop-in needs (benchmarks/README.md).",
    )
    max_tokens: int | None = Field(
        default=None,
        ge=8,
        description="Completion budget of annotator and judge replies. Never below a reply schema's longest valid "
        "reply (a constrained reply cut short is unparseable); None = that longest reply plus a margin.",
    )
    max_input_chars: int = Field(
        default=6000,
        ge=200,
        description="Characters of trace text in one prompt (split between the parts of a judge prompt); longer "
        "texts are shown as head + tail.",
    )
    batch_rows: int = Field(
        default=4096, ge=1, description="Traces per Arrow batch (bounds memory).", json_schema_extra=VOLATILE
    )
