"""Rows of ``traces.parquet``: one per (question, sample), a parsed response or a recorded error.

Rows are built and written a chunk at a time (:func:`rows_to_table`, then a streaming Parquet writer); an
earlier file is read back only through :class:`ExistingTraces`, which loads the few columns ``--retry`` decides
on and fetches whole rows one row group at a time.
"""

from __future__ import annotations

import array
import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.atomic import write_parquet
from naturalthoughts.engines.base import NOT_SENT, ChatResult
from naturalthoughts.generate.plan import Job
from naturalthoughts.tables import TRACES
from naturalthoughts.text.think import parse_response, split_tokens

STATUS_COMPLETE = "complete"
STATUS_INCOMPLETE = "incomplete"
STATUS_FAILED = "failed"


def response_hash(result: ChatResult) -> str:
    """First 16 hex digits of sha256 over the canonical JSON ``[text, reasoning, finish_reason, error]``.

    Canonical: no spaces after separators, non-ASCII characters escaped (``json.dumps`` defaults, which are also
    its fastest path for long texts).

    The content address of the response a row was built from: ``RunDir.traces_fingerprint()`` hashes this
    column, and annotations and selections record that fingerprint to notice when traces changed under them.
    """
    canonical = json.dumps([result.text, result.reasoning, result.finish_reason, result.error], separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:16]


def phase_tokens(result: ChatResult) -> tuple[int | None, int | None]:
    """The server's token counts of the reasoning and answer phases (a thinking budget ran), else (None, None)."""
    return getattr(result, "reasoning_tokens", None), getattr(result, "answer_tokens", None)


SERVER_SPLIT_LABEL = "server:completion_tokens"  # the server's completion count, split by character share
SERVER_PHASES_LABEL = "server:phases"  # the server's count of each phase (a thinking budget ran)
ORIGIN_GENERATED = "generated"
ORIGIN_IMPORTED = "imported"


def trace_row(job: Job, teacher: str, result: ChatResult, not_sent_reason: str | None = None) -> dict[str, Any]:
    """The traces.parquet row for ``job`` answered by ``result`` (an error row when it failed or was not sent)."""
    row = response_row(job.trace_id, job.question_id, job.sample, teacher, result, not_sent_reason)
    row["system_prompt"] = system_turn(job.request.messages)
    return row


def system_turn(messages: Sequence[dict[str, Any]]) -> str | None:
    """The content of the leading system message, None when the conversation has none."""
    return messages[0].get("content") if messages and messages[0].get("role") == "system" else None


def response_row(
    trace_id: str,
    question_id: str,
    sample: int,
    teacher: str,
    result: ChatResult,
    not_sent_reason: str | None = None,
    origin: str = ORIGIN_GENERATED,
    digest: str | None = None,
) -> dict[str, Any]:
    """A traces.parquet row built from one response, generated (``trace_row``) or imported (``nt ingest --traces``,
    which passes the response as a :class:`ChatResult` and then replaces the token counts with its own).
    ``digest`` is :func:`response_hash` of ``result`` when the caller computed it already."""
    reasoning_phase, answer_phase = phase_tokens(result)
    row: dict[str, Any] = {
        "trace_id": trace_id,
        "question_id": question_id,
        "sample": sample,
        "teacher": teacher,
        "reasoning": None,
        "answer": None,
        "finish_reason": result.finish_reason,
        "complete": False,
        "forced": bool(getattr(result, "forced", False)),
        "reasoning_tokens": None,
        "answer_tokens": None,
        "completion_tokens": result.completion_tokens,
        "reasoning_phase_tokens": reasoning_phase,
        "answer_phase_tokens": answer_phase,
        "prompt_tokens": result.prompt_tokens,
        "latency_s": result.latency_s,
        "error": result.error,
        "response_hash": digest or response_hash(result),
        "origin": origin,
        "source": None,
        "source_row": None,
        "system_prompt": None,
        "source_correct": None,
        "tokenizer": None,
    }
    if result.error is not None:
        row["finish_reason"] = "not_sent" if result.error == NOT_SENT else "error"
        if result.error == NOT_SENT and not_sent_reason:
            row["error"] = f"not sent: {not_sent_reason}"
        return row
    parsed = parse_response(result.text, result.reasoning)
    if reasoning_phase is not None and answer_phase is not None:
        reasoning_tokens, answer_tokens = reasoning_phase, answer_phase  # counted by the server, phase by phase
        row["tokenizer"] = SERVER_PHASES_LABEL
    else:
        reasoning_tokens, answer_tokens = split_tokens(result.completion_tokens, parsed.reasoning, parsed.answer)
        row["tokenizer"] = SERVER_SPLIT_LABEL if reasoning_tokens is not None else None
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


