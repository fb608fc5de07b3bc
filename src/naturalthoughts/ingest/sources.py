"""Question sources: files and folders, Hub datasets, the built-in sample, reasoning-gym tasks.

Every source streams Arrow tables in one staging schema (:data:`STAGING`), one row per input row,
numbered as the user sees them (1-based line for JSONL/CSV, 1-based row for Parquet/JSON arrays).
Rows that cannot even be read (invalid UTF-8, not JSON, not an object, a question that is not a
string) arrive with their reason in ``invalid``; :mod:`naturalthoughts.ingest.validation` adds the
checks that run on whole columns. A row that is or will be invalid (a reason, or no usable question)
carries its text as read in ``raw``, for ``rejected.parquet``.

A file must have the question column and every column the user mapped explicitly (``--answer-col``...):
a missing one is an error naming it and the columns the file has. A UTF-8 byte order mark (what
spreadsheet programs write) is skipped.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import importlib.resources
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.benchmarks.datafiles import load_hub_dataset
from naturalthoughts.errors import BadInputError, Fix, MissingInputError
from naturalthoughts.ingest.config import ColumnMap

STAGING = pa.schema(
    [
        pa.field("question", pa.string()),
        pa.field("reference_answer", pa.string()),
        pa.field("other_answer", pa.string()),
        pa.field("other_model", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("source", pa.string()),
        pa.field("source_row", pa.int64()),
        pa.field("invalid", pa.string()),  # why the row is invalid; null when it is fine so far
        pa.field("raw", pa.string()),  # the row as read, for rows that are (or will be found) invalid
    ]
)
_VALUE_COLUMNS = ("question", "reference_answer", "other_answer", "other_model", "domain")

FILE_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".json", ".csv", ".parquet")
SOURCE_HELP = (
    "a source is a .jsonl/.json/.csv/.parquet file, a folder of them, hf:OWNER/NAME[:SPLIT], builtin:sample, "
    "or reasoning-gym:TASK[{key=value,...}][,TASK...]:N[:SEED]"
)


class Source(Protocol):
    label: str  # written to the `source` column
    # Generated from templates (reasoning-gym): questions share most of their words by design, so
    # near-duplicate detection would collapse them; exact deduplication still applies.
    templated: bool

    def batches(self, columns: ColumnMap, batch_rows: int) -> Iterator[pa.Table]: ...

    def total_rows(self) -> int | None: ...

    def input_paths(self) -> list[Path]: ...


# ---- mapping rows into the staging schema ----------------------------------------------------------
def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _first_response(value: Any, columns: ColumnMap) -> tuple[str | None, str | None]:
    """(answer text, model) of the first item of a NaturalReasoning-style `responses` value."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return _as_text(value.get(columns.response_text_key)), _as_text(value.get(columns.response_model_key))
    return _as_text(value), None


def record_values(record: Any, columns: ColumnMap) -> tuple[tuple[Any, ...], str | None]:
    """The staging values of one JSON/CSV record, and why it is invalid (None if readable)."""
    if not isinstance(record, dict):
        return (None,) * 5, f"not a JSON object (got {type(record).__name__})"
    question = record.get(columns.question)
    reason = None
    if columns.question not in record:
        reason = f"missing question (no '{columns.question}' field; fields: {_names_text(record)})"
    elif question is not None and not isinstance(question, str):
        reason = f"question is not a string (got {type(question).__name__})"
        question = _as_text(question)
    other_answer, other_model = _first_response(record.get(columns.responses), columns)
    if other_model is None and other_answer is not None:
        other_model = _as_text(record.get(columns.response_model))
    values = (
        question,
        _as_text(record.get(columns.answer)),
        other_answer,
        other_model,
        _as_text(record.get(columns.domain)),
    )
    return values, reason


def _names_text(names: Iterable[Any], limit: int = 20) -> str:
    listed = [str(n) for n in names]
    more = f", ... ({len(listed)} in all)" if len(listed) > limit else ""
    return (", ".join(listed[:limit]) + more) or "none"


