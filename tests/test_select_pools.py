"""Synthetic run directories for the select tests: real Parquet files with the real schemas.

Each test builds the pool its method's defining property needs; columns not given are null (annotations)
or plain defaults (traces). Imported by the ``test_select*.py`` files (and :func:`nt` by the ingest tests);
holds no tests itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from naturalthoughts.manifest import Manifest, fingerprint, new_record_id, now
from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import ANNOTATIONS, QUESTIONS, TRACES, embeddings_schema

STRATEGY_NAMES = [f"s{i}" for i in range(12)]
ANNOTATORS = ("length", "domain", "strategies", "verbosity", "correctness", "disagree", "embeddings")
CURRENT = "current"  # annotated_from: every annotator computed from the traces as written


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


def traces_digest(run: RunDir) -> str:
    """The digest the runner records for traces.parquet as it is now."""
    return str(fingerprint(run.traces)["sha256"])


def record_annotators(run: RunDir, computed_from: dict[str, str]) -> None:
    """Manifest records of annotate runs, as the runner writes them: each annotator's columns were computed from the
    traces.parquet whose digest ``computed_from`` gives (the newest record wins, as for real runs)."""
    manifest = Manifest(run.manifest)
    for digest in dict.fromkeys(computed_from.values()):
        names = [name for name, seen in computed_from.items() if seen == digest]
        manifest.put(
            {
                "id": new_record_id(),
                "stage": "annotate",
                "status": "done",
                "finished_at": now(),
                "inputs": {"traces.parquet": {"sha256": digest}},
                "annotators": {name: {} for name in names},
            }
        )


def write_pool(
    run: RunDir,
    n: int,
    *,
    traces: dict[str, Any] | None = None,
    annotations: dict[str, Any] | None = None,
    reference_answer: Any = None,
    embeddings: np.ndarray | None = None,
    annotated_from: dict[str, str] | str | None = CURRENT,
    embedded: str = "question",
) -> list[str]:
    """Write traces (and annotations, questions, embeddings when given) for ``n`` traces; return trace ids.

    ``annotated_from`` is what the manifest records as the traces each annotator saw: ``"current"`` (the traces
    just written), a ``{annotator: traces digest}`` mapping, or None (nothing recorded: no annotate record).
    ``embedded`` is what the embeddings are of (``question`` or ``trace``), as the embeddings annotator records.
    """
    trace_ids = [f"t{i:07d}" for i in range(n)]
    question_ids = [f"q{i:07d}" for i in range(n)]
    base = {"trace_id": trace_ids, "question_id": question_ids, "sample": 0, "teacher": "test:teacher"}
    trace_cols = {"complete": True, "finish_reason": "stop", "reasoning_tokens": 1000, "answer_tokens": 50}
    trace_cols |= traces or {}
    pq.write_table(_table(TRACES, n, base | trace_cols), run.traces)
    if annotated_from == CURRENT:
        annotated_from = dict.fromkeys(ANNOTATORS, traces_digest(run))
    if annotations is not None:
        ann = {"trace_id": trace_ids, "question_id": question_ids} | annotations
        table = _table(ANNOTATIONS, n, ann)
        pq.write_table(table, run.annotations)
        if annotated_from is not None:
            record_annotators(run, annotated_from)  # type: ignore[arg-type]
    if reference_answer is not None:
        questions = {"id": question_ids, "question": [f"question {i}?" for i in range(n)]}
        pq.write_table(_table(QUESTIONS, n, questions | {"reference_answer": reference_answer}), run.questions)
    if embeddings is not None:
        dim = embeddings.shape[1]
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(embeddings.astype(np.float32).ravel()), dim)
        schema = embeddings_schema(dim).with_metadata({"model": "test-embedder", "dim": str(dim), "of": embedded})
        table = pa.Table.from_arrays([pa.array(trace_ids), pa.array(question_ids), vectors], schema=schema)
        pq.write_table(table, run.embeddings)
    return trace_ids


def strategy_lists(rng: np.random.Generator, counts: np.ndarray) -> list[list[str]]:
    """Random distinct strategy names, ``counts[i]`` of them for trace i."""
    return [sorted(rng.choice(STRATEGY_NAMES, size=int(c), replace=False).tolist()) for c in counts]


def nt(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, as a user does (offline, no progress display)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NT_PROGRESS": "off"}
    return subprocess.run(
        [sys.executable, "-m", "naturalthoughts", *args], capture_output=True, text=True, env=env, timeout=120
    )
