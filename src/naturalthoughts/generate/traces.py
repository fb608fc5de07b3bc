"""Rows of ``traces.parquet``: one per (question, sample), a parsed response or a recorded error."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from naturalthoughts.atomic import write_parquet
from naturalthoughts.engines.base import NOT_SENT, ChatResult
from naturalthoughts.generate.parsing import parse_response, split_tokens
from naturalthoughts.generate.plan import Job
from naturalthoughts.tables import TRACES

STATUS_COMPLETE = "complete"
STATUS_INCOMPLETE = "incomplete"
STATUS_FAILED = "failed"


def trace_row(job: Job, teacher: str, result: ChatResult, not_sent_reason: str | None = None) -> dict[str, Any]:
    """The traces.parquet row for ``job`` answered by ``result`` (an error row when it failed or was not sent)."""
    row: dict[str, Any] = {
        "trace_id": job.trace_id,
        "question_id": job.question_id,
        "sample": job.sample,
        "teacher": teacher,
        "reasoning": None,
        "answer": None,
        "finish_reason": result.finish_reason,
        "complete": False,
        "reasoning_tokens": None,
        "answer_tokens": None,
        "prompt_tokens": result.prompt_tokens,
        "latency_s": result.latency_s,
        "error": result.error,
    }
    if result.error is not None:
        row["finish_reason"] = "not_sent" if result.error == NOT_SENT else "error"
        if result.error == NOT_SENT and not_sent_reason:
            row["error"] = f"not sent: {not_sent_reason}"
        return row
    parsed = parse_response(result.text, result.reasoning)
    reasoning_tokens, answer_tokens = split_tokens(result.completion_tokens, parsed.reasoning, parsed.answer)
    row.update(
        reasoning=parsed.reasoning,
        answer=parsed.answer,
        complete=parsed.complete(result.finish_reason),
        reasoning_tokens=reasoning_tokens,
        answer_tokens=answer_tokens,
    )
    return row


def row_status(row: dict[str, Any]) -> str:
    if row.get("error") is not None:
        return STATUS_FAILED
    return STATUS_COMPLETE if row.get("complete") else STATUS_INCOMPLETE


def read_rows(path: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """Existing traces.parquet rows keyed by (question_id, sample); empty when the file is absent."""
    if not path.exists():
        return {}
    return {(row["question_id"], row["sample"]): row for row in pq.ParquetFile(path).read().to_pylist()}


@dataclass
class TraceCounts:
    questions: int = 0
    rows: int = 0
    complete: int = 0
    incomplete: int = 0
    errors: int = 0
    not_sent: int = 0
    by_finish_reason: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {
            "questions": self.questions,
            "rows": self.rows,
            "complete": self.complete,
            "incomplete": self.incomplete,
            "errors": self.errors,
            "not_sent": self.not_sent,
        }


def count_rows(rows: Iterable[dict[str, Any]], questions: int) -> TraceCounts:
    counts = TraceCounts(questions=questions)
    for row in rows:
        counts.rows += 1
        status = row_status(row)
        if status == STATUS_COMPLETE:
            counts.complete += 1
        elif status == STATUS_INCOMPLETE:
            counts.incomplete += 1
        elif row.get("finish_reason") == "not_sent":
            counts.not_sent += 1
        else:
            counts.errors += 1
        reason = row.get("finish_reason") or "none"
        counts.by_finish_reason[reason] = counts.by_finish_reason.get(reason, 0) + 1
    return counts


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as a TRACES table, parsed from JSON lines by Arrow's C++ reader.

    ``pa.Table.from_pylist`` (and ``pa.array``) import pandas on first use (~0.2 s and ~40 MB), which a fully
    cached rerun cannot afford within its budget; the JSON reader does not.
    """
    if not rows:
        return TRACES.empty_table()
    lines = [json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n" for row in rows]
    block_size = max(1 << 20, max(len(line) for line in lines) + 1)  # a block must hold the longest row
    table = pj.read_json(
        io.BytesIO(b"".join(lines)),
        read_options=pj.ReadOptions(block_size=block_size),
        parse_options=pj.ParseOptions(explicit_schema=TRACES, unexpected_field_behavior="error"),
    )
    return table.cast(TRACES)  # restores the schema's nullability and column docs


def write_traces(rows: list[dict[str, Any]], path: Path) -> Path:
    return write_parquet(rows_to_table(rows), path)