def missing_columns_error(where: str, missing: dict[str, str], found: Iterable[Any]) -> BadInputError:
    """The error for mapped columns a source does not have, naming each, its option and the columns found."""
    found_text = _names_text(found)
    clauses, fix = [], None
    for field, column in missing.items():
        if field == "question":
            clauses.append(f"no column '{column}' (columns: {found_text}); name the question column: {{fix}}")
            fix = Fix("", question_col="COLUMN")
        else:
            clauses.append(
                f"no column '{column}' (given as columns.{field}; columns: {found_text}); fix the name, or leave it "
                "out to use the default"
            )
    return BadInputError(f"{where}: " + "; ".join(clauses), fix=fix)


def check_columns(where: str, columns: ColumnMap, names: list[str]) -> None:
    """Raise when a source with these column ``names`` lacks the question column or a mapped one."""
    missing = {field: column for field, column in columns.mapped().items() if column not in names}
    if missing:
        raise missing_columns_error(where, missing, names)


class _SeenColumns:
    """For sources without a header (JSONL, JSON arrays): which mapped columns no object has shown yet."""

    def __init__(self, columns: ColumnMap) -> None:
        self.missing = columns.mapped()
        self.seen: dict[str, None] = {}
        self.objects = 0

    def see(self, record: Any) -> None:
        if not isinstance(record, dict):
            return
        self.objects += 1
        if self.missing:  # stop looking once every mapped column was seen (the common case: the first row)
            self.seen.update(dict.fromkeys(record))
            self.missing = {field: column for field, column in self.missing.items() if column not in record}

    def check(self, where: str) -> None:
        """After the last row: no object had a mapped column. (Rows that are not objects say so themselves.)"""
        if self.objects and self.missing:
            raise missing_columns_error(where, self.missing, self.seen)


def _unusable(values: tuple[Any, ...], reason: str | None) -> bool:
    """The row is or will be invalid: a reason already, or no question text (validation rejects those)."""
    question = values[0]
    return reason is not None or not isinstance(question, str) or not question.strip()


class _BatchBuilder:
    """Accumulates mapped rows and emits staging tables of ``batch_rows`` rows."""

    def __init__(self, label: str, batch_rows: int) -> None:
        self.label, self.batch_rows = label, batch_rows
        self.rows: list[tuple[Any, ...]] = []

    def add(self, values: tuple[Any, ...], row: int, reason: str | None, raw: str | None = None) -> pa.Table | None:
        self.rows.append((*values, self.label, row, reason, raw))
        return self.flush() if len(self.rows) >= self.batch_rows else None

    def flush(self) -> pa.Table | None:
        if not self.rows:
            return None
        columns = list(zip(*self.rows, strict=True))
        self.rows = []
        return pa.Table.from_arrays(
            [pa.array(c, f.type) for c, f in zip(columns, STAGING, strict=True)], schema=STAGING
        )


def _null_strings(n: int) -> pa.Array:
    return pa.nulls(n, pa.string())


def _string_column(table: pa.Table, name: str) -> pa.Array | None:
    if name not in table.column_names:
        return None
    col = table.column(name).combine_chunks()
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return col.cast(pa.string())
    return None


def _first_of_list(col: pa.Array) -> pa.Array:
    """Element 0 of each list (null for null or empty lists)."""
    col = col.cast(pa.list_(col.type.value_type)) if pa.types.is_large_list(col.type) else col
    if col.null_count == 0 and pc.min(pc.list_value_length(col)).as_py() not in (None, 0):
        return pc.list_element(col, 0)  # the common case, without the costly if_else over lists
    has_items = pc.fill_null(pc.greater(pc.list_value_length(col), 0), False)
    safe = pc.if_else(has_items, col, pa.scalar(None, col.type))
    return pc.list_element(safe, 0)


def _responses_columns(table: pa.Table, columns: ColumnMap) -> tuple[pa.Array, pa.Array]:
    n = table.num_rows
    if columns.responses not in table.column_names:
        return _null_strings(n), _null_strings(n)
    col = table.column(columns.responses).combine_chunks()
    if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        col = _first_of_list(col)
    model = _string_column(table, columns.response_model)
    if pa.types.is_struct(col.type):
        names = [col.type.field(i).name for i in range(col.type.num_fields)]
        text = pc.struct_field(col, columns.response_text_key) if columns.response_text_key in names else None
        model = pc.struct_field(col, columns.response_model_key) if columns.response_model_key in names else model
        col = text if text is not None else _null_strings(n)
    as_string = col.cast(pa.string()) if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) else None
    if as_string is None:
        raise BadInputError(
            f"column '{columns.responses}' has type {col.type}: expected strings or a list of "
            f"{{{columns.response_text_key}, {columns.response_model_key}}} items (see columns.responses)"
        )
    model = model.cast(pa.string()) if model is not None else _null_strings(n)
    return as_string, model