def _status(error: str | None, complete: bool | None) -> str:
    return row_status({"error": error, "complete": complete})


def row_key(question_id: str, sample: int) -> str:
    return f"{question_id}\x1f{sample}"


class ExistingTraces:
    """An earlier traces.parquet, for ``--retry``: statuses from four narrow columns, whole rows on demand.

    Only ``question_id``, ``sample``, ``error`` and ``complete`` are read up front (the text columns, nearly all
    of the file, stay on disk). :meth:`rows` reads whole rows through a forward cursor of 1,024-row batches, so a
    file in plan order (the usual case) is read once, front to back, with one batch in memory, whatever its row
    groups (files written before streaming have a single row group for the whole pool).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = pq.ParquetFile(path, pre_buffer=False)  # streamed: see annotate's _run_batches
        narrow = self._file.read(columns=["question_id", "sample", "error", "complete"])
        columns = {name: narrow.column(name).to_pylist() for name in narrow.column_names}
        self._where: dict[str, tuple[int, str]] = {
            row_key(question_id, sample): (index, _status(error, complete))
            for index, (question_id, sample, error, complete) in enumerate(
                zip(columns["question_id"], columns["sample"], columns["error"], columns["complete"], strict=True)
            )
        }
        self._batches: Iterator[pa.RecordBatch] | None = None
        self._batch: tuple[int, pa.RecordBatch] | None = None  # (index of its first row, the batch)

    @classmethod
    def open(cls, path: Path) -> ExistingTraces | None:
        return cls(path) if path.exists() else None

    def __len__(self) -> int:
        return len(self._where)

    def find(self, job: Job) -> tuple[int, str] | None:
        """``(row index, status)`` of ``job``'s row, or None when the file has none."""
        return self._where.get(row_key(job.question_id, job.sample))

    def rows(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """The rows at ``indices`` (in that order) as dicts with every TRACES column (absent ones null)."""
        out: list[dict[str, Any]] = [{}] * len(indices)
        for position in sorted(range(len(indices)), key=indices.__getitem__):
            start, batch = self._seek(indices[position])
            row = batch.slice(indices[position] - start, 1).to_pylist()[0]
            out[position] = {name: row.get(name) for name in TRACES.names}
        return out

    def _seek(self, index: int) -> tuple[int, pa.RecordBatch]:
        """The batch holding row ``index``, reading forward (and starting over only for a row already passed)."""
        if self._batch is None or index < self._batch[0]:
            self._batches = self._file.iter_batches(batch_size=ROW_GROUP_ROWS)
            self._batch = (0, next(self._batches))
        assert self._batches is not None
        while index >= self._batch[0] + self._batch[1].num_rows:
            self._batch = (self._batch[0] + self._batch[1].num_rows, next(self._batches))
        return self._batch


@dataclass
class TraceCounts:
    questions: int = 0
    rows: int = 0
    complete: int = 0
    incomplete: int = 0
    errors: int = 0
    not_sent: int = 0
    forced: int = 0  # complete or not, the toolkit closed the reasoning (thinking budget)
    by_finish_reason: dict[str, int] = field(default_factory=dict)

    def add(self, rows: Iterable[dict[str, Any]]) -> TraceCounts:
        for row in rows:
            self.rows += 1
            status = row_status(row)
            if status == STATUS_COMPLETE:
                self.complete += 1
            elif status == STATUS_INCOMPLETE:
                self.incomplete += 1
            elif row.get("finish_reason") == "not_sent":
                self.not_sent += 1
            else:
                self.errors += 1
            self.forced += bool(row.get("forced"))
            reason = row.get("finish_reason") or "none"
            self.by_finish_reason[reason] = self.by_finish_reason.get(reason, 0) + 1
        return self

    def as_dict(self) -> dict[str, int]:
        return {
            "questions": self.questions,
            "rows": self.rows,
            "complete": self.complete,
            "incomplete": self.incomplete,
            "errors": self.errors,
            "not_sent": self.not_sent,
            "forced": self.forced,
        }


def count_rows(rows: Iterable[dict[str, Any]], questions: int) -> TraceCounts:
    return TraceCounts(questions=questions).add(rows)


ROW_GROUP_ROWS = 1024  # rows per Arrow table (and Parquet row group): bounded memory, 32-bit string offsets


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as a TRACES table, built column by column from Arrow buffers.

    ``pa.array`` and ``pa.Table.from_pylist`` import pandas on first use (~0.2 s and ~40 MB, which a fully cached
    rerun cannot afford) and JSON round trips cost more than the rest of the row together at R1 lengths; the
    buffers of a string column are its UTF-8 bytes joined and their offsets, which cost next to nothing.
    """
    if not rows:
        return TRACES.empty_table()
    arrays = [_column([row.get(f.name) for row in rows], f.type) for f in TRACES]
    return pa.Table.from_arrays(arrays, schema=TRACES)


def row_tables(rows: list[dict[str, Any]]) -> Iterator[pa.Table]:
    """``rows`` as tables of at most :data:`ROW_GROUP_ROWS` rows (one Parquet row group each)."""
    for start in range(0, len(rows), ROW_GROUP_ROWS):
        yield rows_to_table(rows[start : start + ROW_GROUP_ROWS])


_NUMBERS = {pa.int32(): "i", pa.int64(): "q", pa.float64(): "d"}


def _column(values: list[Any], typ: pa.DataType) -> pa.Array:
    nulls = values.count(None)
    validity = _bitmap([v is not None for v in values]) if nulls else None
    if typ == pa.string():
        data = [v.encode("utf-8") if v is not None else b"" for v in values]
        offsets = array.array("i", [0])
        offsets.extend(itertools.accumulate(map(len, data)))
        buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    elif typ == pa.bool_():
        buffers = [validity, _bitmap([bool(v) for v in values])]
    else:
        code = _NUMBERS[typ]
        buffers = [validity, pa.py_buffer(array.array(code, [v if v is not None else 0 for v in values]))]
    return pa.Array.from_buffers(typ, len(values), buffers, null_count=nulls)


def _bitmap(bits: list[bool]) -> pa.Buffer:
    """Arrow's LSB-first bitmap of ``bits``."""
    packed = bytearray((len(bits) + 7) // 8)
    for index in itertools.compress(range(len(bits)), bits):
        packed[index >> 3] |= 1 << (index & 7)
    return pa.py_buffer(packed)


def write_traces(rows: list[dict[str, Any]], path: Path) -> Path:
    """Write a whole (small) table at once; the stage streams chunks through a Parquet writer instead."""
    return write_parquet(rows_to_table(rows), path)


def count_origin(path: Path, origin: str) -> int:
    """Rows of a traces.parquet with ``origin`` (files written before the column existed hold generated traces)."""
    if "origin" not in pq.read_schema(path).names:
        return pq.read_metadata(path).num_rows if origin == ORIGIN_GENERATED else 0
    column = pq.read_table(path, columns=["origin"])["origin"]
    return sum(1 for value in column.to_pylist() if value == origin)


def imported_samples(path: Path) -> dict[str, int]:
    """``{question id: number of imported samples}`` (the first sample number a generated trace may take)."""
    table = pq.read_table(path, columns=["question_id", "sample", "origin"], filters=[("origin", "=", ORIGIN_IMPORTED)])
    offsets: dict[str, int] = {}
    for question_id, sample in zip(table["question_id"].to_pylist(), table["sample"].to_pylist(), strict=True):
        offsets[question_id] = max(offsets.get(question_id, 0), sample + 1)
    return offsets


def imported_tables(path: Path) -> Iterator[pa.Table]:
    """The imported rows of a traces.parquet, a row group at a time, in the TRACES schema."""
    source = pq.ParquetFile(path)
    for index in range(source.num_row_groups):
        table = source.read_row_group(index)
        table = table.filter(pc.equal(table["origin"], ORIGIN_IMPORTED))
        if table.num_rows:
            yield table.select(TRACES.names).cast(TRACES)
