"""The ingest stage: sources -> ``questions.parquet`` (+ ``rejected.parquet``) in a run directory.

Rows stream through in Arrow batches, each in order through:

1. validation (``invalid``): unreadable or unusable rows;
2. decontamination (``contaminated``): word n-gram overlap with a benchmark question;
3. exact deduplication (``duplicate``): same normalised text as an earlier kept row;
4. near-deduplication (``near_duplicate``): MinHash LSH similarity with an earlier kept row.

The first occurrence is kept. Nothing disappears silently: every removed row goes to
``rejected.parquet`` with its kind, reason and what it matched (and, for invalid rows, its text as
read), and ``read == kept + duplicates + near_duplicates + rejected + contaminated`` is checked and
recorded in the manifest. Without ``skip_bad`` any invalid row fails the stage after every row has
been read (so the error lists all of them) and nothing is written. A pool with no question left is
an error too (nothing to generate for) unless ``allow_empty``.

Whether the questions changed is the runner's to tell (the manifest records the digest of the
``questions.parquet`` every stage read); re-ingesting into a run that already has traces of other questions says so.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.atomic import parquet_writer, writer_thread
from naturalthoughts.errors import BadInputError, ConfigError, Fix
from naturalthoughts.generate.traces import ORIGIN_GENERATED, count_origin
from naturalthoughts.ingest import sources as sources_mod
from naturalthoughts.ingest.config import ColumnMap, IngestConfig
from naturalthoughts.ingest.decontamination import BenchmarkIndex
from naturalthoughts.ingest.dedup import NearDuplicates
from naturalthoughts.ingest.imported import Importer
from naturalthoughts.ingest.layouts import TraceSourceSpec, imports_traces, spec_of
from naturalthoughts.ingest.text import Words, question_ids, tokenise, words
from naturalthoughts.ingest.trace_sources import TraceSource, resolve_traces
from naturalthoughts.ingest.validation import BadRow, BadRowsError, bad_rows, validate
from naturalthoughts.rundir import RunDir
from naturalthoughts.shortcuts import shortcut
from naturalthoughts.stage import Stage, StageContext, StageResult
from naturalthoughts.tables import QUESTIONS, REJECTED, TRACES

if TYPE_CHECKING:
    from naturalthoughts.pipeline import PipelinePlan


@dataclass
class IngestResult:
    read: int = 0
    kept: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    rejected: int = 0  # invalid rows (only with skip_bad; otherwise the stage fails)
    contaminated: int = 0
    contaminated_by: Counter[str] = field(default_factory=Counter)  # benchmark name -> rows removed
    bad_rows: list[BadRow] = field(default_factory=list)
    questions_path: Path | None = None
    rejected_path: Path | None = None
    # Trace sources: rows that added a response to a question kept before (the 2nd.. sample of a question), and
    # every trace written to traces.parquet (None: no trace source, nothing written there).
    samples: int = 0
    traces: int | None = None
    traces_path: Path | None = None

    def counts(self) -> dict[str, int]:
        names = ["read", "kept", "duplicates", "near_duplicates", "rejected", "contaminated"]
        if self.traces is not None:
            names[2:2] = ["samples", "traces"]
        return {k: getattr(self, k) for k in names}

    @property
    def accounted(self) -> bool:
        removed = self.duplicates + self.near_duplicates + self.rejected + self.contaminated
        return self.read == self.kept + self.samples + removed


def _duplicate_reason(kept_id: str) -> str:
    return f"same normalised text as kept question {kept_id}"


@dataclass
class _Removed:
    """Rows removed from one batch, gathered column by column for rejected.parquet."""

    index: list[int] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)
    matched: list[str | None] = field(default_factory=list)

    def add(self, index: int, kind: str, reason: str, matched: str | None) -> None:
        self.index.append(index)
        self.kind.append(kind)
        self.reason.append(reason)
        self.matched.append(matched)

    def repoint_duplicates(self, kept_as: dict[str, str]) -> None:
        """An exact copy of a row that near-dedup removed later in the same batch points at the kept question."""
        for i, (kind, matched) in enumerate(zip(self.kind, self.matched, strict=True)):
            if kind == "duplicate" and matched is not None and kept_as.get(matched, matched) != matched:
                self.matched[i] = kept_as[matched]
                self.reason[i] = _duplicate_reason(kept_as[matched])

    def table(self, batch: pa.Table) -> pa.Table:
        """The removed rows in input order (they were gathered stage by stage)."""
        order = pa.array(np.argsort(np.asarray(self.index, np.int64), kind="stable"))
        taken = pa.array(self.index, pa.int64()).take(order)
        rows = batch.select(["source", "source_row", "question", "raw"]).take(taken)
        return pa.Table.from_arrays(
            [
                rows.column("source"),
                rows.column("source_row"),
                pa.array(self.kind, pa.string()).take(order),
                pa.array(self.reason, pa.string()).take(order),
                rows.column("question"),
                pa.array(self.matched, pa.string()).take(order),
                rows.column("raw"),
            ],
            schema=REJECTED,
        )


class _Pipeline:
    """Decides, batch by batch, which rows are kept; holds the state that spans batches."""

    def __init__(self, config: IngestConfig, index: BenchmarkIndex | None) -> None:
        self.config, self.index = config, index
        self.near = (
            NearDuplicates(
                config.near_dup_threshold, config.near_dup_num_perm, config.near_dup_shingle, config.near_dup_seed
            )
            if config.near_dup
            else None
        )
        self.kept_as: dict[str, str] = {}  # question id -> id of the kept question it resolves to
        self.result = IngestResult()

    def process(self, batch: pa.Table, near_dup: bool = True, traces: bool = False) -> _Outcome | None:
        """Kept questions, removed rows and (``traces``) the rows whose responses are kept; None once failing.

        ``near_dup=False`` skips near-duplicate detection for this batch (templated sources). With ``traces`` (a
        trace source), a row whose question was kept before is not a duplicate: its response is another sample."""
        batch = validate(batch, self.config.max_question_chars)
        self.result.read += batch.num_rows
        invalid = bad_rows(batch)
        self.result.bad_rows.extend(invalid)
        if self.result.bad_rows and not self.config.skip_bad:
            return None  # keep reading to list every bad row, skip the rest of the work
        removed = _Removed()
        is_invalid = pc.is_valid(batch.column("invalid")).to_numpy(zero_copy_only=False)
        for i, reason in zip(
            is_invalid.nonzero()[0].tolist(), batch.column("invalid").drop_null().to_pylist(), strict=True
        ):
            removed.add(i, "invalid", reason, None)
        self.result.rejected += len(invalid)

        candidates = (~is_invalid).nonzero()[0]
        normalised, tokens = tokenise(batch.column("question").take(pa.array(candidates)))
        ids = question_ids(normalised)
        text_words = words(tokens)
        keep = self._decontaminate(candidates, text_words, ids, removed)
        keep, samples = self._exact(candidates, ids, keep, removed, traces)
        if near_dup:
            keep = self._near(candidates, text_words, ids, keep, removed)
        samples = self._still_kept(candidates, ids, samples, removed)
        removed.repoint_duplicates(self.kept_as)

        kept_index = [int(candidates[j]) for j in keep]
        question_columns = [
            "question",
            "reference_answer",
            "source",
            "source_row",
            "other_answer",
            "other_model",
            "domain",
        ]  # fmt: skip - not a trace source's responses (16 kB a row): only these are taken
        kept = batch.select(question_columns).take(pa.array(kept_index, pa.int64()))
        self.result.kept += len(kept_index)
        questions = pa.Table.from_arrays(
            [
                pa.array([ids[j] for j in keep], pa.string()),
                kept.column("question"),
                kept.column("reference_answer"),
                kept.column("source"),
                kept.column("source_row"),
                kept.column("other_answer"),
                kept.column("other_model"),
                kept.column("domain"),
            ],
            schema=QUESTIONS,
        )
        if not traces:
            return _Outcome(questions, removed.table(batch))
        responding = sorted(keep + samples)  # input order: a question's first response is its sample 0
        rows = [int(candidates[j]) for j in responding]
        # Usually every row gives a trace: then the batch is used as it is (no copy of its responses).
        staged = batch if rows == list(range(batch.num_rows)) else batch.take(pa.array(rows, pa.int64()))
        return _Outcome(questions, removed.table(batch), staged, [ids[j] for j in responding])

    def _decontaminate(self, candidates, text_words: Words, ids, removed: _Removed) -> list[int]:
        if self.index is None:
            return list(range(len(ids)))
        keep = []
        for j, hit in enumerate(self.index.check(text_words, ids)):
            if hit is None:
                keep.append(j)
                continue
            removed.add(int(candidates[j]), "contaminated", hit.reason, hit.matched)
            self.result.contaminated += 1
            self.result.contaminated_by[hit.matched.split(":", 1)[0]] += 1
        return keep

    def _exact(self, candidates, ids, keep: list[int], removed: _Removed, traces: bool) -> tuple[list[int], list[int]]:
        """(rows with a new question, rows of a trace source whose question was kept before: more samples)."""
        out, samples = [], []
        for j in keep:
            first = self.kept_as.get(ids[j])
            if first is None:
                self.kept_as[ids[j]] = ids[j]
                out.append(j)
            elif traces and first == ids[j]:
                samples.append(j)
            else:
                removed.add(int(candidates[j]), "duplicate", _duplicate_reason(first), first)
                self.result.duplicates += 1
        return out, samples

    def _still_kept(self, candidates, ids, samples: list[int], removed: _Removed) -> list[int]:
        """The sample rows whose question is still kept (near-dedup may have removed it later in the batch)."""
        out = []
        for j in samples:
            kept = self.kept_as[ids[j]]
            if kept == ids[j]:
                out.append(j)
                continue
            removed.add(int(candidates[j]), "duplicate", _duplicate_reason(kept), kept)
            self.result.duplicates += 1
        return out

    def _near(self, candidates, text_words: Words, ids, keep: list[int], removed: _Removed) -> list[int]:
        if self.near is None or not keep:
            return keep
        matches = self.near.check(text_words.select(np.asarray(keep, np.int64)), [ids[j] for j in keep])
        out = []
        for j, match in zip(keep, matches, strict=True):
            if match is None:
                out.append(j)
                continue
            kept_id, similarity = match
            self.kept_as[ids[j]] = kept_id  # a later exact copy of this row points at the kept one
            removed.add(
                int(candidates[j]),
                "near_duplicate",
                f"estimated Jaccard {similarity:.2f} >= {self.config.near_dup_threshold} with kept question {kept_id}",
                kept_id,
            )
            self.result.near_duplicates += 1
        return out


@dataclass
class _Outcome:
    """What one batch gives: kept questions, removed rows, and for a trace source the rows whose responses are kept
    (in the staging schema) with their question ids."""

    questions: pa.Table
    removed: pa.Table
    staged: pa.Table | None = None
    ids: list[str] = field(default_factory=list)


def _prefetched(batches: Iterator[pa.Table], depth: int = 2) -> Iterator[pa.Table]:
    """Yield ``batches``, reading the next ones on a thread meanwhile (Arrow decoding releases the GIL)."""
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    finished, stop = object(), threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return  # the consumer stopped early
            put(finished)
        except BaseException as exc:  # re-raised in the consumer
            put(exc)

    reader = threading.Thread(target=produce, name="ingest-reader", daemon=True)
    reader.start()
    try:
        while (item := handoff.get()) is not finished:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


class _BackgroundWrites:
    """Runs Parquet writes on ``pool``'s one thread (:func:`~naturalthoughts.atomic.writer_thread`), in order, at
    most ``depth`` behind (compression releases the GIL)."""

    def __init__(self, pool: ThreadPoolExecutor, depth: int = 4) -> None:
        self.pool = pool
        self.pending: deque[Future] = deque()
        self.depth = depth

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self.pending.append(self.pool.submit(fn, *args))
        while len(self.pending) > self.depth:
            self.pending.popleft().result()

    def __enter__(self) -> _BackgroundWrites:
        return self

    def __exit__(self, *exc: object) -> None:
        while self.pending:  # a write's error surfaces here; the writer thread's exit waits for the rest
            self.pending.popleft().result()


SourceEntry = str | dict[str, Any]


@dataclass
class _Resolved:
    """A source to read and the columns it is read through (a source's own under ``sources:``, else the config's)."""

    source: sources_mod.Source | TraceSource
    columns: ColumnMap

    @property
    def traces(self) -> bool:
        return isinstance(self.source, TraceSource)


def _entry(entry: str | dict[str, Any] | TraceSourceSpec) -> SourceEntry:
    """A source as recorded in the manifest: the string, or the spec's given keys."""
    spec = spec_of(entry)
    return spec.model_dump(exclude_none=True) if spec is not None else str(entry)