def _raw_rows(table: pa.Table, question: pa.Array, invalid: pa.Array) -> pa.Array:
    """Each unusable row (a reason, or a null or blank question) as JSON, for rejected.parquet; null elsewhere."""
    blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(question)), 0)
    unusable = pc.or_kleene(pc.or_kleene(pc.is_valid(invalid), pc.is_null(question)), blank).fill_null(True)
    rows = pc.indices_nonzero(unusable).to_pylist()
    if not rows:
        return _null_strings(table.num_rows)
    raw: list[str | None] = [None] * table.num_rows
    for i, record in zip(rows, table.take(pa.array(rows, pa.int64())).to_pylist(), strict=True):
        raw[i] = json.dumps(record, ensure_ascii=False, default=str)
    return pa.array(raw, pa.string())


def arrow_to_staging(table: pa.Table, columns: ColumnMap, label: str, first_row: int, where: str) -> pa.Table:
    """Map an Arrow table (Parquet batch, Hub dataset batch) onto the staging schema."""
    n = table.num_rows
    check_columns(where, columns, table.column_names)
    question = _string_column(table, columns.question)
    invalid = _null_strings(n)
    if question is None:  # a non-text column: every row is invalid, say so row by row
        raw = table.column(columns.question)
        question = raw.cast(pa.string()) if not pa.types.is_nested(raw.type) else _null_strings(n)
        reason = f"question is not a string (column type {raw.type})"
        invalid = pa.array([reason] * n, pa.string())
    answer = _string_column(table, columns.answer)
    if answer is None and columns.answer in table.column_names:
        answer = table.column(columns.answer).cast(pa.string())
    other_answer, other_model = _responses_columns(table, columns)
    domain = _string_column(table, columns.domain)
    question = question.combine_chunks() if isinstance(question, pa.ChunkedArray) else question
    return pa.Table.from_arrays(
        [
            question,
            answer if answer is not None else _null_strings(n),
            other_answer,
            other_model,
            domain if domain is not None else _null_strings(n),
            pa.array([label] * n, pa.string()),
            pa.array(range(first_row, first_row + n), pa.int64()),
            invalid,
            _raw_rows(table, question, invalid),
        ],
        schema=STAGING,
    )


# ---- files ---------------------------------------------------------------------------------------
def _kind(path: Path) -> str:
    name = path.name.lower()
    for suffix, kind in (
        (".jsonl.gz", "jsonl"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "json"),
        (".csv", "csv"),
        (".parquet", "parquet"),
    ):
        if name.endswith(suffix):
            return kind
    raise BadInputError(f"{path}: unsupported file type; {SOURCE_HELP}")


