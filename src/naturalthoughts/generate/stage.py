"""The generate stage: teacher traces for every question in questions.parquet, resumable and budgeted.

The response cache (``RunDir.cache_db``) is the source of truth: every finished response is
committed there the moment it arrives, so a run killed at any point (SIGKILL included) loses only
what was in flight, and ``traces.parquet`` is rebuilt from the cache (plus this run's errors) at
the end of every run, including runs stopped by a budget.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from naturalthoughts.console import err_console
from naturalthoughts.engines import (
    NOT_SENT,
    CachedEngine,
    ChatResult,
    Engine,
    EngineConfig,
    ResponseCache,
    engine_identity,
)
from naturalthoughts.generate.config import GenerateConfig
from naturalthoughts.generate.display import LiveDisplay
from naturalthoughts.generate.ledger import Ledger, Prices
from naturalthoughts.generate.plan import Job, Plan, build_plan
from naturalthoughts.generate.traces import (
    STATUS_FAILED,
    STATUS_INCOMPLETE,
    count_rows,
    read_rows,
    row_status,
    trace_row,
    write_traces,
)
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir


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


@dataclass
class Estimate:
    """Projected spend for the whole pool, from a small sample of real requests."""

    requests_total: int
    requests_cached: int  # already answered before the estimate ran (cost nothing)
    sample_size: int
    sample_sent: int
    mean_prompt_tokens: float
    mean_completion_tokens: float
    sample_incomplete: int  # sampled replies that were not complete (e.g. cut at max_tokens)
    projected_prompt_tokens: int  # for every request not yet cached
    projected_completion_tokens: int
    projected_seconds: float
    projected_cost_usd: float
    usage: dict[str, Any]

    @property
    def requests_to_send(self) -> int:
        return self.requests_total - self.requests_cached - self.sample_sent


def as_rundir(run: RunDir | str | os.PathLike[str]) -> RunDir:
    return run if isinstance(run, RunDir) else RunDir(run)


def engine_config(config: GenerateConfig) -> EngineConfig:
    """The teacher's engine config with ``concurrency`` applied where the engine has such a knob."""
    engine = config.engine
    if config.concurrency is None:
        return engine
    for knob in ("concurrency", "batch_size"):
        if knob in type(engine).model_fields:
            return engine.model_copy(update={knob: config.concurrency})
    return engine


def open_engine(config: GenerateConfig, cache: ResponseCache, refresh: Collection[str] = ()) -> CachedEngine:
    """A cache-fronted engine for the configured executor; the model starts only if a request misses."""
    if config.executor == "ray":
        from naturalthoughts.generate.ray_executor import RayCachedEngine

        return RayCachedEngine(engine_config(config), cache, config.ray, refresh)
    return CachedEngine(engine_config(config), cache, refresh)


def manifest_config(config: GenerateConfig) -> dict[str, Any]:
    # Engine configs name the API key's environment variable, never the key itself.
    return config.model_dump(mode="json")


def _say_once(notes: list[str], quiet: bool) -> None:
    if not quiet:
        for note in notes:
            err_console.print(f"[yellow]note:[/] {note}")


def _run_jobs(
    engine: Engine, jobs: Sequence[Job], ledger: Ledger, show_progress: bool, description: str
) -> tuple[list[ChatResult], str | None]:
    """Send ``jobs`` through ``engine`` under the ledger's budget; returns the results and the stop reason."""
    stop_reason: str | None = None

    def should_stop() -> bool:
        nonlocal stop_reason
        stop_reason = stop_reason or ledger.budget_reached()
        return stop_reason is not None

    with LiveDisplay(len(jobs), ledger, show_progress, description) as display:

        def on_result(index: int, result: ChatResult) -> None:
            ledger.record(result)
            display.update()

        results = engine.generate([job.request for job in jobs], on_result, should_stop)
    return results, stop_reason


def _retry_split(
    plan: Plan, existing: dict[tuple[str, int], dict[str, Any]], retry: Collection[str]
) -> tuple[dict[int, dict[str, Any]], list[int], set[str]]:
    """With ``--retry``: keep existing rows not named by it; resend the named ones (and any missing row).

    Returns the kept rows by plan position, the positions to send, and the cache keys to refresh
    (incomplete replies are cached, so they must be bypassed to be regenerated).
    """
    wanted = {"incomplete": STATUS_INCOMPLETE, "failed": STATUS_FAILED}
    statuses = {wanted[kind] for kind in retry}
    kept: dict[int, dict[str, Any]] = {}
    send: list[int] = []
    refresh: set[str] = set()
    for position, job in enumerate(plan.jobs):
        row = existing.get((job.question_id, job.sample))
        if row is not None and row_status(row) not in statuses:
            kept[position] = row
            continue
        send.append(position)
        if row is not None and row_status(row) == STATUS_INCOMPLETE:
            refresh.add(ResponseCache.key(plan.teacher, job.request))
    return kept, send, refresh