def _resolve_all(entries: list[SourceEntry], config: IngestConfig) -> list[_Resolved]:
    resolved: list[_Resolved] = []
    for entry in entries:
        spec = spec_of(entry)
        if spec is None:
            resolved.extend(_Resolved(source, config.columns) for source in sources_mod.resolve(str(entry)))
        elif spec.traces is not None:
            resolved.extend(_Resolved(s, config.columns) for s in resolve_traces(spec, config.trace_batch_rows))
        else:
            own = {"question": spec.question_col, "answer": spec.answer_col, "domain": spec.domain_col}
            named = {k: v for k, v in own.items() if v is not None}  # explicit: a source without them is an error
            columns = ColumnMap.model_validate(config.columns.model_dump(exclude_unset=True) | named)
            resolved.extend(_Resolved(source, columns) for source in sources_mod.resolve(spec.source))
    return resolved


def _total_rows(resolved: list[_Resolved]) -> int | None:
    totals = [r.source.total_rows() for r in resolved]
    return None if any(t is None for t in totals) else sum(totals)  # type: ignore[arg-type]


def _source_text(entry: SourceEntry) -> str:
    return entry if isinstance(entry, str) else f"{entry['source']}" + (
        f" (traces: {entry['traces']})" if entry.get("traces") else "")  # fmt: skip


