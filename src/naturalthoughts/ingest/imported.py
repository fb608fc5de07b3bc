"""Imported traces: the staging rows of trace sources that ingest kept -> ``traces.parquet`` rows.

Each response becomes the same row a generated one would (:func:`naturalthoughts.generate.traces.response_row`,
which splits it with :func:`naturalthoughts.text.think.parse_response` and hashes it): ``origin = imported``,
``source``/``source_row`` say where it was read, ``teacher`` and ``sample`` are set as for generated traces (sample
k is the question's k-th response in reading order), and the same completeness rules apply: closed reasoning,
non-empty reasoning and answer, finished by ``stop`` (the source's finish reason when it has one), and at most
``max_trace_tokens`` tokens (a longer trace reads ``finish_reason = length``, as if the teacher had been cut there).

Token counts are the source's tokenizer's (:class:`~naturalthoughts.ingest.trace_sources.TokenCount`), labelled in
``traces.tokenizer``. A response that repeats one already imported for the same question (same text) is a duplicate
trace: it goes to ``rejected.parquet`` like a duplicate question.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from naturalthoughts.engines.base import ChatResult
from naturalthoughts.generate.plan import trace_id
from naturalthoughts.generate.traces import ORIGIN_IMPORTED, response_hash, response_row, rows_to_table
from naturalthoughts.ingest.trace_sources import TraceSource
from naturalthoughts.tables import TRACES
from naturalthoughts.text.tokens import count_tokens


@dataclass
class ImportCounts:
    """What the import did, per source label and in all (the manifest records it; the report shows it)."""

    traces: int = 0
    complete: int = 0
    over_cap: int = 0
    with_flag: int = 0
    duplicate_traces: int = 0
    by_source: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "traces": self.traces,
            "complete": self.complete,
            "incomplete": self.traces - self.complete,
            "over_length_cap": self.over_cap,
            "with_source_correct": self.with_flag,
            "duplicate_traces": self.duplicate_traces,
            "by_source": dict(self.by_source),
        }


class Importer:
    """Turns kept staging rows into trace rows; holds the state that spans batches (sample numbers, seen traces)."""

    def __init__(self, max_trace_tokens: int) -> None:
        self.max_trace_tokens = max_trace_tokens
        self.next_sample: dict[str, int] = {}
        self.seen: set[int] = set()  # hash((question id, response hash)) of every imported trace
        self.counts = ImportCounts()

    def rows(self, staged: pa.Table, ids: list[str], source: TraceSource) -> tuple[pa.Table, list[int], list[str]]:
        """(trace rows, indices of ``staged`` that repeat an imported trace, the kept question each repeats)."""
        columns = {name: staged.column(name).to_pylist() for name in (
            "response", "separate_reasoning", "finish_reason", "teacher", "system_prompt", "source_correct",
            "source", "source_row")}  # fmt: skip
        rows: list[dict[str, Any]] = []
        repeats: list[int] = []
        for i, question_id in enumerate(ids):
            result = ChatResult(
                text=columns["response"][i],
                reasoning=columns["separate_reasoning"][i],
                finish_reason=columns["finish_reason"][i] or "stop",
                latency_s=None,  # type: ignore[arg-type] - no request was timed
            )
            digest = response_hash(result)
            key = hash((question_id, digest))
            if key in self.seen:
                repeats.append(i)
                continue
            self.seen.add(key)
            sample = self.next_sample.get(question_id, 0)
            self.next_sample[question_id] = sample + 1
            teacher = columns["teacher"][i]
            row = response_row(trace_id(question_id, sample, teacher), question_id, sample, teacher, result,
                               origin=ORIGIN_IMPORTED, digest=digest)  # fmt: skip
            row.update(
                source=columns["source"][i],
                source_row=columns["source_row"][i],
                system_prompt=columns["system_prompt"][i],
                source_correct=columns["source_correct"][i],
                tokenizer=source.tokens.label,
            )
            rows.append(row)
        self.counts.duplicate_traces += len(repeats)
        table = self._counted(rows_to_table(rows), source)
        self._count(table, source)
        return table, repeats, [ids[i] for i in repeats]

    def _counted(self, table: pa.Table, source: TraceSource) -> pa.Table:
        """Token counts with the source's tokenizer, and the length cap applied."""
        if not table.num_rows:
            return table
        reasoning = count_tokens(table.column("reasoning"), source.tokens.name)
        answer = count_tokens(table.column("answer"), source.tokens.name)
        over = pc.fill_null(pc.greater(pc.add(pc.fill_null(reasoning, 0), pc.fill_null(answer, 0)),
                                       self.max_trace_tokens), False)  # fmt: skip
        finish = pc.if_else(over, pa.scalar("length"), table.column("finish_reason"))
        complete = pc.and_(table.column("complete"), pc.invert(over))
        for name, values in (("reasoning_tokens", reasoning), ("answer_tokens", answer), ("finish_reason", finish),
                             ("complete", complete)):  # fmt: skip
            index = TRACES.get_field_index(name)
            table = table.set_column(index, TRACES.field(index), values.cast(TRACES.field(index).type))
        self.counts.over_cap += int(pc.sum(over).as_py() or 0)
        return table

    def _count(self, table: pa.Table, source: TraceSource) -> None:
        n = table.num_rows
        self.counts.traces += n
        self.counts.complete += int(pc.sum(table.column("complete")).as_py() or 0)
        self.counts.with_flag += n - table.column("source_correct").null_count
        self.counts.by_source[source.label] += n