def generate(
    run: RunDir | str | os.PathLike[str], config: GenerateConfig | None = None, *, quiet: bool = False
) -> GenerateResult:
    """Generate (or resume) teacher traces for every question of ``run``; write ``traces.parquet``.

    Every (question, sample) ends with a row: a parsed response, or an error row (``error`` set)
    that a later run retries. Returns counts and usage; ``stopped`` names the budget that ended the
    run early (unsent rows then read ``not sent: <budget> reached``; run again to resume).
    """
    run = as_rundir(run)
    config = config or GenerateConfig()
    plan = build_plan(run, config, engine_identity)
    notes = [plan.clamp_note] if plan.clamp_note else []
    _say_once(notes, quiet)
    existing = read_rows(run.traces) if config.retry else {}
    if config.retry and existing:
        kept, send, refresh = _retry_split(plan, existing, config.retry)
    else:
        kept, send, refresh = {}, list(range(len(plan.jobs))), set()
    jobs = [plan.jobs[position] for position in send]
    ledger = Ledger(
        Prices(config.price_input_per_million, config.price_output_per_million),
        max_cost=config.max_cost,
        max_total_tokens=config.max_total_tokens,
    )
    manifest = Manifest(run.manifest)
    with manifest.stage("generate", manifest_config(config), inputs=[run.questions]) as record:
        with ResponseCache(run.cache_db) as cache, open_engine(config, cache, refresh) as engine:
            results, stop_reason = _run_jobs(engine, jobs, ledger, config.progress and not quiet, "generate")
        rows: list[dict[str, Any]] = [{}] * len(plan.jobs)
        for position, row in kept.items():
            rows[position] = row
        not_sent_reason = stop_reason or "stopped before dispatch"
        for position, result in zip(send, results, strict=True):
            job = plan.jobs[position]
            previous = existing.get((job.question_id, job.sample))
            if result.error == NOT_SENT and previous is not None:
                rows[position] = previous  # a retry stopped by its budget keeps the row it had
            else:
                rows[position] = trace_row(job, plan.teacher, result, not_sent_reason)
        write_traces(rows, run.traces)
        counts = count_rows(rows, plan.questions)
        record.counts = counts.as_dict()
        record.usage = ledger.usage()
        record.extra.update(
            teacher=plan.teacher,
            prompt_template=plan.template.name,
            effective_max_tokens=plan.max_tokens,
            finish_reasons=counts.by_finish_reason,
            retried_rows=len(send) if config.retry else None,
            notes=notes,
        )
        if stop_reason:
            record.status = "stopped"
            record.extra["stopped"] = stop_reason
    return GenerateResult(
        traces=run.traces,
        counts=counts.as_dict(),
        usage=ledger.usage(),
        teacher=plan.teacher,
        prompt_template=plan.template.name,
        max_tokens=plan.max_tokens,
        stopped=stop_reason,
        notes=notes,
    )


def _spread(count: int, size: int) -> list[int]:
    """``size`` positions spread evenly over ``range(count)`` (deterministic)."""
    size = min(size, count)
    return sorted({int(i * count / size) for i in range(size)}) if size else []


def estimate(
    run: RunDir | str | os.PathLike[str],
    config: GenerateConfig | None = None,
    *,
    sample_size: int = 8,
    quiet: bool = False,
) -> Estimate:
    """Send a small, evenly spread sample of the requests not yet cached and project the whole pool's spend.

    The sample's replies go into the cache, so the real run does not pay for them again.
    Projections assume the sample's mean tokens per request and its throughput at the configured
    concurrency; a sample smaller than the concurrency underestimates the throughput.
    """
    run = as_rundir(run)
    config = config or GenerateConfig()
    plan = build_plan(run, config, engine_identity)
    _say_once([plan.clamp_note] if plan.clamp_note else [], quiet)
    prices = Prices(config.price_input_per_million, config.price_output_per_million)
    ledger = Ledger(prices)
    with (
        Manifest(run.manifest).stage("generate-estimate", manifest_config(config), inputs=[run.questions]) as record,
        ResponseCache(run.cache_db) as cache,
    ):
        keys = [ResponseCache.key(plan.teacher, job.request) for job in plan.jobs]
        cached = cache.get_many(keys)
        uncached = [position for position, key in enumerate(keys) if key not in cached]
        pool = uncached if uncached else list(range(len(plan.jobs)))
        sample = [plan.jobs[pool[i]] for i in _spread(len(pool), sample_size)]
        started = time.monotonic()
        with open_engine(config, cache) as engine:
            results, _ = _run_jobs(engine, sample, ledger, config.progress and not quiet, "estimate")
        wall = time.monotonic() - started
        answered = [r for r in results if r.ok]
        mean_prompt = sum(r.prompt_tokens or 0 for r in answered) / max(len(answered), 1)
        mean_completion = sum(r.completion_tokens or 0 for r in answered) / max(len(answered), 1)
        incomplete = sum(
            not trace_row(job, plan.teacher, r)["complete"] for job, r in zip(sample, results, strict=True) if r.ok
        )
        sent = ledger.requests_sent
        remaining = max(len(uncached) - sent, 0)
        if sent:
            seconds_per_request = wall / sent
        else:  # everything sampled was cached: fall back on the recorded latencies at the configured concurrency
            concurrency = getattr(engine_config(config), "concurrency", None) or 1
            seconds_per_request = sum(r.latency_s for r in answered) / max(len(answered), 1) / concurrency
        result = Estimate(
            requests_total=len(plan.jobs),
            requests_cached=len(plan.jobs) - len(uncached),
            sample_size=len(sample),
            sample_sent=sent,
            mean_prompt_tokens=mean_prompt,
            mean_completion_tokens=mean_completion,
            sample_incomplete=incomplete,
            projected_prompt_tokens=round(mean_prompt * remaining),
            projected_completion_tokens=round(mean_completion * remaining),
            projected_seconds=seconds_per_request * remaining,
            projected_cost_usd=prices.cost(round(mean_prompt * remaining), round(mean_completion * remaining)),
            usage=ledger.usage(),
        )
        record.usage = ledger.usage()
        record.extra["estimate"] = {k: v for k, v in vars(result).items() if k != "usage"}
    return result