class IngestStage(Stage):
    """``nt ingest``: sources -> ``questions.parquet`` + ``rejected.parquet`` (see the module docstring), and with
    trace sources (``--traces LAYOUT``, or ``traces:`` under ``sources:``) ``traces.parquet`` too.

    ``IngestStage(config, sources=[...])``: strings, or mappings / :class:`TraceSourceSpec` with per-source options.
    Raises :class:`~naturalthoughts.ingest.validation.BadRowsError` (listing every bad row) when rows are invalid and
    ``config.skip_bad`` is false; nothing is written then.
    """

    name = "ingest"
    config_model = IngestConfig
    reads = ("SOURCE files (JSONL, JSON, CSV, Parquet), hf:ID, builtin:sample, reasoning-gym:",)
    writes = ("questions.parquet", "rejected.parquet", "traces.parquet (trace sources)")

    def __init__(
        self, config: IngestConfig | None = None, *, sources: list[str | dict[str, Any] | TraceSourceSpec]
    ) -> None:
        super().__init__(config, sources=[_entry(entry) for entry in sources])
        self._resolved: list[_Resolved] | None = None

    @classmethod
    def pipeline_stages(cls, plan: PipelinePlan) -> list[Stage]:
        return [cls(plan.section(cls.name), sources=plan.config.sources)]

    @property
    def sources(self) -> list[SourceEntry]:
        return self.args["sources"]

    @property
    def imports_traces(self) -> bool:
        """Whether a source carries responses (then this stage writes traces.parquet and generate is not needed)."""
        return imports_traces(self.sources)

    def resolved(self) -> list[_Resolved]:
        if self._resolved is None:
            self._resolved = _resolve_all(self.sources, self.config)  # type: ignore[arg-type]
        return self._resolved

    def check(self, run: RunDir) -> None:
        """No source, a missing file, an unknown reasoning-gym task or a Hub id offline fail here, before any work."""
        if not self.sources:
            raise ConfigError("ingest: no source given; name a file, a folder, builtin:sample, hf:ID or reasoning-gym:")
        self.resolved()

    def inputs(self, run: RunDir) -> list[Path]:
        return [path for r in self.resolved() for path in r.source.input_paths()]

    def outputs(self, run: RunDir) -> list[Path]:
        return [run.questions, run.rejected, *([run.traces] if self.imports_traces else [])]

    def run(self, ctx: StageContext) -> StageResult:
        config: IngestConfig = self.config  # type: ignore[assignment]
        run = ctx.run
        resolved = self.resolved()
        if self.imports_traces:
            refuse_to_replace_generated(run)
        extra: dict[str, Any] = {"sources": list(self.sources)}
        benchmark_sources = config.benchmark_sources()
        index = (
            BenchmarkIndex.load(benchmark_sources, config.decontam_ngram, config.decontam_min_shared)
            if benchmark_sources
            else None
        )
        if index is not None:
            extra["decontaminated_against"] = dict(index.sizes)
        pipeline = _Pipeline(config, index)
        importer = Importer(config.max_trace_tokens) if self.imports_traces else None
        with ExitStack() as stack:
            task = stack.enter_context(ctx.progress.task("ingest", total=_total_rows(resolved)))
            kept_out = stack.enter_context(parquet_writer(run.questions, QUESTIONS))
            rejected_out = stack.enter_context(parquet_writer(run.rejected, REJECTED))
            traces_out = stack.enter_context(parquet_writer(run.traces, TRACES)) if importer is not None else None
            writes = stack.enter_context(_BackgroundWrites(stack.enter_context(writer_thread("ingest-writer"))))
            for item in resolved:
                for batch in _prefetched(item.source.batches(item.columns, config.batch_rows)):
                    outcome = pipeline.process(batch, near_dup=not item.source.templated, traces=item.traces)
                    task.advance(_rows_read(batch, item.traces), stats=f"{pipeline.result.kept:,} kept")
                    if outcome is None:
                        continue
                    writes.submit(kept_out.write_table, outcome.questions)
                    writes.submit(rejected_out.write_table, outcome.removed)
                    if outcome.staged is not None and importer is not None and traces_out is not None:
                        traces, repeats = _import(importer, outcome, item.source, pipeline.result)  # type: ignore[arg-type]
                        writes.submit(traces_out.write_table, traces)
                        if repeats.num_rows:
                            writes.submit(rejected_out.write_table, repeats)
            result = pipeline.result
            if result.bad_rows and not config.skip_bad:
                raise BadRowsError(result.bad_rows, result.read)
            if result.kept == 0 and not config.allow_empty:
                sources = [_source_text(e) for e in self.sources]
                raise BadInputError(empty_pool_message(sources, result), fix=ALLOW_EMPTY)  # nothing is written
        if not result.accounted:  # a bug, not bad input: every row read must be kept or removed with a reason
            raise RuntimeError(f"ingest lost rows: {result.counts()}")
        extra["contaminated_by"] = dict(result.contaminated_by)
        outputs = [run.questions, run.rejected]
        if importer is not None:
            extra["traces"] = _traces_extra(importer, resolved)
            for note in extra["traces"].get("notes", []):
                ctx.progress.note(note)
            result.traces, result.traces_path = importer.counts.traces, run.traces
            outputs.append(run.traces)
        else:
            other = traces_of_other_questions(run)
            if other:
                extra["traces_of_other_questions"] = other
                ctx.progress.note(
                    f"{run.traces} holds traces of {other:,} question(s) that are no longer in {run.questions.name}: "
                    f"run `{Fix('generate').at(run).command_line()}` before annotating or selecting, or ingest into "
                    "a new run directory"
                )
        result.questions_path, result.rejected_path = run.questions, run.rejected
        summary = f"{result.kept:,} questions kept of {result.read:,} read"
        if result.traces is not None:
            summary = (f"{result.traces:,} traces imported ({importer.counts.complete:,} complete) for "  # type: ignore[union-attr]
                       f"{result.kept:,} questions, of {result.read:,} responses read")  # fmt: skip
        if removed := removed_text(result):
            summary += f" ({removed})"
        return StageResult(counts=result.counts(), outputs=outputs, summary=summary, extra=extra, value=result)


