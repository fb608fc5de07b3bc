"""The generate stage: teacher traces for every question in questions.parquet, streamed, resumable and budgeted.

The response cache (``RunDir.cache_db``) is the source of truth: every finished response is committed there the
moment it arrives, so a run killed at any point (SIGKILL included) loses only what was in flight. The plan is
worked a chunk at a time: ``chunk_size`` jobs are built from a batch of questions, answered through the cached
engine (hits from SQLite, misses from the model), turned into rows and written to ``traces.parquet`` by a
streaming Parquet writer, so memory holds one chunk of replies whatever the pool's size. The file appears (by
rename) only when every row is written; a killed run leaves a temporary file that the next run removes, and the
next run rebuilds the whole file from the cache.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from naturalthoughts.atomic import parquet_writer, writer_thread
from naturalthoughts.engines import CachedEngine, ChatResult, Engine, ResponseCache, engine_identity
from naturalthoughts.errors import ConfigError, EngineFailure, Fix
from naturalthoughts.generate.config import GenerateConfig
from naturalthoughts.generate.control import BUDGET_SCOPE, Progress, StopControl, budget_ledger
from naturalthoughts.generate.engine import EVERY_KEY, chunk_size, open_engine, tokens_per_trace, with_thinking
from naturalthoughts.generate.failures import engine_failure, unset_api_key
from naturalthoughts.generate.ledger import Ledger, Spend
from naturalthoughts.generate.plan import Job, Plan, build_plan, effective_max_tokens
from naturalthoughts.generate.prompts import load_template
from naturalthoughts.generate.traces import (
    ORIGIN_IMPORTED,
    STATUS_FAILED,
    STATUS_INCOMPLETE,
    ExistingTraces,
    TraceCounts,
    count_origin,
    imported_samples,
    imported_tables,
    row_tables,
    trace_row,
)
from naturalthoughts.rundir import RunDir
from naturalthoughts.shortcuts import shortcut
from naturalthoughts.stage import Stage, StageContext, StageResult
from naturalthoughts.tables import TRACES

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from naturalthoughts.pipeline import PipelinePlan


@dataclass
class GenerateResult:
    """What a generate run did: row counts, usage (tokens, cost, time) and why it stopped early, if it did."""

    traces: Path
    counts: dict[str, int]
    usage: dict[str, Any]
    teacher: str
    prompt_template: str
    max_tokens: int
    stopped: str | None = None
    notes: list[str] = field(default_factory=list)
    budget: dict[str, Any] = field(default_factory=dict)  # spent vs budget, earlier runs included


# ---- engines ---------------------------------------------------------------------------------------------------


def as_rundir(run: RunDir | str | os.PathLike[str]) -> RunDir:
    return run if isinstance(run, RunDir) else RunDir(run)


# ---- stopping --------------------------------------------------------------------------------------------------


# ---- the stage -------------------------------------------------------------------------------------------------


class GenerateStageBase(Stage):
    """What the generate and estimate stages share: config, fingerprint, inputs, checks and notes."""

    config_model = GenerateConfig

    @property
    def cfg(self) -> GenerateConfig:
        return self.config  # type: ignore[return-value]

    def recorded_config(self) -> dict[str, Any]:
        """The config as recorded, with the thinking budget and stop sequences resolved (so a change of their
        defaults is a change of config)."""
        config = self.cfg
        max_tokens, _ = effective_max_tokens(config)
        thinking = config.thinking_budget(max_tokens).model_dump(mode="json")
        return {**super().recorded_config(), "thinking": thinking, "stop": list(config.stop_sequences())}

    def inputs(self, run: RunDir) -> list[Path]:
        """The questions and the teacher's model files. (Retrying, it also reads its own earlier traces.parquet: an
        output, whose changes the runner checks as such.)"""
        return [run.questions, *self.cfg.engine.model_files()]

    def check(self, run: RunDir) -> None:
        config = self.cfg
        load_template(config.prompt_template, config.engine)  # a missing template file fails before any stage runs
        problem = config.engine.continuation_problem()
        if config.thinking_budget().enabled and problem is not None:
            raise ConfigError(f"generate.thinking needs an engine that continues an assistant message: {problem}")

    def _notes(self, ctx: StageContext, plan: Plan) -> list[str]:
        budget = self.cfg.thinking_budget(plan.max_tokens)
        # A budget with both phase limits set never asks for max_tokens, so its clamp is not worth a word.
        phases_capped = budget.enabled and budget.budget is not None and budget.answer_max_tokens is not None
        notes = [plan.clamp_note] if plan.clamp_note and not phases_capped else []
        name = unset_api_key(self.cfg.engine)
        if name:
            notes.append(f"the API key variable {name} is not set: requests go without an API key")
        config = self.cfg
        if config.max_cost is not None and not (config.price_input_per_million or config.price_output_per_million):
            notes.append("max_cost has no effect without prices (price_input_per_million, price_output_per_million): "
                         "spend counts as $0")  # fmt: skip
        for note in notes:
            ctx.progress.note(note)
        return notes


class GenerateStage(GenerateStageBase):
    """``nt generate``: ``questions.parquet`` -> ``traces.parquet`` (one row per question and sample).

    ``GenerateStage(GenerateConfig(...))``, run through :class:`naturalthoughts.runner.Runner`. Returns a
    :class:`GenerateResult` as ``value``; ``stopped`` names the budget that ended it early (rows not sent then
    read ``not sent: <budget> reached``; rerun with a larger budget to resume). Raises
    :class:`~naturalthoughts.errors.EngineFailure` after writing the traces when the requests mostly failed.
    """

    name = "generate"
    reads = ("questions.parquet", "the teacher's model files", "its own traces.parquet (when retrying)")
    writes = ("traces.parquet",)

    def outputs(self, run: RunDir) -> list[Path]:
        return [run.traces]

    @classmethod
    def pipeline_stages(cls, plan: PipelinePlan) -> list[Stage]:
        """One generate stage, none when a source carries traces (imported: nothing to generate) unless
        ``generate.imported: add`` asks for more samples beside them."""
        config = plan.section(cls.name)
        if config is None or (plan.sources_carry_traces and config.imported != "add"):
            return []
        return [cls(config)]

    def run(self, ctx: StageContext) -> StageResult:
        config = self.cfg
        run = ctx.run
        imported = imported_traces(run, config)
        plan = build_plan(run, config, engine_identity, imported_samples(run.traces) if imported else None)
        notes = self._notes(ctx, plan)
        existing = ExistingTraces.open(run.traces) if config.retry else None
        counts = TraceCounts(questions=plan.questions)
        retried = 0
        with ExitStack() as stack:
            cache = stack.enter_context(ResponseCache(run.cache_db))
            ledger, recorder = budget_ledger(config, cache, ctx)
            stop = StopControl(ledger, config, ctx.should_stop)
            progress = Progress(ledger)
            cached = stack.enter_context(open_engine(config, cache, progress.sent, recorder))
            budget = config.thinking_budget(plan.max_tokens)
            engine = with_thinking(cached, budget, progress.phase)
            writer = stack.enter_context(parquet_writer(run.traces, TRACES))
            for table in imported_tables(run.traces) if imported else ():  # kept as they are, before the new ones
                writer.write_table(table)
            cap = tokens_per_trace(budget, plan.max_tokens)
            progress.task = stack.enter_context(
                ctx.progress.task("generate", total=plan.total, unit="traces", tokens_per_item=cap)
            )
            chunks = _Chunks(plan, chunk_size(config), engine, cached, ledger, stop, progress, existing, config.retry)
            # Compression and Parquet encoding release the GIL: a chunk is written on a second thread while the
            # next one is answered (at most one chunk waits, so memory stays at two chunks).
            pool = stack.enter_context(writer_thread("traces-writer"))
            written: Future[None] | None = None
            for rows in chunks:
                tables = list(row_tables(rows))
                if written is not None:
                    written.result()
                written = pool.submit(_write_tables, writer, tables)
                counts.add(rows)
            if written is not None:
                written.result()
            progress.flush()
            retried = chunks.retried
            try:
                result = self._result(ctx, plan, config, ledger, stop, counts, notes, retried, ledger.carried)
            except EngineFailure as error:
                failure = error  # raised once the writer has closed: the rows, errors included, are kept
            else:
                failure = None
                if result.status == "done":  # the work is finished: a budget counts afresh from here
                    cache.close_budget(BUDGET_SCOPE, recorder.attempt)
        if failure is not None:
            raise failure
        if imported:
            result.extra["imported_traces_kept"] = imported
            result.summary += f" · {imported:,} imported traces kept"
        return result

    def _result(
        self,
        ctx: StageContext,
        plan: Plan,
        config: GenerateConfig,
        ledger: Ledger,
        stop: StopControl,
        counts: TraceCounts,
        notes: list[str],
        retried: int,
        carried: Spend,
    ) -> StageResult:
        usage = ledger.usage()
        stopped = None
        if stop.kind == "budget" and counts.not_sent:
            overshoot = ledger.overshoot()
            stopped = stop.reason + (f"; {overshoot}" if overshoot else "") + f"; {counts.not_sent:,} not sent"
        elif ledger.overshoot():
            notes.append(f"budget reached with nothing left to send: {ledger.overshoot()}")
        if stop.kind == "failures" or ledger.failing(config.failure_share, config.failure_min_sent):
            ctx.log.info("generate usage before the failure: %s", usage)
            raise engine_failure(ledger, config.engine, "generate")
        value = GenerateResult(
            traces=ctx.run.traces,
            counts=counts.as_dict(),
            usage=usage,
            teacher=plan.teacher,
            prompt_template=plan.template.name,
            max_tokens=plan.max_tokens,
            stopped=stopped,
            notes=notes,
            budget=ledger.budget_status(),
        )
        extra: dict[str, Any] = {
            "teacher": plan.teacher,
            "prompt_template": plan.template.name,
            "effective_max_tokens": plan.max_tokens,
            "finish_reasons": counts.by_finish_reason,
            "retried_rows": retried if config.retry else None,
            "notes": notes,
        }
        if carried.requests:
            extra["spend_carried_from_earlier_runs"] = {
                "requests_sent": carried.requests,
                "total_tokens": carried.total_tokens,
                "cost_usd": round(carried.cost_usd, 6),
                "reserved_in_flight": carried.reserved,
                "estimated_in_flight": carried.estimated,
            }
        extra["budget"] = ledger.budget_status()
        if ledger.errors:
            message, count = ledger.commonest_error()
            extra["commonest_error"] = {"message": message, "count": count}
        return StageResult(
            counts=counts.as_dict(),
            usage=ledger.stage_usage(),
            outputs=[ctx.run.traces],
            summary=_summary(counts, ledger),
            extra=extra,
            stopped=stopped,
            value=value,
        )


def imported_traces(run: RunDir, config: GenerateConfig) -> int:
    """How many imported traces traces.parquet holds (0: none, or no file); refuses unless ``imported: add``."""
    if not run.traces.exists():
        return 0
    imported = count_origin(run.traces, ORIGIN_IMPORTED)
    if imported and config.imported == "refuse":
        raise ConfigError(
            f"{run.traces} holds {imported:,} traces the ingest stage imported: generating would replace them. "
            "Annotate and select them as they are, generate `samples` more per question beside them ({fix}, or "
            "generate.imported: add), or generate into a new run directory.",
            fix=Fix("", add_to_imported=True),
        )
    return imported


def _write_tables(writer: pq.ParquetWriter, tables: list[pa.Table]) -> None:
    for table in tables:
        writer.write_table(table)


def _summary(counts: TraceCounts, ledger: Ledger) -> str:
    forced = f" ({counts.forced:,} closed by the thinking budget)" if counts.forced else ""
    text = (
        f"{counts.rows:,} traces for {counts.questions:,} questions: {counts.complete:,} complete{forced}, "
        f"{counts.incomplete:,} incomplete, {counts.errors:,} errors, {counts.not_sent:,} not sent · "
        f"{ledger.requests_sent:,} sent, {ledger.cache_hits:,} cached"
    )
    if ledger.prices.input_per_million or ledger.prices.output_per_million:
        text += f" · ${ledger.cost_usd:,.4f}"
    return text


class _Chunks:
    """Iterates the plan a chunk at a time and yields each chunk's rows, in plan order.

    Without ``--retry`` every job is sent through the cached engine (hits cost nothing). With it, rows of the
    earlier file whose status is not named are copied as they are; the named ones are sent again bypassing the
    cache (an incomplete reply is cached, so it must be bypassed to be regenerated), and a retried row that a
    budget left unsent keeps the row it had.
    """

    def __init__(
        self,
        plan: Plan,
        chunk_size: int,
        engine: Engine,
        cached: CachedEngine,
        ledger: Ledger,
        stop: StopControl,
        progress: Progress,
        existing: ExistingTraces | None = None,
        retry: Collection[str] = (),
    ) -> None:
        self.plan, self.chunk_size, self.engine, self.cached = plan, chunk_size, engine, cached
        self.ledger, self.stop, self.progress, self.existing = ledger, stop, progress, existing
        wanted = {"incomplete": STATUS_INCOMPLETE, "failed": STATUS_FAILED}
        self.statuses = {wanted[kind] for kind in retry}
        self.retried = 0

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        for chunk in self.plan.chunks(self.chunk_size):
            yield self.rows(chunk)

    def rows(self, chunk: list[Job]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [{}] * len(chunk)
        fresh: list[int] = []  # positions with no earlier row: sent as usual (cache first)
        again: list[int] = []  # positions --retry names: regenerated (cache bypassed)
        keep: list[int] = []  # positions whose earlier row is copied
        earlier: dict[int, int] = {}  # position -> row index in the earlier file
        for position, job in enumerate(chunk):
            found = self.existing.find(job) if self.existing is not None else None
            if found is None:
                fresh.append(position)
                continue
            earlier[position] = found[0]
            (again if found[1] in self.statuses else keep).append(position)
        self._copy(rows, keep, earlier)
        self.progress.advance(len(keep))
        self.retried += len(again)
        for positions, refresh in ((fresh, frozenset()), (again, EVERY_KEY)):
            if positions:
                self.cached.refresh = refresh
                results = self.send([chunk[p] for p in positions])
                for position, result in zip(positions, results, strict=True):
                    rows[position] = trace_row(chunk[position], self.plan.teacher, result, self.stop.reason)
        self._copy(rows, [p for p in again if rows[p]["finish_reason"] == "not_sent"], earlier)
        return rows

    def _copy(self, rows: list[dict[str, Any]], positions: list[int], earlier: dict[int, int]) -> None:
        if positions and self.existing is not None:
            for position, row in zip(positions, self.existing.rows([earlier[p] for p in positions]), strict=True):
                rows[position] = row

    def send(self, jobs: list[Job]) -> list[ChatResult]:
        return send(self.engine, jobs, self.ledger, self.progress, self.stop)


def send(engine: Engine, jobs: list[Job], ledger: Ledger, progress: Progress, stop: StopControl) -> list[ChatResult]:
    """Answer ``jobs`` through ``engine``, counting each finished trace in the ledger and the progress."""

    def on_result(index: int, result: ChatResult) -> None:
        ledger.record(result)
        progress.advance(result=result)

    return engine.generate([job.request for job in jobs], on_result, stop)


# ---- notebook shortcut -----------------------------------------------------------------------------------------

# generate(run, config=None, *, force=False, quiet=False) -> StageOutcome (naturalthoughts.shortcuts)
generate = shortcut("generate")
