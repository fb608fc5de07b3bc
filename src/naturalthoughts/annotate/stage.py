"""The annotate stage: ``traces.parquet`` (+ ``questions.parquet``) -> ``annotations.parquet`` (+ embeddings).

Traces are streamed in Arrow batches. Each batch is joined with its questions' columns and with the
previous annotations (so ``only=[...]`` keeps every other annotator's columns), the selected annotators
fill their columns in registry order, and the batch is written. Files appear atomically at the end.

Which traces each annotator's columns were computed from is in the manifest (the record of the annotate run
that last ran it: :mod:`naturalthoughts.staleness`); each row carries the ``response_hash`` of its trace. An
annotator whose inputs from another annotator are missing or stale (strategy density needs ``length``) brings that
annotator along.

Notebook use::

    from naturalthoughts.annotate import AnnotateConfig, annotate
    result = annotate("runs/demo", AnnotateConfig(), only=["length", "strategies"])
    # the same stage, as `nt annotate` runs it: Runner("runs/demo").run_stage(AnnotateStage(config, only=[...]))
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.annotate.base import AnnotateContext, Annotator, StopRequested
from naturalthoughts.annotate.config import ANNOTATOR_NAMES, AnnotateConfig
from naturalthoughts.annotate.length import SERVER_COLUMNS
from naturalthoughts.annotate.registry import annotator_class, build, method_of, resolve, with_requirements
from naturalthoughts.atomic import parquet_writer
from naturalthoughts.rundir import RunDir
from naturalthoughts.shortcuts import shortcut
from naturalthoughts.stage import Stage, StageContext, StageResult, Usage
from naturalthoughts.staleness import annotator_freshness
from naturalthoughts.tables import ANNOTATIONS

# traces.parquet column -> name in the working batch (the server's token counts are kept apart from ours).
TRACE_COLUMNS = {
    "trace_id": "trace_id",
    "question_id": "question_id",
    "teacher": "teacher",
    "reasoning": "reasoning",
    "answer": "answer",
    "finish_reason": "finish_reason",  # correctness: a reply cut before its reasoning closed has no answer
    "response_hash": "response_hash",
    "source_correct": "source_correct",  # an imported trace's own correctness flag (the correctness annotator)
    **SERVER_COLUMNS,
}
# questions.parquet column -> name in the working batch (the source's own domain label is kept apart).
QUESTION_COLUMNS = {
    "question": "question",
    "reference_answer": "reference_answer",
    "source": "question_source",  # correctness: a generated question is scored by its task's own scorer
    "source_row": "question_source_row",
    "other_answer": "other_answer",
    "other_model": "other_model",
    "domain": "source_domain",
}
# Annotation columns taken from the traces on every run, never from the previous annotations.
FROM_TRACES = frozenset({"question_id", "response_hash"})


@dataclass
class AnnotateResult:
    annotations: Path
    embeddings: Path | None
    rows: int
    annotators: list[str]  # every annotator that ran, requested or brought along
    methods: dict[str, str]
    counts: dict[str, dict[str, int]]
    usage: dict[str, int]
    domain_accuracy: float | None = None  # against the source's domain labels (builtin:sample), when present
    domain_labelled: int = 0
    added: list[str] = field(default_factory=list)  # annotators run because a requested one needs their columns
    extra: dict[str, Any] = field(default_factory=dict)

    def total(self, key: str) -> int:
        return sum(c.get(key, 0) for c in self.counts.values())

    @property
    def bad_replies(self) -> int:
        return self.total("bad_replies") + self.total("cut_replies")

    @property
    def failed(self) -> int:
        return self.total("failed")

    @property
    def model_rows(self) -> int:
        """Rows some annotator asked a model about (a row asked by two annotators counts twice)."""
        return self.total("asked")


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
            kept = [c for c in pq.read_schema(run.annotations).names if c not in rewritten and c not in FROM_TRACES]
            previous = pq.read_table(run.annotations, columns=kept)
            self.previous = _Index(previous, "trace_id", {c: c for c in kept if c != "trace_id"})

    def join(self, batch: pa.RecordBatch) -> pa.Table:
        table = pa.Table.from_batches([batch])
        table = table.rename_columns([TRACE_COLUMNS.get(name, name) for name in table.column_names])
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


def _annotation_rows(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The working batch cut down to tables.ANNOTATIONS (columns nobody filled are null)."""
    arrays = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _domain_hits(table: pa.Table) -> tuple[int, int]:
    """(correct, labelled) for the predicted domain against the source's label."""
    if "source_domain" not in table.column_names or "domain" not in table.column_names:
        return 0, 0
    labelled = pc.is_valid(table.column("source_domain"))
    same = pc.and_(labelled, pc.equal(table.column("domain"), table.column("source_domain")))
    return int(pc.sum(pc.fill_null(same, False)).as_py() or 0), int(pc.sum(labelled).as_py() or 0)


