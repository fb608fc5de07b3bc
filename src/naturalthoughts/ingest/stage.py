"""The ingest stage: sources -> ``questions.parquet`` (+ ``rejected.parquet``) in a run directory.

Rows stream through in Arrow batches, each in order through:

1. validation (``invalid``): unreadable or unusable rows;
2. decontamination (``contaminated``): word n-gram overlap with a benchmark question;
3. exact deduplication (``duplicate``): same normalised text as an earlier kept row;
4. near-deduplication (``near_duplicate``): MinHash LSH similarity with an earlier kept row.

The first occurrence is kept. Nothing disappears silently: every removed row goes to
``rejected.parquet`` with its kind, reason and what it matched, and
``read == kept + duplicates + near_duplicates + rejected + contaminated`` is checked and recorded
in the manifest. Without ``skip_bad`` any invalid row fails the stage after every row has been
read (so the error lists all of them) and nothing is written.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from naturalthoughts.atomic import parquet_writer
from naturalthoughts.console import progress
from naturalthoughts.ingest import sources as sources_mod
from naturalthoughts.ingest.config import IngestConfig
from naturalthoughts.ingest.decontamination import BenchmarkIndex
from naturalthoughts.ingest.dedup import NearDuplicates
from naturalthoughts.ingest.text import Words, question_ids, tokenise, words
from naturalthoughts.ingest.validation import BadRow, BadRowsError, bad_rows, validate
from naturalthoughts.manifest import Manifest, fingerprint
from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import QUESTIONS, REJECTED


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

    def counts(self) -> dict[str, int]:
        return {
            k: getattr(self, k) for k in ("read", "kept", "duplicates", "near_duplicates", "rejected", "contaminated")
        }

    @property
    def accounted(self) -> bool:
        return self.read == self.kept + self.duplicates + self.near_duplicates + self.rejected + self.contaminated


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
        rows = batch.take(pa.array(self.index, pa.int64()).take(order))
        return pa.Table.from_arrays(
            [
                rows.column("source"),
                rows.column("source_row"),
                pa.array(self.kind, pa.string()).take(order),
                pa.array(self.reason, pa.string()).take(order),
                rows.column("question"),
                pa.array(self.matched, pa.string()).take(order),
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

    def process(self, batch: pa.Table, near_dup: bool = True) -> tuple[pa.Table, pa.Table] | None:
        """(kept rows in the QUESTIONS schema, removed rows in the REJECTED schema); None once failing.

        ``near_dup=False`` skips near-duplicate detection for this batch (templated sources)."""
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
        keep = self._exact(candidates, ids, keep, removed)
        if near_dup:
            keep = self._near(candidates, text_words, ids, keep, removed)
        removed.repoint_duplicates(self.kept_as)

        kept_index = [int(candidates[j]) for j in keep]
        kept = batch.take(pa.array(kept_index, pa.int64()))
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
        return questions, removed.table(batch)

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

    def _exact(self, candidates, ids, keep: list[int], removed: _Removed) -> list[int]:
        out = []
        for j in keep:
            first = self.kept_as.get(ids[j])
            if first is None:
                self.kept_as[ids[j]] = ids[j]
                out.append(j)
                continue
            removed.add(int(candidates[j]), "duplicate", _duplicate_reason(first), first)
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
    """Runs Parquet writes on one thread, in order, at most ``depth`` behind (compression releases the GIL)."""

    def __init__(self, depth: int = 4) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer")
        self.pending: deque[Future] = deque()
        self.depth = depth

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self.pending.append(self.pool.submit(fn, *args))
        while len(self.pending) > self.depth:
            self.pending.popleft().result()

    def __enter__(self) -> _BackgroundWrites:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown(wait=True)


def _resolve_all(specs: list[str]) -> list[sources_mod.Source]:
    resolved: list[sources_mod.Source] = []
    for spec in specs:
        resolved.extend(sources_mod.resolve(spec))
    return resolved


def _total_rows(resolved: list[sources_mod.Source]) -> int | None:
    totals = [s.total_rows() for s in resolved]
    return None if any(t is None for t in totals) else sum(totals)  # type: ignore[arg-type]


def ingest(
    sources: list[str],
    run: RunDir | str | os.PathLike[str],
    config: IngestConfig | None = None,
    show_progress: bool = False,
) -> IngestResult:
    """Read ``sources`` into ``run``'s questions.parquet and rejected.parquet; see the module docstring.

    Raises :class:`~naturalthoughts.ingest.validation.BadRowsError` (listing every bad row) when
    rows are invalid and ``config.skip_bad`` is false.
    """
    config = config or IngestConfig()
    run = run if isinstance(run, RunDir) else RunDir(run)
    run.ensure()
    manifest = Manifest(run.manifest)
    with manifest.stage("ingest", config.model_dump(mode="json")) as record:
        record.extra["sources"] = list(sources)
        resolved = _resolve_all(sources)
        record.inputs = {str(p): fingerprint(p) for s in resolved for p in s.input_paths()}
        benchmark_sources = config.benchmark_sources()
        index = (
            BenchmarkIndex.load(benchmark_sources, config.decontam_ngram, config.decontam_min_shared)
            if benchmark_sources
            else None
        )
        if index is not None:
            record.extra["decontaminated_against"] = dict(index.sizes)
        pipeline = _Pipeline(config, index)
        bar = progress() if show_progress else contextlib.nullcontext()
        with (
            bar,
            parquet_writer(run.questions, QUESTIONS) as kept_out,
            parquet_writer(run.rejected, REJECTED) as rejected_out,
        ):
            task = bar.add_task("ingest", total=_total_rows(resolved)) if show_progress else None
            with _BackgroundWrites() as writes:
                for source in resolved:
                    for batch in _prefetched(source.batches(config.columns, config.batch_rows)):
                        outcome = pipeline.process(batch, near_dup=not source.templated)
                        if show_progress:
                            bar.update(task, advance=batch.num_rows)
                        if outcome is not None:
                            writes.submit(kept_out.write_table, outcome[0])
                            writes.submit(rejected_out.write_table, outcome[1])
            result = pipeline.result
            record.counts = result.counts()
            if result.bad_rows and not config.skip_bad:
                raise BadRowsError(result.bad_rows, result.read)
        if not result.accounted:  # a bug, not bad input: every row read must be kept or removed with a reason
            raise RuntimeError(f"ingest lost rows: {result.counts()}")
        record.extra["contaminated_by"] = dict(result.contaminated_by)
        result.questions_path, result.rejected_path = run.questions, run.rejected
    return result


def summary_rows(result: IngestResult) -> list[tuple[str, Any]]:
    """(label, value) rows of the end-of-stage summary, shared by the CLI and notebooks."""
    return [
        ("read", result.read),
        ("kept", result.kept),
        ("duplicates (exact)", result.duplicates),
        ("near-duplicates", result.near_duplicates),
        ("rejected (invalid)", result.rejected),
        ("contaminated", result.contaminated),
    ]
