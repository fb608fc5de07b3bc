"""Sources that carry responses (``nt ingest SOURCE --traces LAYOUT``): records -> staging rows with their traces.

A :class:`TraceSource` reads a file (JSONL, JSON, CSV, Parquet: only the columns it needs) or streams a Hub dataset
record by record, maps each record through its layout (:mod:`naturalthoughts.ingest.layouts`) and emits staging
tables (:data:`TRACE_STAGING`): the question columns every source has, plus one response per row. A record with
several responses gives several rows with the same ``source_row``; their questions are the same, so the ingest
pipeline keeps the first as the question and attaches the others as further samples. A record that cannot give a
trace becomes one invalid row naming why (with ``--skip-bad`` it goes to ``rejected.parquet``, else the stage fails
listing every bad row with its file and line).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from naturalthoughts.errors import ConfigError, MissingInputError, OfflineError
from naturalthoughts.ingest.config import ColumnMap
from naturalthoughts.ingest.layouts import RowProblem, TraceColumns, TraceSourceSpec, record_traces, resolve_columns
from naturalthoughts.ingest.sources import STAGING, FileSource, Record, folder_files
from naturalthoughts.text.think import canonical_tags
from naturalthoughts.text.tokens import APPROX, load_tokenizer, tokenizer_label

UNKNOWN_TEACHER = "unknown"

# Per response, beside the question columns of STAGING.
TRACE_FIELDS = [
    pa.field("response", pa.string()),  # the response text (r1, messages) or the final answer (split)
    pa.field("separate_reasoning", pa.string()),  # the reasoning when the source keeps it apart (split)
    pa.field("system_prompt", pa.string()),
    pa.field("teacher", pa.string()),
    pa.field("source_correct", pa.bool_()),
    pa.field("finish_reason", pa.string()),
]
TRACE_STAGING = pa.schema([*STAGING, *TRACE_FIELDS])


class RecordReader(Protocol):
    label: str

    def column_names(self) -> list[str] | None: ...

    def records(self, read_columns: list[str] | None = None) -> Iterator[Record]: ...

    def input_paths(self) -> list[Path]: ...

    def total_rows(self) -> int | None: ...


@dataclass
class TokenCount:
    """What counts an imported source's tokens: a tokenizer name for :mod:`naturalthoughts.text.tokens`, its label
    in ``traces.tokenizer``, and why the approximation was used when it was."""

    name: str
    label: str
    note: str | None = None


def choose_tokenizer(spec: TraceSourceSpec) -> TokenCount:
    """The teacher's tokenizer when named (``tokenizer``, else ``teacher``) and installed; else characters / 4."""
    if spec.tokenizer is not None:
        if spec.tokenizer != APPROX:
            load_tokenizer(spec.tokenizer)  # a ConfigError naming it when it does not load offline
        return TokenCount(spec.tokenizer, tokenizer_label(spec.tokenizer))
    if spec.teacher is not None:
        try:
            load_tokenizer(spec.teacher)
            return TokenCount(spec.teacher, tokenizer_label(spec.teacher))
        except (ConfigError, OSError, ValueError):
            reason = f"the teacher {spec.teacher!r} has no tokenizer installed here"
    else:
        reason = "no teacher named (teacher)"
    note = (
        f"{spec.source}: {reason}: token counts are characters / 4 (traces.tokenizer = "
        f"{tokenizer_label(APPROX)}); name a tokenizer (tokenizer: FOLDER_OR_ID) to count with the teacher's own"
    )
    return TokenCount(APPROX, tokenizer_label(APPROX), note)


class _TraceBatchBuilder:
    """Staging rows of one source, a response per row, emitted ``batch_rows`` at a time."""

    def __init__(self, label: str, batch_rows: int) -> None:
        self.label, self.batch_rows = label, batch_rows
        self.columns: dict[str, list[Any]] = {f.name: [] for f in TRACE_STAGING}
        self.rows = 0

    def _append(self, **values: Any) -> None:
        for name, column in self.columns.items():
            column.append(values.get(name))
        self.rows += 1

    def invalid(self, row: int, reason: str, raw: str | None, question: str | None = None) -> pa.Table | None:
        self._append(question=question, source=self.label, source_row=row, invalid=reason, raw=raw)
        return self._full()

    def add(self, row: int, values: Any, teacher: str) -> pa.Table | None:
        for (text, reasoning), correct, finish in zip(values.responses, values.correct, values.finish, strict=True):
            self._append(
                question=values.question,
                reference_answer=values.reference_answer,
                domain=values.domain,
                source=self.label,
                source_row=row,
                response=canonical_tags(text) if text else text,
                separate_reasoning=reasoning,
                system_prompt=values.system_prompt,
                teacher=values.teacher or teacher,
                source_correct=correct,
                finish_reason=finish,
            )
        return self._full()

    def _full(self) -> pa.Table | None:
        return self.flush() if self.rows >= self.batch_rows else None

    def flush(self) -> pa.Table | None:
        if not self.rows:
            return None
        arrays = [pa.array(self.columns[f.name], f.type) for f in TRACE_STAGING]
        self.columns = {f.name: [] for f in TRACE_STAGING}
        self.rows = 0
        return pa.Table.from_arrays(arrays, schema=TRACE_STAGING)


