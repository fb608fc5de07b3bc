"""Typed tables exchanged between stages through the run directory.

Each schema lists its columns with a one-line description in the field metadata; ``docs/architecture.md``
shows the same columns. Stages that add tables keep their schema here so one file answers
"what columns does X have?".
"""

from __future__ import annotations

import pyarrow as pa


def _f(name: str, typ: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, typ, nullable=nullable, metadata={"doc": doc})


QUESTIONS = pa.schema(
    [
        _f("id", pa.string(), "stable hash of the normalised question text", nullable=False),
        _f("question", pa.string(), "the question text", nullable=False),
        _f("reference_answer", pa.string(), "reference answer; null when the source has none"),
        _f("source", pa.string(), "where the row came from: a file path, hf:ID, builtin:sample, reasoning-gym:TASK"),
        _f("source_row", pa.int64(), "1-based line (JSONL/CSV) or row (Parquet/JSON array) in the source"),
        _f("other_answer", pa.string(), "another model's answer shipped with the source (models-disagree signal)"),
        _f("other_model", pa.string(), "the model that wrote other_answer"),
        _f("domain", pa.string(), "domain label carried by the source (builtin:sample), else null"),
    ]
)

REJECTED = pa.schema(
    [
        _f("source", pa.string(), "file or source id the row came from"),
        _f("source_row", pa.int64(), "1-based line or row in the source"),
        _f("kind", pa.string(), "invalid | duplicate | near_duplicate | contaminated"),
        _f("reason", pa.string(), "what is wrong, in words"),
        _f("question", pa.string(), "the question text when it could be read"),
        _f("matched", pa.string(), "kept question id (duplicates) or benchmark:item id (contaminated)"),
    ]
)

TRACES = pa.schema(
    [
        _f("trace_id", pa.string(), "hash of question_id, sample and teacher", nullable=False),
        _f("question_id", pa.string(), "questions.id", nullable=False),
        _f("sample", pa.int32(), "sample index (0..samples-1)", nullable=False),
        _f("teacher", pa.string(), "engine:model identity of the teacher"),
        _f("reasoning", pa.string(), "text inside <think>...</think> or the server's reasoning field"),
        _f("answer", pa.string(), "text after </think>"),
        _f("finish_reason", pa.string(), "stop | length | error | ..."),
        _f("complete", pa.bool_(), "closing tag present, finished by stop, non-empty answer"),
        _f("reasoning_tokens", pa.int64(), "tokens in the reasoning (teacher tokenizer or server count)"),
        _f("answer_tokens", pa.int64(), "tokens in the answer"),
        _f("prompt_tokens", pa.int64(), "prompt tokens reported by the server"),
        _f("latency_s", pa.float64(), "seconds from request to full response"),
        _f("error", pa.string(), "why the request failed; null on success"),
    ]
)

SELECTION = pa.schema(
    [
        _f("trace_id", pa.string(), "traces.trace_id", nullable=False),
        _f("rank", pa.int64(), "0-based order of selection (earlier = preferred)", nullable=False),
        _f("score", pa.float64(), "the method's score for this trace (higher = preferred); null if none"),
        _f("method", pa.string(), "the method (stage of the expression) that picked this trace"),
    ]
)


def empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


def describe(schema: pa.Schema) -> list[tuple[str, str, str]]:
    """(name, type, doc) for each column: used by docs and ``--help``."""
    return [(f.name, str(f.type), (f.metadata or {}).get(b"doc", b"").decode()) for f in schema]


STRATEGY_COUNT = pa.struct([pa.field("strategy", pa.string()), pa.field("count", pa.int32())])

# One row per trace. Columns of annotators that were not run are null. Every model-backed
# annotator writes a ``<name>_error`` column: null when it succeeded, else the reason it gave up.
ANNOTATIONS = pa.schema(
    [
        _f("trace_id", pa.string(), "traces.trace_id", nullable=False),
        _f("question_id", pa.string(), "questions.id", nullable=False),
        _f("domain", pa.string(), "one of the 13 SuperGPQA domains"),
        _f("field", pa.string(), "a field beneath the domain (naturalthoughts.annotate.taxonomy)"),
        _f("domain_method", pa.string(), "which annotator decided: llm:MODEL | zero-shot:EMBEDDER"),
        _f("domain_error", pa.string(), "why the domain is null"),
        _f("strategies", pa.list_(pa.string()), "distinct meta-reasoning strategies in the trace (docs/strategies.md)"),
        _f("strategy_counts", pa.list_(STRATEGY_COUNT), "each strategy with how often it occurs"),
        _f("n_strategies", pa.int32(), "number of distinct strategies"),
        _f("strategy_density", pa.float64(), "distinct strategies per 1,000 reasoning tokens"),
        _f("strategies_method", pa.string(), "lexical | llm:MODEL"),
        _f("strategies_error", pa.string(), "why strategies are null"),
        _f("verbosity", pa.float64(), "rambling score 0 (tight) .. 10 (rambling)"),
        _f("verbosity_method", pa.string(), "llm:MODEL | proxy:compression"),
        _f("verbosity_error", pa.string(), "why verbosity is null"),
        _f("reasoning_tokens", pa.int64(), "tokens in the reasoning, counted with `tokenizer`"),
        _f("answer_tokens", pa.int64(), "tokens in the answer, counted with `tokenizer`"),
        _f("tokenizer", pa.string(), "the tokenizer that counted the lengths"),
        _f("correct", pa.bool_(), "answer matches the reference; null when there is no reference"),
        _f("correct_method", pa.string(), "math-verify | exact | llm:MODEL"),
        _f("correct_error", pa.string(), "why correctness is null despite a reference"),
        _f("disagree", pa.bool_(), "the teacher's and the second model's final answers disagree"),
        _f("disagree_raw", pa.string(), "the judge's raw output"),
        _f("disagree_judge", pa.string(), "judge model identity"),
        _f("disagree_error", pa.string(), "why disagree is null"),
    ]
)


def embeddings_schema(dim: int) -> pa.Schema:
    """``embeddings.parquet``: one float32 vector per trace (of the question, or of the trace)."""
    return pa.schema(
        [
            _f("trace_id", pa.string(), "traces.trace_id", nullable=False),
            _f("question_id", pa.string(), "questions.id", nullable=False),
            _f("embedding", pa.list_(pa.float32(), dim), f"L2-normalised float32 vector, dim {dim}"),
        ],
        metadata={"model": "", "dim": str(dim)},
    )


# The tables as documented in docs/architecture.md (regenerate with `python -m naturalthoughts.tables`).
DOCUMENTED = {
    "questions.parquet": QUESTIONS,
    "rejected.parquet": REJECTED,
    "traces.parquet": TRACES,
    "annotations.parquet": ANNOTATIONS,
    "embeddings.parquet": embeddings_schema(384),
    "selections/NAME.parquet": SELECTION,
}


def markdown() -> str:
    """Markdown tables of every documented table's columns."""
    parts = []
    for filename, schema in DOCUMENTED.items():
        parts.append(f"#### `{filename}`\n\n| column | type | meaning |\n|---|---|---|")
        for name, typ, doc in describe(schema):
            cell = doc.replace("|", "\\|")  # a bare pipe would end the markdown cell
            parts.append(f"| `{name}` | `{typ}` | {cell} |")
        parts.append("")
    return "\n".join(parts)


if __name__ == "__main__":
    print(markdown())
