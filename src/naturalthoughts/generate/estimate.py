"""``nt generate --estimate``: project the whole pool's tokens, time and cost from a small sample of requests."""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from naturalthoughts.engines import NOT_SENT, ChatResult, Engine, engine_identity
from naturalthoughts.engines.cache import ResponseCache
from naturalthoughts.errors import BudgetExceeded, ConfigError
from naturalthoughts.generate.config import GenerateConfig
from naturalthoughts.generate.control import Progress, StopControl, budget_ledger
from naturalthoughts.generate.engine import cache_reader, engine_config, open_engine, tokens_per_trace, with_thinking
from naturalthoughts.generate.failures import api_key_hint, engine_failure
from naturalthoughts.generate.ledger import Ledger, Prices, budget_line
from naturalthoughts.generate.plan import Job, Plan, build_plan
from naturalthoughts.generate.stage import GenerateStageBase, send
from naturalthoughts.generate.traces import trace_row
from naturalthoughts.rundir import RunDir
from naturalthoughts.shortcuts import shortcut
from naturalthoughts.stage import StageContext, StageResult


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
    budget: dict[str, Any] = field(default_factory=dict)  # spent vs budget so far (generate's, earlier runs included)

    @property
    def requests_to_send(self) -> int:
        return self.requests_total - self.requests_cached - self.sample_sent


def _spread(count: int, size: int) -> list[int]:
    """``size`` positions spread evenly over ``range(count)`` (deterministic)."""
    size = min(size, count)
    return sorted({int(i * count / size) for i in range(size)}) if size else []


class GenerateEstimateStage(GenerateStageBase):
    """``nt generate --estimate``: send a small, evenly spread sample of the requests not yet cached and project
    the whole pool's tokens, time and cost. It declares no outputs, so it always runs.

    The sample's replies go into the cache, so the real run does not pay for them again. Projections assume the
    sample's mean tokens per request and its throughput at the configured concurrency; a sample smaller than the
    concurrency underestimates the throughput. Refuses a sample of 0 and a sample where nothing succeeded.
    """

    name = "generate-estimate"
    reads = ("questions.parquet", "the teacher's model files")
    writes = ("cache/responses.sqlite (the sample's replies)",)

    def __init__(self, config: GenerateConfig | None = None, *, sample_size: int = 8) -> None:
        super().__init__(config, sample_size=sample_size)

    @property
    def sample_size(self) -> int:
        return int(self.args["sample_size"])

    def outputs(self, run: RunDir) -> list[Path]:
        return []

    def check(self, run: RunDir) -> None:
        super().check(run)
        if self.sample_size < 1:
            raise ConfigError(
                f"estimate sample size {self.sample_size}: an estimate needs a sample of at least 1 request (default 8)"
            )

    def run(self, ctx: StageContext) -> StageResult:
        config = self.cfg
        plan = build_plan(ctx.run, config, engine_identity)
        notes = self._notes(ctx, plan)
        prices = Prices(config.price_input_per_million, config.price_output_per_million)
        budget = config.thinking_budget(plan.max_tokens)
        with ExitStack() as stack:
            cache = stack.enter_context(ResponseCache(ctx.run.cache_db))
            ledger, recorder = budget_ledger(config, cache, ctx)  # the sample spends from generate's budget
            stop = StopControl(ledger, config, ctx.should_stop)
            progress = Progress(ledger)
            cached = stack.enter_context(open_engine(config, cache, progress.sent, recorder))
            uncached = _uncached_positions(plan, cache_reader(config, cache, budget), config.chunk_size)
            pool = uncached if uncached else range(plan.total)
            sample = _jobs_at(plan, {pool[i] for i in _spread(len(pool), self.sample_size)}, config.chunk_size)
            engine = with_thinking(cached, budget, progress.phase)
            started = time.monotonic()
            cap = tokens_per_trace(budget, plan.max_tokens)
            with ctx.progress.task("estimate", total=len(sample), unit="traces", tokens_per_item=cap) as progress.task:
                results = send(engine, sample, ledger, progress, stop)
                progress.flush()
            wall = time.monotonic() - started
        answered = [(job, r) for job, r in zip(sample, results, strict=True) if r.ok]
        if not answered and stop.kind == "budget":
            line = budget_line(ledger.budget_status()) or stop.reason
            raise BudgetExceeded(f"estimate: nothing sent, the budget is spent ({line}); raise it to continue.")
        if not answered:
            raise engine_failure(ledger, config.engine, "estimate: nothing to project from")
        if ledger.errors:
            message, _ = ledger.commonest_error()
            hint = api_key_hint(config.engine)
            notes.append(f"{ledger.errors} of {ledger.requests_sent} sampled requests failed ({message}).{hint}")
            ctx.progress.note(notes[-1])
        sent = sum(not r.cached and r.error != NOT_SENT for r in results)
        estimate = _project(plan, config, prices, ledger, answered, len(uncached), sent, wall, len(sample))
        estimate.budget = ledger.budget_status()
        return StageResult(
            counts={"sample": len(sample), "sent": ledger.requests_sent, "answered": len(answered)},
            usage=ledger.stage_usage(),
            summary=(
                f"{estimate.requests_to_send:,} requests left to send: ~{estimate.projected_completion_tokens:,} "
                f"completion tokens, ~${estimate.projected_cost_usd:,.2f}"
            ),
            extra={"estimate": {k: v for k, v in vars(estimate).items() if k != "usage"}, "notes": notes},
            value=estimate,
        )