@dataclass
class FileSource:
    path: Path
    label: str = ""
    templated: bool = False

    def __post_init__(self) -> None:
        self.label = self.label or str(self.path)
        self.kind = _kind(self.path)

    def input_paths(self) -> list[Path]:
        return [self.path]

    def total_rows(self) -> int | None:
        return self._parquet_file().metadata.num_rows if self.kind == "parquet" else None

    def batches(self, columns: ColumnMap, batch_rows: int) -> Iterator[pa.Table]:
        with self._readable():
            yield from getattr(self, f"_{self.kind}")(columns, batch_rows)

    @contextlib.contextmanager
    def _readable(self) -> Iterator[None]:
        """A file that ends early or is corrupt is bad input naming the file, not a traceback."""
        try:
            yield
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise BadInputError(f"{self.path}: cannot be read to the end ({exc}); the file may be truncated") from None
        except (pa.ArrowInvalid, pa.ArrowIOError) as exc:
            raise BadInputError(f"{self.path}: {_unreadable_parquet(exc)}") from None

    def _parquet_file(self) -> pq.ParquetFile:
        try:
            # pre_buffer=False: pyarrow's default keeps every column chunk iter_batches has read until the file is
            # closed, so a 1 GB shard of traces would sit in memory; without it memory follows the batch.
            return pq.ParquetFile(self.path, pre_buffer=False)
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
            raise BadInputError(f"{self.path}: {_unreadable_parquet(exc)}") from None

    def _open_binary(self):
        return gzip.open(self.path, "rb") if self.path.name.lower().endswith(".gz") else open(self.path, "rb")

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        """(1-based line number, bytes) of each non-blank line, without a leading byte order mark."""
        with self._open_binary() as fh:
            for line_number, raw in enumerate(fh, 1):
                if line_number == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]  # written by spreadsheet programs and some editors
                if raw.strip():  # blank lines are not rows
                    yield line_number, raw

    def column_names(self) -> list[str] | None:
        """The columns of a file with a header or schema (CSV, Parquet); None for JSONL and JSON (per object)."""
        with self._readable():
            if self.kind == "parquet":
                return list(self._parquet_file().schema_arrow.names)
            if self.kind == "csv":
                with self._open_binary() as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace") as fh:
                    return next(csv.reader(fh), [])
        return None

    def records(self, read_columns: list[str] | None = None) -> Iterator[Record]:
        """Every row as a :class:`Record` (a dict, or why it is not one), for sources that carry traces."""
        with self._readable():
            if self.kind == "jsonl":
                for line_number, raw in self._lines():
                    record, reason = _json_record(raw)
                    yield Record(line_number, record, reason, raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace"))
            elif self.kind == "json":
                for index, record in enumerate(_load_json_document(self.path), 1):
                    yield Record(index, record if isinstance(record, dict) else None, _not_object(record), None)
            elif self.kind == "csv":
                with (
                    self._open_binary() as raw,
                    io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh,
                ):
                    reader = csv.DictReader(fh)
                    line = 2
                    try:
                        for record in reader:
                            yield Record(line, record, _csv_row_problem(record), None)
                            line = reader.line_num + 1
                    except csv.Error as exc:
                        raise BadInputError(f"{self.path}:{reader.line_num}: not valid CSV ({exc})") from None
            else:
                yield from parquet_records(self._parquet_file(), read_columns)

    def _jsonl(self, columns: ColumnMap, batch_rows: int) -> Iterator[pa.Table]:
        builder = _BatchBuilder(self.label, batch_rows)
        seen = _SeenColumns(columns)
        for line_number, raw in self._lines():
            values, reason = _parse_json_line(raw, columns, seen)
            text = raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace") if _unusable(values, reason) else None
            if (table := builder.add(values, line_number, reason, text)) is not None:
                yield table
        seen.check(str(self.path))
        if (table := builder.flush()) is not None:
            yield table

    def _csv(self, columns: ColumnMap, batch_rows: int) -> Iterator[pa.Table]:
        builder = _BatchBuilder(self.label, batch_rows)
        # surrogateescape keeps undecodable bytes as lone surrogates so each row can be checked on its own;
        # utf-8-sig skips the byte order mark spreadsheet programs write (it would glue onto the first header)
        with (
            self._open_binary() as raw,
            io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh,
        ):
            lines = _RecordedLines(fh)
            reader = csv.DictReader(lines)
            next_line = 2  # line 1 is the header
            try:
                if reader.fieldnames is not None:  # None: an empty file, no rows
                    check_columns(str(self.path), columns, list(reader.fieldnames))
                lines.take()
                for record in reader:
                    line, next_line = next_line, reader.line_num + 1
                    values, reason = record_values(record, columns)
                    if reason is None and (reason := _csv_row_problem(record)) is not None:
                        values = tuple(_printable(v) for v in values)
                    text = lines.take()
                    text = _raw_text(text.strip("\r\n")) if _unusable(values, reason) else None
                    if (table := builder.add(values, line, reason, text)) is not None:
                        yield table
            except csv.Error as exc:
                raise BadInputError(f"{self.path}:{reader.line_num}: not valid CSV ({exc})") from None
        if (table := builder.flush()) is not None:
            yield table

    def _json(self, columns: ColumnMap, batch_rows: int) -> Iterator[pa.Table]:
        data = _load_json_document(self.path)
        seen = _SeenColumns(columns)
        for record in data:
            seen.see(record)
        seen.check(str(self.path))
        builder = _BatchBuilder(self.label, batch_rows)
        for index, record in enumerate(data, 1):
            values, reason = _without_surrogates(*record_values(record, columns))
            text = json.dumps(record, ensure_ascii=False, default=str) if _unusable(values, reason) else None
            if (table := builder.add(values, index, reason, _raw_text(text))) is not None:
                yield table
        if (table := builder.flush()) is not None:
            yield table

    def _parquet(self, columns: ColumnMap, batch_rows: int) -> Iterator[pa.Table]:
        parquet = self._parquet_file()
        wanted = {columns.question, columns.answer, columns.responses, columns.response_model, columns.domain}
        names = parquet.schema_arrow.names
        check_columns(str(self.path), columns, names)
        present = [name for name in names if name in wanted]
        first_row = 1
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=present):
            table = pa.Table.from_batches([batch])
            yield arrow_to_staging(table, columns, self.label, first_row, where=str(self.path))
            first_row += table.num_rows


