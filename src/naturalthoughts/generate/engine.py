"""The engine a generate run sends through: the response cache in front, the model behind it built only when a
request is really sent, and the thinking budget over both (so each phase is cached)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from naturalthoughts.engines import (
    CachedEngine,
    ChatResult,
    Engine,
    EngineConfig,
    ResponseCache,
    create_engine,
    engine_identity,
)
from naturalthoughts.engines.base import ChatRequest, Dispatch, Phases
from naturalthoughts.engines.cached import SpendRecorder
from naturalthoughts.engines.thinking import REASONING_PHASE, PhaseCallback, ThinkingBudget, ThinkingEngine
from naturalthoughts.generate.config import GenerateConfig


def engine_config(config: GenerateConfig) -> EngineConfig:
    """The teacher's engine config as this run uses it: its reproducible mode when seeded, ``concurrency`` applied
    where the engine has such a knob."""
    engine = config.engine.for_seed(config.seed)
    if config.concurrency is None:
        return engine
    for knob in ("concurrency", "batch_size"):
        if knob in type(engine).model_fields:
            return engine.model_copy(update={knob: config.concurrency})
    return engine


class _StartsWhenSending(Engine):
    """The model behind the cache, built only when a request is really to be sent (a rerun whose budget is
    already spent answers its hits and never loads a model only to send nothing); every request it answers is
    reported to ``on_sent`` (the ledger: spend, errors, budget)."""

    name = "model"

    def __init__(
        self,
        config: EngineConfig,
        factory: Callable[[EngineConfig], Engine],
        on_sent: Callable[[ChatResult], None] | None = None,
    ) -> None:
        self.config = config
        self.factory = factory
        self.on_sent = on_sent
        self.engine: Engine | None = None

    def model_identity(self) -> str:
        return engine_identity(self.config)

    def continuation_problem(self) -> str | None:
        if self.engine is not None:
            return self.engine.continuation_problem()
        return self.config.continuation_problem()

    def _started(self) -> Engine:
        if self.engine is None:
            self.engine = self.factory(self.config)
        return self.engine

    def dispatch(self, job: Dispatch) -> None:
        if job.stopped():
            return  # everything becomes NOT_SENT

        def answered(index: int, result: ChatResult) -> None:
            if self.on_sent is not None:
                self.on_sent(result)
            job.deliver(index, result)

        self._started().generate(job.requests, answered, job.should_stop, job.on_send)

    def dispatch_phases(self, job: Dispatch) -> None:
        if job.stopped():
            return
        assert job.phases is not None
        phases = job.phases if self.on_sent is None else _ReportedSteps(job.phases, self.on_sent)
        self._started().generate(job.requests, job.deliver, job.should_stop, job.on_send, phases=phases)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


class _ReportedSteps:
    """``phases`` that report each step's result to ``on_sent`` (the ledger counts every request sent)."""

    def __init__(self, phases: Phases, on_sent: Callable[[ChatResult], None]) -> None:
        self.phases = phases
        self.on_sent = on_sent

    def next(self, index: int, results: Sequence[ChatResult]) -> ChatRequest | None:
        self.on_sent(results[-1])
        return self.phases.next(index, results)

    def combine(self, index: int, results: Sequence[ChatResult]) -> ChatResult:
        return self.phases.combine(index, results)


class _NeverSends(Engine):
    """Behind a cache that may only be read (``--estimate`` looking for what is not cached yet)."""

    name = "cache-only"

    def model_identity(self) -> str:
        return "cache-only"

    def dispatch(self, job: Dispatch) -> None:
        return  # every miss becomes NOT_SENT


class EveryKey(frozenset):
    """``refresh`` that holds every key: each request bypasses the cache (``--retry`` of rows it answered)."""

    def __contains__(self, key: object) -> bool:
        return True


EVERY_KEY = EveryKey()


def chunk_size(config: GenerateConfig) -> int:
    """Jobs per chunk. Each chunk's engine call drains before the next starts, so a Ray pool gets chunks of
    several rounds of batches (``4 x workers x batch_size``) to keep every actor busy across the long tail."""
    if config.executor == "ray":
        return max(config.chunk_size, 4 * config.ray.workers * config.ray.batch_size)
    return config.chunk_size


def open_engine(
    config: GenerateConfig,
    cache: ResponseCache,
    on_sent: Callable[[ChatResult], None] | None = None,
    spend: SpendRecorder | None = None,
) -> CachedEngine:
    """A cache-fronted engine for the configured executor; the model starts only when a miss is really sent, and
    every request it sends is recorded in the spend ledger by ``spend``."""
    if config.executor == "ray":
        from naturalthoughts.generate.ray_executor import ray_engine_factory

        factory = ray_engine_factory(config.ray)
    else:
        factory = create_engine
    return CachedEngine(
        engine_config(config),
        cache,
        engine_factory=lambda engine: _StartsWhenSending(engine, factory, on_sent),
        spend=spend,
    )


def with_thinking(cached: CachedEngine, budget: ThinkingBudget, on_phase: PhaseCallback | None = None) -> Engine:
    """The engine a stage sends through: the thinking budget over the cache (each phase cached), when it is on;
    ``on_phase`` hears of each finished reasoning phase."""
    return ThinkingEngine(cached, budget, on_phase) if budget.enabled else cached


def tokens_per_trace(budget: ThinkingBudget, max_tokens: int) -> dict[str, int]:
    """The most tokens each phase of a trace may take (the progress bar's expectations until phases finish)."""
    if not budget.enabled:
        return {"": max_tokens}
    return {REASONING_PHASE: budget.budget or max_tokens, "answer": budget.answer_max_tokens or max_tokens}


def cache_reader(config: GenerateConfig, cache: ResponseCache, budget: ThinkingBudget) -> Engine:
    """Answers what the cache holds (every phase of a trace, under a budget) and NOT_SENT for the rest."""
    return with_thinking(CachedEngine(engine_config(config), cache, engine_factory=lambda _: _NeverSends()), budget)
