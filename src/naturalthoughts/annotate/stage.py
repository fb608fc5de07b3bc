"""The annotate stage: ``traces.parquet`` (+ ``questions.parquet``) -> ``annotations.parquet`` (+ embeddings).

Traces are streamed in Arrow batches. Each batch is joined with its questions' columns and with the
previous annotations (so ``only=[...]`` keeps every other annotator's columns), the selected annotators
fill their columns in registry order, and the batch is written. Files appear atomically at the end.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.annotate.base import AnnotateContext, Annotator
from naturalthoughts.annotate.config import AnnotateConfig
from naturalthoughts.annotate.registry import build, resolve
from naturalthoughts.atomic import parquet_writer
from naturalthoughts.console import progress
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import ANNOTATIONS

TRACE_COLUMNS = ("trace_id", "question_id", "reasoning", "answer")
# questions.parquet column -> name in the working batch (the source's own domain label is kept apart).
QUESTION_COLUMNS = {
    "question": "question",
    "reference_answer": "reference_answer",
    "other_answer": "other_answer",
    "domain": "source_domain",
}


@dataclass
class AnnotateResult:
    annotations: Path
    embeddings: Path | None
    rows: int
    annotators: list[str]
    methods: dict[str, str]
    counts: dict[str, dict[str, int]]
    usage: dict[str, int]
    domain_accuracy: float | None = None  # against the source's domain labels (builtin:sample), when present
    domain_labelled: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def bad_replies(self) -> int:
        return sum(c.get("bad_replies", 0) for c in self.counts.values())

    @property
    def failed(self) -> int:
        return sum(c.get("failed", 0) for c in self.counts.values())


class _Index:
    """Rows of ``table`` by ``key``, hashed once (pyarrow's index_in would rehash the key column per batch)."""

    def __init__(self, table: pa.Table, key: str, columns: dict[str, str]) -> None:
        import pandas as pd

        self.table = table
        self.index = pd.Index(table.column(key).to_numpy(zero_copy_only=False))
        self.columns = {old: new for old, new in columns.items() if old in table.column_names}

    def lookup(self, keys: pa.ChunkedArray | pa.Array) -> dict[str, Any]:
        """The columns for each key (null where the key is absent), renamed."""
        positions = self.index.get_indexer(keys.to_numpy(zero_copy_only=False))
        take = pa.array(positions, pa.int64(), mask=positions < 0)
        return {new: self.table.column(old).take(take) for old, new in self.columns.items()}


class _Joiner:
    """Adds the question's columns and the previous annotations to each traces batch."""

    def __init__(self, run: RunDir, rewritten: set[str]) -> None:
        wanted = ["id", *QUESTION_COLUMNS]
        present = set(pq.read_schema(run.require("questions")).names)
        questions = run.read("questions", columns=[c for c in wanted if c in present])
        self.questions = _Index(questions, "id", QUESTION_COLUMNS)
        self.previous: _Index | None = None
        if run.annotations.exists():
            kept = [c for c in pq.read_schema(run.annotations).names if c not in rewritten and c != "question_id"]
            previous = pq.read_table(run.annotations, columns=kept)
            self.previous = _Index(previous, "trace_id", {c: c for c in kept if c != "trace_id"})

    def join(self, batch: pa.RecordBatch) -> pa.Table:
        table = pa.Table.from_batches([batch])
        extra = self.questions.lookup(table.column("question_id"))
        if self.previous is not None:
            extra.update(self.previous.lookup(table.column("trace_id")))
        for name, values in extra.items():
            table = table.append_column(name, values)
        return table


def _set_columns(table: pa.Table, columns: dict[str, Any]) -> pa.Table:
    for name, values in columns.items():
        typ = ANNOTATIONS.field(name).type if name in ANNOTATIONS.names else None
        array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, typ)
        if typ is not None and array.type != typ:
            array = array.cast(typ)
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, array)
        else:
            table = table.append_column(name, array)
    return table