@dataclass
class TraceSource:
    """One file (or Hub dataset) of traces in one layout. Implements the ingest ``Source`` protocol."""

    reader: RecordReader
    spec: TraceSourceSpec
    batch_rows: int = 512
    templated: bool = False
    tokens: TokenCount = field(init=False)
    columns: TraceColumns | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.tokens = choose_tokenizer(self.spec)

    @property
    def label(self) -> str:
        return self.reader.label

    @property
    def teacher(self) -> str:
        return self.spec.teacher or UNKNOWN_TEACHER

    def input_paths(self) -> list[Path]:
        return self.reader.input_paths()

    def total_rows(self) -> int | None:
        return self.reader.total_rows()

    def batches(self, columns: ColumnMap, batch_rows: int) -> Iterator[pa.Table]:
        """Staging tables of this source (``columns`` and ``batch_rows`` are the question sources' settings: a
        trace source reads through its spec and batches by its own, smaller ``batch_rows``)."""
        names = self.reader.column_names()
        if names is not None:
            self.columns = resolve_columns(self.label, self.spec, names)
        builder = _TraceBatchBuilder(self.label, self.batch_rows)
        for record in self.reader.records(self.columns.read() if self.columns is not None else None):
            table = self._row(builder, record)
            if table is not None:
                yield table
        if (table := builder.flush()) is not None:
            yield table

    def _row(self, builder: _TraceBatchBuilder, record: Record) -> pa.Table | None:
        if record.record is None or record.reason is not None:
            raw = record.raw if record.raw is not None else _as_json(record.record)
            return builder.invalid(record.row, record.reason or "not a record", raw)
        if self.columns is None:  # JSONL / JSON: resolved on the first object
            self.columns = resolve_columns(self.label, self.spec, record.record.keys())
        try:
            values = record_traces(record.record, self.columns, record.row)
        except RowProblem as problem:
            raw = record.raw if record.raw is not None else _as_json(record.record)
            question = record.record.get(self.columns.question) if self.columns.question else None
            return builder.invalid(record.row, str(problem), raw, question if isinstance(question, str) else None)
        return builder.add(record.row, values, self.teacher)

    def describe(self) -> dict[str, Any]:
        """For the manifest: layout, columns read, messages form, teacher and what counted tokens."""
        out: dict[str, Any] = {
            "layout": self.spec.traces,
            "teacher": self.spec.teacher
            or (f"column {self.spec.teacher_col}" if self.spec.teacher_col else UNKNOWN_TEACHER),
        }
        if self.columns is not None:
            out["columns"] = self.columns.as_dict()
        out["tokenizer"] = self.tokens.label
        out["tokenizer_name"] = self.tokens.name  # what nt annotate's length annotator counts with by default
        return out


def _as_json(record: Any) -> str | None:
    if record is None:
        return None
    return json.dumps(record, ensure_ascii=False, default=str)


# ---- the Hub, streamed -------------------------------------------------------------------------------------------
@dataclass
class HubRecords:
    """``hf:OWNER/NAME[:SPLIT]`` streamed with ``datasets`` (``streaming=True``): rows arrive as the shards are read,
    so the whole set is never on disk or in memory. Needs the network; fails at once without it (exit code 5)."""

    hub_id: str
    split: str = "train"
    label: str = ""
    dataset: Any = None  # the streamed dataset (opened from the Hub when not given)

    def __post_init__(self) -> None:
        self.label = f"hf:{self.hub_id}"
        if self.dataset is None:
            self.dataset = open_streamed(self.hub_id, self.split)

    def input_paths(self) -> list[Path]:
        return []

    def total_rows(self) -> int | None:
        return None

    def column_names(self) -> list[str] | None:
        features = getattr(self.dataset, "features", None)
        return list(features) if features else None

    def records(self, read_columns: list[str] | None = None) -> Iterator[Record]:
        dataset = self.dataset
        if read_columns is not None and self.column_names() is not None:
            dataset = dataset.select_columns(read_columns)
        for row, record in enumerate(dataset, 1):
            yield Record(row, record, None, None)


def open_streamed(hub_id: str, split: str) -> Any:
    """``datasets.load_dataset(hub_id, split=split, streaming=True)``, failing at once and clearly when offline."""
    import datasets

    from naturalthoughts.benchmarks.datafiles import _hub_offline, _hub_reachable, offline_message

    if _hub_offline():
        raise OfflineError(
            offline_message(hub_id, "this machine is set offline (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE)")
            + " Streaming a trace set needs the network."
        )
    if not _hub_reachable():
        raise OfflineError(offline_message(hub_id, "huggingface.co is unreachable (this machine is offline)"))
    try:
        return datasets.load_dataset(hub_id, split=split, streaming=True)
    except FileNotFoundError as exc:  # pragma: no cover - depends on the Hub
        raise MissingInputError(f"hf:{hub_id}: {exc}") from None
    except (ConnectionError, OSError) as exc:  # pragma: no cover - depends on the Hub
        raise OfflineError(offline_message(hub_id, f"the Hub did not answer ({exc})")) from None


def resolve_traces(spec: TraceSourceSpec, batch_rows: int) -> list[TraceSource]:
    """The trace sources a spec names: a file, each file of a folder, or a streamed Hub dataset."""
    where = spec.source
    if where.startswith(("builtin:", "reasoning-gym:")):
        raise ConfigError(f"{where}: holds questions only; a trace layout needs a file, folder or hf:ID with responses")
    if where.startswith("hf:"):
        hub_id, _, split = where.removeprefix("hf:").partition(":")
        return [TraceSource(HubRecords(hub_id, split or "train"), spec, batch_rows)]
    path = Path(where)
    if path.is_dir():
        return [TraceSource(source, spec, batch_rows) for source in folder_files(path)]
    if path.is_file():
        return [TraceSource(FileSource(path), spec, batch_rows)]
    from naturalthoughts.ingest.sources import SOURCE_HELP

    raise MissingInputError(f"{where}: no such file or folder; {SOURCE_HELP}")


def is_trace_source(source: Any) -> bool:
    return isinstance(source, TraceSource)