def _rows_read(batch: pa.Table, traces: bool) -> int:
    """Source rows in a staging batch: a trace source's record with several responses is one row of the total."""
    return len(pc.unique(batch.column("source_row"))) if traces else batch.num_rows


def _import(
    importer: Importer, outcome: _Outcome, source: TraceSource, result: IngestResult
) -> tuple[pa.Table, pa.Table]:
    """(trace rows of one batch, its repeated responses as rejected rows); counts samples and duplicates."""
    assert outcome.staged is not None
    traces, repeats, repeated = importer.rows(outcome.staged, outcome.ids, source)
    # The batch's new questions were counted as kept; its other kept responses are further samples.
    result.samples += len(outcome.ids) - len(repeats) - outcome.questions.num_rows
    result.duplicates += len(repeats)
    rows = outcome.staged.take(pa.array(repeats, pa.int64()))
    rejected = pa.Table.from_arrays(
        [
            rows.column("source"),
            rows.column("source_row"),
            pa.array(["duplicate"] * len(repeats), pa.string()),
            pa.array([f"same question and response as a trace imported before (question {q})" for q in repeated]),
            rows.column("question"),
            pa.array(repeated, pa.string()),
            pa.nulls(len(repeats), pa.string()),
        ],
        schema=REJECTED,
    )
    return traces, rejected


