"""Synthetic run directories for the select tests: real Parquet files with the real schemas.

Each test builds the pool its method's defining property needs; columns not given are null (annotations)
or plain defaults (traces). Imported by the ``test_select*.py`` files; holds no tests itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import ANNOTATIONS, QUESTIONS, TRACES, embeddings_schema

STRATEGY_NAMES = [f"s{i}" for i in range(12)]


def _column(schema: pa.Schema, name: str, values: Any, n: int) -> pa.Array:
    typ = schema.field(name).type
    if values is None:
        return pa.nulls(n, typ)
    if np.isscalar(values):
        values = [values] * n
    return pa.array(values, type=typ)


def _table(schema: pa.Schema, n: int, given: dict[str, Any]) -> pa.Table:
    unknown = set(given) - set(schema.names)
    assert not unknown, unknown
    return pa.Table.from_arrays([_column(schema, f.name, given.get(f.name), n) for f in schema], schema=schema)


def write_pool(
    run: RunDir,
    n: int,
    *,
    traces: dict[str, Any] | None = None,
    annotations: dict[str, Any] | None = None,
    reference_answer: Any = None,
    embeddings: np.ndarray | None = None,
) -> list[str]:
    """Write traces (and annotations, questions, embeddings when given) for ``n`` traces; return trace ids."""
    trace_ids = [f"t{i:07d}" for i in range(n)]
    question_ids = [f"q{i:07d}" for i in range(n)]
    base = {"trace_id": trace_ids, "question_id": question_ids, "sample": 0, "teacher": "test:teacher"}
    trace_cols = {"complete": True, "finish_reason": "stop", "reasoning_tokens": 1000, "answer_tokens": 50}
    trace_cols |= traces or {}
    pq.write_table(_table(TRACES, n, base | trace_cols), run.traces)
    if annotations is not None:
        ann = {"trace_id": trace_ids, "question_id": question_ids} | annotations
        pq.write_table(_table(ANNOTATIONS, n, ann), run.annotations)
    if reference_answer is not None:
        questions = {"id": question_ids, "question": [f"question {i}?" for i in range(n)]}
        pq.write_table(_table(QUESTIONS, n, questions | {"reference_answer": reference_answer}), run.questions)
    if embeddings is not None:
        dim = embeddings.shape[1]
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(embeddings.astype(np.float32).ravel()), dim)
        table = pa.Table.from_arrays(
            [pa.array(trace_ids), pa.array(question_ids), vectors], schema=embeddings_schema(dim)
        )
        pq.write_table(table, run.embeddings)
    return trace_ids


def strategy_lists(rng: np.random.Generator, counts: np.ndarray) -> list[list[str]]:
    """Random distinct strategy names, ``counts[i]`` of them for trace i."""
    return [sorted(rng.choice(STRATEGY_NAMES, size=int(c), replace=False).tolist()) for c in counts]
