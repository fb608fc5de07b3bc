"""The trace browser's data: a compact index inlined in the page, and the trace texts in chunks.

The index holds, per trace and column by column, only what the filters need (domain code, strategies as a bit
mask, correct / disagree / complete flags, lengths, finish reason) plus each selection's rows: about 30 bytes a
trace, so 100,000 traces make a 3 MB index the page filters in a few milliseconds.

Texts go into two kinds of chunks: ``p`` (question previews for the list, ``preview_rows`` traces each) and ``t``
(every text and annotation of a trace, cut at about ``chunk_kb``). Small runs inline every chunk into the page
(``<script type="application/json">``), so report.html is one file that opens anywhere. Larger runs write them as
``report_data/KIND-NNNNN.js`` scripts that call ``NTReport.register(...)``: a page opened from ``file://`` may load
scripts beside it but may not ``fetch`` them, so the chunks are scripts, loaded on demand by the page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.manifest import file_digest
from naturalthoughts.report.html import script_json
from naturalthoughts.report.inputs import ReportInputs

DATA_DIR = "report_data"
MAX_STRATEGY_BITS = 52  # exact integers in a JS number; more distinct strategies share an "(other)" bit
OTHER_STRATEGY = "(other)"
TRACE_COLUMNS = ("trace_id", "question_id", "sample", "teacher", "reasoning", "answer", "finish_reason", "error",
                 "prompt_tokens", "latency_s")  # fmt: skip
QUESTION_COLUMNS = ("question", "reference_answer", "other_answer", "other_model", "source")
ANNOTATION_COLUMNS = ("field", "domain_method", "strategy_counts", "strategy_density", "strategies_method",
                      "verbosity", "verbosity_method", "tokenizer", "correct_method", "disagree_raw",
                      "disagree_judge", "domain_error", "strategies_error", "verbosity_error", "correct_error",
                      "disagree_error")  # fmt: skip
BATCH_ROWS = 2048


def chunk_file(kind: str, number: int) -> str:
    return f"{kind}-{number:05d}.js"


@dataclass
class BrowserData:
    """What the page needs: the index (inlined), the chunks kept for inlining, and where the side files went."""

    index: dict[str, Any]
    inline_chunks: dict[str, str] = field(default_factory=dict)  # "t-3" -> payload JSON (when inlined)
    side_bytes: int = 0
    side_files: int = 0

    @property
    def inline(self) -> bool:
        return bool(self.index.get("inline"))


def _flag_string(values: np.ndarray) -> str:
    """1 / 0 / -1 per trace as one character each ("1", "0", "-"): 1 byte a trace in the index."""
    return "".join(np.where(values > 0, "1", np.where(values == 0, "0", "-")).tolist())


def _strategy_masks(inputs: ReportInputs) -> tuple[list[int], list[str]]:
    lists, present = inputs.strategy_sets()
    if not present or not inputs.n:
        return [-1] * inputs.n, []
    flat = pc.list_flatten(lists)
    counts = pc.value_counts(flat).to_pylist() if len(flat) else []
    ranked = [c["values"] for c in sorted(counts, key=lambda c: (-c["counts"], str(c["values"])))]
    names = sorted(ranked[: MAX_STRATEGY_BITS - 1]) if len(ranked) > MAX_STRATEGY_BITS else sorted(ranked)
    if len(ranked) > MAX_STRATEGY_BITS:
        names.append(OTHER_STRATEGY)
    bit = {name: 1 << i for i, name in enumerate(names)}
    other = bit.get(OTHER_STRATEGY, 0)
    masks = []
    for row in lists.to_pylist():
        if row is None:
            masks.append(-1)  # not annotated
            continue
        mask = 0
        for name in row:
            mask |= bit.get(name, other)
        masks.append(mask)
    return masks, names


def _ints(values: np.ndarray) -> list[int]:
    return np.where(np.isfinite(values), np.nan_to_num(values), -1).astype(np.int64).tolist()


def build_index(inputs: ReportInputs) -> dict[str, Any]:
    """The compact, column-wise index of every trace (see the module docstring)."""
    domains, domain_names = inputs.codes("annotations", "domain")
    finish, finish_names = inputs.codes("traces", "finish_reason")
    masks, strategy_names = _strategy_masks(inputs)
    selections: dict[str, list[int]] = {}
    unreadable: list[str] = []
    for name in inputs.selection_names:
        try:
            rows, _ = inputs.selection_rows(name)
        except (OSError, pa.ArrowException):  # the selections section shows the error; the browser goes on
            unreadable.append(name)
            continue
        selections[name] = rows.tolist()
    return {
        "unreadable_selections": unreadable,
        "n": inputs.n,
        "domains": domain_names,
        "strategies": strategy_names,
        "finish": finish_names,
        "selections": selections,
        "cols": {
            "dom": domains.tolist(),
            "strat": masks,
            "cor": _flag_string(inputs.flags("annotations", "correct")),
            "dis": _flag_string(inputs.flags("annotations", "disagree")),
            "cmp": _flag_string(inputs.flags("traces", "complete")),
            "rt": _ints(inputs.preferred("reasoning_tokens")),
            "at": _ints(inputs.preferred("answer_tokens")),
            "fin": finish.tolist(),
        },
    }


class _ChunkWriter:
    """Writes chunks of one kind to ``folder``; keeps their payloads while the total stays under ``keep_bytes``."""

    def __init__(self, folder: Path, kind: str, build: str, keep: dict[str, str], budget: list[int]) -> None:
        self.folder, self.kind, self.build = folder, kind, build
        self.keep, self.budget = keep, budget  # shared between kinds: [bytes left to inline]
        self.count = 0
        self.bytes = 0

    def write(self, payload: str) -> None:
        name = chunk_file(self.kind, self.count)
        script = f'NTReport.register("{self.kind}",{self.count},"{self.build}",{payload});\n'
        (self.folder / name).write_text(script, encoding="utf-8")
        self.bytes += len(script.encode("utf-8"))
        if self.budget[0] >= 0:
            self.budget[0] -= len(payload.encode("utf-8"))
            if self.budget[0] >= 0:
                self.keep[f"{self.kind}-{self.count}"] = payload
            else:
                self.keep.clear()  # over the limit: nothing is inlined
        self.count += 1


def _rows(inputs: ReportInputs) -> Iterator[tuple[int, dict[str, list[Any]]]]:
    """Batches of every per-trace text and detail column, in trace order: (first row, columns)."""
    run = inputs.run
    names = pq.read_schema(run.traces).names
    file = pq.ParquetFile(run.traces, pre_buffer=False)  # streamed: see annotate's _run_batches
    aligned = {c: inputs.column("questions", c) for c in QUESTION_COLUMNS}
    aligned |= {c: inputs.column("annotations", c) for c in ANNOTATION_COLUMNS}
    start = 0
    for batch in file.iter_batches(batch_size=BATCH_ROWS, columns=[c for c in TRACE_COLUMNS if c in names]):
        columns = {c: batch.column(c).to_pylist() for c in batch.schema.names}
        for name, values in aligned.items():
            columns[name] = values.slice(start, batch.num_rows).to_pylist()
        yield start, columns
        start += batch.num_rows


# Columns whose floats are rounded (4 digits are plenty to read; full precision would double their bytes).
ROUNDED = ("strategy_density", "verbosity", "latency_s")
SIZED = ("reasoning", "answer", "question", "reference_answer", "other_answer", "disagree_raw")  # the long texts
ROW_OVERHEAD = 300  # bytes of a row besides its long texts (ids, numbers, labels), for cutting chunks


def _detail_rows(columns: dict[str, list[Any]], names: list[str]) -> list[tuple[Any, ...]]:
    """One tuple per trace with the values of ``names`` (a JSON array each)."""
    n = len(columns["trace_id"])
    if "strategy_counts" in columns:
        columns["strategy_counts"] = [None if v is None else [[c.get("strategy"), c.get("count")] for c in v]
                                      for v in columns["strategy_counts"]]  # fmt: skip
    for name in ROUNDED:
        if name in columns:
            columns[name] = [None if v is None or v != v else round(v, 4) for v in columns[name]]
    nulls = [None] * n
    return list(zip(*(columns.get(name, nulls) for name in names), strict=True))


def _row_sizes(columns: dict[str, list[Any]]) -> list[int]:
    sizes = [ROW_OVERHEAD] * len(columns["trace_id"])
    for name in SIZED:
        for i, value in enumerate(columns.get(name) or ()):
            if value:
                sizes[i] += len(value)
    return sizes


class _TraceChunks:
    """Cuts the trace rows, in pool order, into preview chunks (a fixed number of traces) and text chunks (about
    ``chunk_kb`` each), and hands each finished chunk to its writer."""

    def __init__(self, previews: _ChunkWriter, texts: _ChunkWriter, config: Any,
                 evals: dict[str, list[list[Any]]]) -> None:  # fmt: skip
        self.previews, self.texts, self.config, self.evals = previews, texts, config, evals
        self.names = [*TRACE_COLUMNS, *QUESTION_COLUMNS, *ANNOTATION_COLUMNS, "evals"]
        self.head = script_json(self.names)
        self.preview_batch: list[list[Any]] = []
        self.text_batch: list[tuple[Any, ...]] = []
        self.text_bytes = 0
        self.text_starts: list[int] = []

    def add(self, start: int, columns: dict[str, list[Any]]) -> None:
        chars = self.config.preview_chars
        previews = [[tid, (q or "")[:chars] + ("…" if q and len(q) > chars else "")]
                    for tid, q in zip(columns["trace_id"], columns["question"], strict=True)]  # fmt: skip
        sizes = _row_sizes(columns)
        if self.evals:  # evaluation records of pool questions that were also evaluation items
            columns["evals"] = [self.evals.get(qid) for qid in columns["question_id"]]
        rows = _detail_rows(columns, self.names)
        target = self.config.chunk_kb << 10
        for i, row in enumerate(rows):
            self.preview_batch.append(previews[i])
            if len(self.preview_batch) == self.config.preview_rows:
                self._flush_previews()
            if not self.text_batch:
                self.text_starts.append(start + i)
            self.text_batch.append(row)
            self.text_bytes += sizes[i]
            if self.text_bytes >= target:
                self._flush_texts()

    def _flush_previews(self) -> None:
        if self.preview_batch:
            self.previews.write(script_json(self.preview_batch))
            self.preview_batch = []

    def _flush_texts(self) -> None:
        if self.text_batch:
            self.texts.write('{"cols":' + self.head + ',"rows":' + script_json(self.text_batch) + "}")
            self.text_batch, self.text_bytes = [], 0

    def close(self) -> None:
        self._flush_previews()
        self._flush_texts()


def _build_id(inputs: ReportInputs, index: dict[str, Any]) -> str:
    """Names this build of the data, so a page never shows chunks of another build (checked in the page)."""
    digest = hashlib.sha256(script_json(index).encode())
    for path in (inputs.run.traces, inputs.run.questions, inputs.run.annotations):
        if path.exists():
            digest.update(file_digest(path).encode())
    return digest.hexdigest()[:12]


def write_browser_data(inputs: ReportInputs, folder: Path, progress: Any = None) -> BrowserData:
    """Build the index and write the chunks into ``folder`` (a fresh, empty directory)."""
    config = inputs.config
    index = build_index(inputs)
    build = _build_id(inputs, index)
    keep: dict[str, str] = {}
    budget = [int(config.inline_limit_mb * (1 << 20))]
    previews = _ChunkWriter(folder, "p", build, keep, budget)
    texts = _ChunkWriter(folder, "t", build, keep, budget)
    from naturalthoughts.report.evaluation import records_by_question

    chunks = _TraceChunks(previews, texts, config, records_by_question(inputs))
    task = progress.task("report: trace texts", total=inputs.n, unit="traces") if progress else None
    try:
        for start, columns in _rows(inputs):
            chunks.add(start, columns)
            if task:
                task.advance(len(columns["trace_id"]))
        chunks.close()
    finally:
        if task:
            task.close()
    inline = budget[0] >= 0
    index.update(build=build, inline=inline, preview_rows=config.preview_rows, text_starts=chunks.text_starts,
                 page_size=config.page_size, data_dir=DATA_DIR)  # fmt: skip
    data = BrowserData(index, keep if inline else {})
    if inline:
        for path in folder.glob("*.js"):
            path.unlink()
    else:
        data.side_files = previews.count + texts.count
        data.side_bytes = previews.bytes + texts.bytes
    (folder / "README.txt").write_text(_readme(data), encoding="utf-8")
    return data


def _readme(data: BrowserData) -> str:
    if data.inline:
        return "The trace texts of this report are inlined in report.html: this folder holds nothing else.\n"
    return (f"{data.side_files} chunks of trace texts ({data.side_bytes:,} bytes) that report.html loads on demand.\n"
            "Keep this folder next to report.html (copy both to share the report).\n")  # fmt: skip


__all__ = ["DATA_DIR", "BrowserData", "build_index", "chunk_file", "write_browser_data"]