def _traces_extra(importer: Importer, resolved: list[_Resolved]) -> dict[str, Any]:
    """The manifest's account of the import: counts, and per source its layout, columns, teacher and tokenizer."""
    extra: dict[str, Any] = importer.counts.as_dict()
    extra["sources"] = {r.source.label: r.source.describe() for r in resolved if isinstance(r.source, TraceSource)}
    notes = list(dict.fromkeys(r.source.tokens.note for r in resolved
                               if isinstance(r.source, TraceSource) and r.source.tokens.note))  # fmt: skip
    if notes:
        extra["notes"] = notes
    return extra


def refuse_to_replace_generated(run: RunDir) -> None:
    """Importing traces into a run whose traces.parquet holds generated ones would replace them: refuse."""
    if not run.traces.exists():
        return
    generated = count_origin(run.traces, ORIGIN_GENERATED)
    if generated:
        raise ConfigError(
            f"{run.traces} holds {generated:,} generated traces; importing would replace them. Import into a new run "
            "directory (or delete traces.parquet if you mean to drop them)."
        )


def traces_of_other_questions(run: RunDir) -> int:
    """How many distinct questions of ``traces.parquet`` (if any) are not in ``questions.parquet``."""
    if not run.traces.exists() or not run.questions.exists():
        return 0
    try:
        traced = pc.unique(pq.read_table(run.traces, columns=["question_id"])["question_id"])
    except (pa.ArrowException, OSError, KeyError):
        return 0  # an unreadable traces file is generate's to report; this is only a hint
    current = pq.read_table(run.questions, columns=["id"])["id"]
    return int(pc.sum(pc.invert(pc.is_in(traced, value_set=current.combine_chunks()))).as_py() or 0)


