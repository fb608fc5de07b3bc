"""Configuration of the ingest stage (``nt ingest``; the ``ingest:`` section of a pipeline config)."""

from __future__ import annotations

from pydantic import Field, field_validator

from naturalthoughts.config import VOLATILE, StrictModel

DEFAULT_DECONTAMINATE = ["gpqa_diamond", "mmlu", "gsm8k", "aime2025", "math500"]


class ColumnMap(StrictModel):
    """Which source columns hold what. Defaults read the NaturalReasoning schema as is."""

    question: str = Field("question", description="column with the question text")
    answer: str = Field("reference_answer", description="column with the reference answer (may be empty)")
    responses: str = Field(
        "responses",
        description="column with another model's answer: a list of {response, response_model} (NaturalReasoning) "
        "or a plain string",
    )
    response_text_key: str = Field("response", description="key of the answer text inside each responses item")
    response_model_key: str = Field("response_model", description="key of the model name inside each responses item")
    response_model: str = Field(
        "response_model", description="column with the model name when `responses` holds plain strings"
    )
    domain: str = Field("domain", description="column with a domain label, if the source has one")

    def mapped(self) -> dict[str, str]:
        """``{field: source column}`` of the columns a source must have: the question column, and every other one
        the user named explicitly (a mistyped answer column must fail, not give null answers)."""
        fields = ["question", *(f for f in COLUMN_OPTIONS if f != "question" and f in self.model_fields_set)]
        return {f: getattr(self, f) for f in fields}


# The top-level columns a source can map, and the ingest option that names each.
COLUMN_OPTIONS = {
    "question": "question_col",
    "answer": "answer_col",
    "responses": "response_col",
    "response_model": "response_model_col",
    "domain": "domain_col",
}


class IngestConfig(StrictModel):
    columns: ColumnMap = Field(default_factory=ColumnMap)
    max_question_chars: int = Field(20_000, gt=0, description="longer questions are rejected as invalid")
    skip_bad: bool = Field(
        False, description="keep good rows and write bad ones to rejected.parquet instead of failing"
    )
    allow_empty: bool = Field(
        False, description="accept sources that leave no question (otherwise an error: nothing to generate for)"
    )
    batch_rows: int = Field(
        20_000, gt=0, description="rows per Arrow batch while streaming sources", json_schema_extra=VOLATILE
    )
    trace_batch_rows: int = Field(
        512,
        gt=0,
        description="responses per Arrow batch while streaming trace sources (R1 traces are ~16 kB each)",
        json_schema_extra=VOLATILE,
    )
    max_trace_tokens: int = Field(
        16384,
        gt=0,
        description="imported traces longer than this (reasoning + answer tokens) are incomplete, finish_reason "
        "length: the cap generated traces get from max_tokens (the paper's 16,384)",
    )

    near_dup: bool = Field(True, description="MinHash LSH near-duplicate detection")
    near_dup_threshold: float = Field(0.55, gt=0, lt=1, description="Jaccard similarity of word shingles")
    near_dup_shingle: int = Field(3, ge=1, description="words per shingle")
    near_dup_num_perm: int = Field(64, ge=16, le=1024, description="MinHash permutations (more = slower, sharper)")
    near_dup_seed: int = 1

    decontaminate: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DECONTAMINATE),
        description="benchmarks to decontaminate against: names, or name=PATH_OR_HF_ID for file-backed ones; "
        "empty list = off",
    )
    decontam_ngram: int = Field(13, ge=3, description="word n-gram size for benchmark overlap")
    decontam_min_shared: int = Field(1, ge=1, description="a question sharing this many n-grams is contaminated")

    @field_validator("decontaminate", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        """Accept the CLI's comma list; ``none`` turns decontamination off."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list) and [str(v).lower() for v in value] == ["none"]:
            return []
        return value

    def benchmark_sources(self) -> dict[str, str | None]:
        """``{benchmark name: file or hf id (None = bundled data)}`` from :attr:`decontaminate`."""
        out: dict[str, str | None] = {}
        for entry in self.decontaminate:
            name, _, source = entry.partition("=")
            out[name.strip()] = source.strip() or None
        return out