def _normalised(only: list[str] | None) -> list[str] | None:
    """``only`` in run order without repeats (the same set is the same config); unknown names kept for check()."""
    if only is None:
        return None
    names = list(dict.fromkeys(only))
    return [n for n in ANNOTATOR_NAMES if n in names] + [n for n in names if n not in ANNOTATOR_NAMES]


class AnnotateStage(Stage):
    """``nt annotate``: label every trace. ``AnnotateStage(config, only=["strategies"])`` runs a subset and keeps
    the other annotators' columns (and their traces fingerprints) from the previous ``annotations.parquet``."""

    name = "annotate"
    reads = ("traces.parquet", "questions.parquet", "its own annotations.parquet (kept columns)", "the models' files")
    writes = ("annotations.parquet", "embeddings.parquet")
    config_model = AnnotateConfig

    def __init__(self, config: AnnotateConfig | None = None, *, only: list[str] | None = None) -> None:
        super().__init__(config, only=_normalised(only))

    @property
    def annotate_config(self) -> AnnotateConfig:
        return self.config  # type: ignore[return-value]

    def names(self) -> list[str]:
        """The requested annotators in run order (``only``, else the config's ``annotators``)."""
        return resolve(self.args["only"], self.annotate_config)

    def check(self, run: RunDir) -> None:
        for name in self.names():
            annotator_class(name, method_of(name, self.annotate_config))

    def inputs(self, run: RunDir) -> list[Path]:
        """The traces and questions, and the models annotators may call: the engines' files and the embedder."""
        from naturalthoughts.annotate.embedder import bundled_model_dir
        from naturalthoughts.errors import NTError

        config = self.annotate_config
        engines = [config.annotator_engine, config.judge_engine, config.disagree.second_engine]
        models = [path for engine in engines if engine is not None for path in engine.model_files()]
        try:
            embedder = Path(config.embeddings.model) if config.embeddings.model else bundled_model_dir()
        except NTError:  # not installed: the annotators that need it say so when they run
            embedder = None
        if embedder is not None and embedder.exists():
            models.append(embedder)
        return [run.traces, run.questions, *dict.fromkeys(models)]

    def outputs(self, run: RunDir) -> list[Path]:
        return [run.annotations, *([run.embeddings] if "embeddings" in self.names() else [])]

    def run(self, ctx: StageContext) -> StageResult:
        run, config = ctx.run, self.annotate_config
        traces_path = run.require("traces")
        run.require("questions")
        requested = self.names()
        known = annotator_freshness(run) if run.annotations.exists() else {}  # what earlier runs computed, per name
        fresh = {name for name, state in known.items() if state == "current"}
        names, added = with_requirements(requested, config, fresh)
        for name in added:
            state = "stale (computed from earlier traces)" if name in known else "missing"
            ctx.progress.note(
                f"annotate: {', '.join(requested)} reads {name}'s columns, which are {state}: running {name} too"
            )
        rows = pq.ParquetFile(traces_path).metadata.num_rows
        actx = AnnotateContext(
            run=run, config=config, progress=ctx.progress, should_stop=ctx.should_stop, rows=rows, attempt=ctx.record_id
        )
        schema = ANNOTATIONS
        started = time.monotonic()
        annotators: list[Annotator] = []
        try:
            annotators = build(names, actx)
            joiner = _Joiner(run, {column for a in annotators for column in a.writes})
            result = _run_batches(run, config, annotators, joiner, schema, ctx)
            for annotator in annotators:
                annotator.finish()
            result.counts = {a.name: dict(Counter(a.counts)) for a in annotators}  # finish() may count too
        except StopRequested:
            for annotator in annotators:
                annotator.abort()
            # A user's stop, not a budget: recorded as interrupted (answered requests are in the response cache)
            raise KeyboardInterrupt("stop requested: answered requests are in the response cache") from None
        except BaseException:
            for annotator in annotators:
                annotator.abort()
            raise
        finally:
            usage = actx.usage()  # recorded even when the run fails or is interrupted
            actx.close()
        result.usage, result.added = usage, added
        return StageResult(
            counts={
                "traces": result.rows,
                "model_rows": result.model_rows,
                "bad_replies": result.bad_replies,
                "failed": result.failed,
            },
            usage=_usage(usage, time.monotonic() - started),
            outputs=[result.annotations, *([result.embeddings] if result.embeddings else [])],
            summary=_summary(result),
            extra=_extra(result, requested, annotators),
            value=result,
        )