def removed_text(result: IngestResult) -> str:
    """``duplicates 3, rejected 2``: the removed rows by kind (empty when none was removed)."""
    removed = {k: v for k, v in result.counts().items() if k not in ("read", "kept", "samples", "traces") and v}
    return ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in removed.items())


ALLOW_EMPTY = Fix("", allow_empty=True)  # ingest again, writing an empty pool (and rejected.parquet)


def empty_pool_message(sources: list[str], result: IngestResult) -> str:
    """Why no question is left, with what to do (:data:`ALLOW_EMPTY` writes the empty pool and rejected.parquet);
    ``{fix}`` stands for :data:`ALLOW_EMPTY`."""
    where = ", ".join(sources)
    if result.read == 0:
        return (
            f"{where}: no rows to ingest (an empty file, or reasoning-gym:TASK:0): check the source, "
            "or write an empty pool: {fix}"
        )
    examples = "".join(f"\n  {row}" for row in result.bad_rows[:3])
    return (
        f"{where}: no question is left of {result.read:,} rows read ({removed_text(result)}){examples}\n"
        "Nothing was written. Fix the source, or write the empty pool and rejected.parquet with every row's reason: "
        "{fix}."
    )


# The notebook shortcut: ingest(run, config=None, *, sources=[...], force=False) (naturalthoughts.shortcuts)
ingest = shortcut("ingest")


def summary_rows(result: IngestResult) -> list[tuple[str, Any]]:
    """(label, value) rows of the end-of-stage summary, shared by the CLI and notebooks."""
    return [
        ("read", result.read),
        ("kept", result.kept),
        ("more samples of a kept question", result.samples if result.traces is not None else None),
        ("traces imported", result.traces),
        ("duplicates (exact)", result.duplicates),
        ("near-duplicates", result.near_duplicates),
        ("rejected (invalid)", result.rejected),
        ("contaminated", result.contaminated),
    ]
