"""Helpers for the annotate tests: real questions.parquet / traces.parquet files in a run directory."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any

import pyarrow as pa

from naturalthoughts.atomic import write_parquet
from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import QUESTIONS, TRACES


def qid(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_questions(run: RunDir, rows: list[dict[str, Any]]) -> None:
    full = [
        {
            "id": r.get("id") or qid(r["question"]),
            "question": r["question"],
            "reference_answer": r.get("reference_answer"),
            "source": r.get("source", "test"),
            "source_row": i + 1,
            "other_answer": r.get("other_answer"),
            "other_model": "test-model" if r.get("other_answer") else None,
            "domain": r.get("domain"),
        }
        for i, r in enumerate(rows)
    ]
    write_parquet(pa.Table.from_pylist(full, schema=QUESTIONS), run.questions)


def write_traces(run: RunDir, rows: list[dict[str, Any]]) -> None:
    full = [
        {
            "trace_id": r.get("trace_id") or f"t{i}",
            "question_id": r["question_id"],
            "sample": r.get("sample", 0),
            "teacher": "test:teacher",
            "reasoning": r.get("reasoning"),
            "answer": r.get("answer"),
            "finish_reason": "stop",
            "complete": r.get("answer") is not None,
            "error": None,
        }
        for i, r in enumerate(rows)
    ]
    write_parquet(pa.Table.from_pylist(full, schema=TRACES), run.traces)


def make_run(run: RunDir, items: list[dict[str, Any]]) -> None:
    """One question and one trace per item (keys: question, reasoning, answer, reference_answer, other_answer...)."""
    write_questions(run, items)
    write_traces(
        run,
        [
            {
                "trace_id": f"t{i}",
                "question_id": qid(it["question"]),
                "reasoning": it.get("reasoning"),
                "answer": it.get("answer"),
            }
            for i, it in enumerate(items)
        ],
    )


def builtin_sample() -> list[dict[str, Any]]:
    text = resources.files("naturalthoughts").joinpath("data/sample_questions.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    for row in rows:
        responses = row.get("responses") or []
        row["other_answer"] = responses[0]["response"] if responses else None
        row["reference_answer"] = row.get("reference_answer") or None
    return rows