def _usage(usage: dict[str, int], seconds: float) -> Usage:
    return Usage.from_dict({**usage, "seconds": seconds})


def _summary(result: AnnotateResult) -> str:
    text = f"{result.rows:,} traces annotated ({', '.join(result.annotators)})"
    if result.model_rows:
        share = result.failed / result.model_rows
        text += f"; {result.model_rows:,} model rows, {result.failed:,} failed ({share:.1%})"
    return text


def _extra(result: AnnotateResult, requested: list[str], annotators: list[Annotator]) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "annotators": result.counts,
        "methods": result.methods,
        "requested": requested,
        "added": result.added,
    }
    notes = [note for a in annotators for note in a.extra.get("notes", [])]
    if notes:
        extra["notes"] = notes
    if result.domain_labelled:
        extra["domain_accuracy"] = {"accuracy": result.domain_accuracy, "labelled": result.domain_labelled}
    return extra


def _run_batches(
    run: RunDir,
    config: AnnotateConfig,
    annotators: list[Annotator],
    joiner: _Joiner,
    schema: pa.Schema,
    ctx: StageContext,
) -> AnnotateResult:
    # pre_buffer=False: with pyarrow's default, iter_batches keeps every column chunk it has read until the file
    # is closed (~0.4 GB per 50,000 R1-length traces), so memory would grow with the pool instead of the batch.
    source = pq.ParquetFile(run.traces, pre_buffer=False)
    columns = [c for c in TRACE_COLUMNS if c in source.schema_arrow.names]
    hits = labelled = rows = 0
    with (
        parquet_writer(run.annotations, schema) as writer,
        ctx.progress.task("annotate", total=source.metadata.num_rows, unit="traces") as task,
    ):
        for batch in source.iter_batches(batch_size=config.batch_rows, columns=columns):
            if ctx.should_stop():
                raise StopRequested("stopped between batches")
            table = joiner.join(batch)
            for annotator in annotators:
                table = _set_columns(table, annotator.annotate(table))
                annotator.ctx.close_finished_tasks()
            writer.write_table(_annotation_rows(table, schema))
            if any(a.name == "domain" for a in annotators):
                batch_hits, batch_labelled = _domain_hits(table)
                hits, labelled = hits + batch_hits, labelled + batch_labelled
            rows += table.num_rows
            task.advance(table.num_rows)
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


# The notebook shortcut: annotate(run, config=None, *, only=None, force=False, quiet=False) (naturalthoughts.shortcuts)
annotate = shortcut("annotate")