def _annotation_rows(table: pa.Table) -> pa.Table:
    """The working batch cut down to tables.ANNOTATIONS (columns nobody filled are null)."""
    arrays = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in ANNOTATIONS
    ]
    return pa.Table.from_arrays(arrays, schema=ANNOTATIONS)


def _domain_hits(table: pa.Table) -> tuple[int, int]:
    """(correct, labelled) for the predicted domain against the source's label."""
    if "source_domain" not in table.column_names or "domain" not in table.column_names:
        return 0, 0
    labelled = pc.is_valid(table.column("source_domain"))
    same = pc.and_(labelled, pc.equal(table.column("domain"), table.column("source_domain")))
    return int(pc.sum(pc.fill_null(same, False)).as_py() or 0), int(pc.sum(labelled).as_py() or 0)


def annotate(
    run: RunDir | str | Path,
    config: AnnotateConfig | None = None,
    only: list[str] | None = None,
    show_progress: bool = True,
) -> AnnotateResult:
    """Annotate every trace of ``run``; ``only`` runs a subset and keeps the other columns of the previous file."""
    run = run if isinstance(run, RunDir) else RunDir(run)
    config = config or AnnotateConfig()
    names = resolve(only, config)
    traces_path = run.require("traces")
    run.require("questions")
    ctx = AnnotateContext(run=run, config=config)
    manifest = Manifest(run.manifest)
    inputs = [traces_path, run.questions]
    with manifest.stage("annotate", {**config.model_dump(mode="json"), "only": names}, inputs=inputs) as record:
        annotators: list[Annotator] = []
        try:
            annotators = build(names, ctx)
            rewritten = {column for a in annotators for column in a.writes}
            joiner = _Joiner(run, rewritten)
            result = _run_batches(run, config, annotators, joiner, show_progress)
            for annotator in annotators:
                annotator.finish()
        except BaseException:
            for annotator in annotators:
                annotator.abort()
            raise
        finally:
            record.usage = ctx.usage()  # recorded even when the run fails or is interrupted
            ctx.close()
        result.usage = record.usage
        record.counts = {"traces": result.rows, "bad_replies": result.bad_replies, "failed": result.failed}
        record.extra["annotators"] = result.counts
        record.extra["methods"] = result.methods
        if result.domain_labelled:
            record.extra["domain_accuracy"] = {"accuracy": result.domain_accuracy, "labelled": result.domain_labelled}
    return result


def _run_batches(
    run: RunDir, config: AnnotateConfig, annotators: list[Annotator], joiner: _Joiner, show_progress: bool
) -> AnnotateResult:
    source = pq.ParquetFile(run.traces)
    columns = [c for c in TRACE_COLUMNS if c in source.schema_arrow.names]
    hits = labelled = rows = 0
    with parquet_writer(run.annotations, ANNOTATIONS) as writer, progress(transient=not show_progress) as bar:
        task = bar.add_task("annotate", total=source.metadata.num_rows, visible=show_progress)
        for batch in source.iter_batches(batch_size=config.batch_rows, columns=columns):
            table = joiner.join(batch)
            for annotator in annotators:
                table = _set_columns(table, annotator.annotate(table))
            writer.write_table(_annotation_rows(table))
            if any(a.name == "domain" for a in annotators):
                batch_hits, batch_labelled = _domain_hits(table)
                hits, labelled = hits + batch_hits, labelled + batch_labelled
            rows += table.num_rows
            bar.advance(task, table.num_rows)
    return AnnotateResult(
        annotations=run.annotations,
        embeddings=run.embeddings if any(a.name == "embeddings" for a in annotators) else None,
        rows=rows,
        annotators=[a.name for a in annotators],
        methods={a.name: a.method for a in annotators},
        counts={a.name: dict(Counter(a.counts)) for a in annotators},
        usage={},
        domain_accuracy=hits / labelled if labelled else None,
        domain_labelled=labelled,
    )