def _uncached_positions(plan: Plan, reader: Engine, chunk_size: int) -> list[int]:
    """Plan positions the cache cannot answer yet, looked up a chunk at a time."""
    uncached: list[int] = []
    position = 0
    for chunk in plan.chunks(chunk_size):
        results = reader.generate([job.request for job in chunk])
        uncached.extend(position + i for i, result in enumerate(results) if not result.ok)
        position += len(chunk)
    return uncached


def _jobs_at(plan: Plan, positions: set[int], chunk_size: int) -> list[Job]:
    """The jobs at ``positions`` of the plan, in plan order."""
    jobs: list[Job] = []
    start = 0
    for chunk in plan.chunks(chunk_size):
        jobs.extend(job for i, job in enumerate(chunk) if start + i in positions)
        start += len(chunk)
    return jobs


def _project(
    plan: Plan,
    config: GenerateConfig,
    prices: Prices,
    ledger: Ledger,
    answered: list[tuple[Job, ChatResult]],
    uncached: int,
    sent: int,
    wall: float,
    sample_size: int,
) -> Estimate:
    """Project the whole pool from the sample: ``sent`` of its traces were answered by the model in ``wall`` s."""
    mean_prompt = sum(r.prompt_tokens or 0 for _, r in answered) / len(answered)
    mean_completion = sum(r.completion_tokens or 0 for _, r in answered) / len(answered)
    incomplete = sum(not trace_row(job, plan.teacher, r)["complete"] for job, r in answered)
    remaining = max(uncached - sent, 0)
    if sent:
        seconds_per_request = wall / sent
    else:  # everything sampled was cached: fall back on the recorded latencies at the configured concurrency
        concurrency = getattr(engine_config(config), "concurrency", None) or 1
        seconds_per_request = sum(r.latency_s for _, r in answered) / len(answered) / concurrency
    prompt_tokens, completion_tokens = round(mean_prompt * remaining), round(mean_completion * remaining)
    return Estimate(
        requests_total=plan.total,
        requests_cached=plan.total - uncached,
        sample_size=sample_size,
        sample_sent=sent,
        mean_prompt_tokens=mean_prompt,
        mean_completion_tokens=mean_completion,
        sample_incomplete=incomplete,
        projected_prompt_tokens=prompt_tokens,
        projected_completion_tokens=completion_tokens,
        projected_seconds=seconds_per_request * remaining,
        projected_cost_usd=prices.cost(prompt_tokens, completion_tokens),
        usage=ledger.usage(),
    )


# The notebook shortcut: estimate(run, config=None, *, sample_size=8, quiet=False) (naturalthoughts.shortcuts)
estimate = shortcut("generate-estimate")