def _unreadable_parquet(exc: BaseException) -> str:
    return (
        f"not a readable Parquet file ({exc}); it may be empty, truncated or still being written: "
        "write it again, or convert it to JSONL"
    )


class _RecordedLines:
    """The lines of a text file, remembering those read since the last :meth:`take` (a CSV record's raw text)."""

    def __init__(self, fh: Iterable[str]) -> None:
        self.lines: list[str] = []
        self._it = iter(fh)

    def __iter__(self) -> _RecordedLines:
        return self

    def __next__(self) -> str:
        line = next(self._it)
        self.lines.append(line)
        return line

    def take(self) -> str:
        text = "".join(self.lines)
        self.lines.clear()
        return text


@dataclass
class Record:
    """One row of a source read as a dict (``record`` None when it is not one: ``reason`` says why)."""

    row: int  # 1-based line (JSONL, CSV) or row (JSON array, Parquet, hf:)
    record: dict[str, Any] | None
    reason: str | None
    raw: str | None  # the line as read (JSONL); None where the row is its record


def _not_object(record: Any) -> str | None:
    return None if isinstance(record, dict) else f"not a JSON object (got {type(record).__name__})"


def _json_record(raw: bytes) -> tuple[Any, str | None]:
    """A JSONL line parsed, or why it cannot be (invalid UTF-8, not JSON, an unpaired surrogate escape)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"invalid UTF-8 (byte {exc.start} of the line)"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not JSON ({exc.msg} at column {exc.colno})"
    if "\\u" in text and _has_surrogates(record):  # only escapes can smuggle in unpaired surrogates
        return record, "invalid Unicode (an unpaired surrogate escape such as \\ud800)"
    return record, _not_object(record)


def _has_surrogates(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_surrogates(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_surrogates(v) for v in value)
    return False


def parquet_records(parquet: pq.ParquetFile, read_columns: list[str] | None, batch_rows: int = 512) -> Iterator[Record]:
    """The rows of a Parquet file as dicts of ``read_columns``, a batch at a time."""
    row = 1
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=read_columns):
        for record in batch.to_pylist():
            yield Record(row, record, None, None)
            row += 1


def _parse_json_line(raw: bytes, columns: ColumnMap, seen: _SeenColumns) -> tuple[tuple[Any, ...], str | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (None,) * 5, f"invalid UTF-8 (byte {exc.start} of the line)"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return (None,) * 5, f"not JSON ({exc.msg} at column {exc.colno})"
    seen.see(record)
    values, reason = record_values(record, columns)
    if "\\u" in text:  # only escapes can smuggle in unpaired surrogates, which are not valid UTF-8
        return _without_surrogates(values, reason)
    return values, reason


def _without_surrogates(values: tuple[Any, ...], reason: str | None) -> tuple[tuple[Any, ...], str | None]:
    """Invalidate a row whose text holds an unpaired surrogate (``"\\ud800"``), shown as U+FFFD."""
    try:
        for value in values:
            if isinstance(value, str):
                value.encode("utf-8")
    except UnicodeEncodeError:
        cleaned = tuple(v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str) else v for v in values)
        return cleaned, reason or "invalid Unicode (an unpaired surrogate escape such as \\ud800)"
    return values, reason


def _csv_row_problem(record: dict[Any, Any]) -> str | None:
    if None in record:
        return "more fields than the header"
    for value in record.values():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "invalid UTF-8"
    return None


def _printable(value: str | None) -> str | None:
    """Undecodable bytes (kept as lone surrogates while reading) shown as U+FFFD, for rejected.parquet."""
    if value is None:
        return None
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _raw_text(text: str | None) -> str | None:
    """A row's text for ``rejected.parquet``: undecodable bytes (kept as surrogate escapes while reading) and unpaired
    surrogates shown as backslash escapes (``\\xe9``, ``\\ud800``), so the file stays valid UTF-8."""
    if text is None:
        return None
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _load_json_document(path: Path) -> list[Any]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark is not part of the document
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BadInputError(
            f"{path}:{line}: invalid UTF-8; a JSON document is read whole, so fix the file "
            "or convert it to JSONL to keep the other rows"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
        data = next(iter(data.values()))  # {"data": [...]} style
    if not isinstance(data, list):
        raise BadInputError(f"{path}: expected a JSON array of objects (or one key holding such an array)")
    return data


# ---- Hub, built-in sample, reasoning-gym ---------------------------------------------------------------
@dataclass
class HubSource:
    hub_id: str
    split: str = "train"
    label: str = ""
    templated: bool = False

    def __post_init__(self) -> None:
        self.label = f"hf:{self.hub_id}"
        self._dataset = load_hub_dataset(self.hub_id, split=self.split)  # fails at once when offline

    def input_paths(self) -> list[Path]:
        return []

    def total_rows(self) -> int | None:
        return len(self._dataset)

    def batches(self, columns: ColumnMap, batch_rows: int) -> Iterator[pa.Table]:
        check_columns(self.label, columns, list(self._dataset.column_names))
        first_row = 1
        for table in self._dataset.with_format("arrow").iter(batch_size=batch_rows):
            yield arrow_to_staging(table, columns, self.label, first_row, where=self.label)
            first_row += table.num_rows


def builtin_sample_path() -> Path:
    path = Path(str(importlib.resources.files("naturalthoughts") / "data" / "sample_questions.jsonl"))
    if not path.is_file():
        raise MissingInputError(f"the built-in sample {path} is missing from this installation")
    return path


@dataclass
class ReasoningGymSource:
    """``reasoning-gym:TASK[{key=value,...}][,TASK...]:N[:SEED]`` (:mod:`naturalthoughts.text.tasks`): N generated
    questions per task, answers as references. Each task's rows are labelled with the spec that generates exactly
    them (``reasoning-gym:gcd{max_value=100}:70:7``), so annotation can score an answer with the task's own scorer."""

    spec: str
    label: str = ""
    templated: bool = True

    def __post_init__(self) -> None:
        from naturalthoughts.text.tasks import parse_task_set

        self.task_set = parse_task_set(self.spec)
        self.label = self.task_set.text

    def input_paths(self) -> list[Path]:
        return []

    def total_rows(self) -> int | None:
        return self.task_set.size * len(self.task_set.tasks)

    def batches(self, columns: ColumnMap, batch_rows: int) -> Iterator[pa.Table]:
        from naturalthoughts.text.tasks import dataset

        generated = ColumnMap(question="question", answer="answer")  # reasoning-gym's own keys
        size, seed = self.task_set.size, self.task_set.seed
        for task in self.task_set.tasks:
            builder = _BatchBuilder(self.task_set.label(task), batch_rows)
            for index, entry in enumerate(dataset(task, size, seed), 1):
                values, reason = record_values({"question": entry["question"], "answer": entry["answer"]}, generated)
                if (table := builder.add(values, index, reason)) is not None:
                    yield table
            if (table := builder.flush()) is not None:
                yield table


def folder_files(path: Path) -> list[FileSource]:
    """Every supported file under ``path``, in sorted order (so row order and ids are reproducible)."""
    found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(FILE_SUFFIXES))
    if not found:
        raise MissingInputError(f"{path}: no .jsonl/.json/.csv/.parquet files in this folder")
    return [FileSource(p) for p in found]


def resolve(spec: str) -> list[Source]:
    """Turn one command-line source into the sources it names (a folder names each of its files)."""
    if spec == "builtin:sample":
        return [FileSource(builtin_sample_path(), label="builtin:sample")]
    if spec.startswith("reasoning-gym:"):
        return [ReasoningGymSource(spec)]
    if spec.startswith("hf:"):
        hub_id, _, split = spec.removeprefix("hf:").partition(":")
        return [HubSource(hub_id, split or "train")]
    path = Path(spec)
    if path.is_dir():
        return list(folder_files(path))
    if path.is_file():
        return [FileSource(path)]
    raise MissingInputError(f"{spec}: no such file or folder; {SOURCE_HELP}")
