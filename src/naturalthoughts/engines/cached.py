"""An engine in front of the response cache: only misses reach the model, and the model starts only if needed.

A fully cached rerun therefore never starts a llama.cpp server, opens a socket or imports torch.
Identical requests within one batch are sent once and the answer is given to each of them.

A request answered in phases (:class:`naturalthoughts.engines.base.Phases`) is answered from the cache when every
step of it is there; otherwise all its steps are sent again from the first (a request asked twice: once), so each
step is computed as in a run that was never interrupted (a server continues a step from the one before it:
engines/llamacpp.py), and each step is stored as it comes back.

With a :class:`SpendRecorder`, every request sent to the model is recorded in the cache's spend ledger: reserved
(committed) just before it is sent, and settled in the same transaction that stores its response, so a process
killed at any moment has every request it sent on record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

from naturalthoughts.engines.base import NOT_SENT, ChatRequest, ChatResult, Dispatch, Engine, Phases
from naturalthoughts.engines.cache import ResponseCache, Spent
from naturalthoughts.engines.config import EngineConfig


@dataclass
class UsageStats:
    """What the engine did so far: sent requests (not cache hits) and their cost."""

    requests_sent: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: int = 0  # sent requests that ended in an error (they are not cached; a rerun retries them)
    latency_s_total: float = 0.0
    not_sent: int = 0  # requests left undispatched because should_stop said so

    def record(self, result: ChatResult) -> None:
        if result.error == NOT_SENT:
            self.not_sent += 1
            return
        self.requests_sent += 1
        self.errors += result.error is not None
        self.prompt_tokens += result.prompt_tokens or 0
        self.completion_tokens += result.completion_tokens or 0
        self.latency_s_total += result.latency_s


EngineFactory = Callable[[EngineConfig], Engine]
CHARS_PER_TOKEN = 4  # the prompt's size before the server counts it: a reservation's estimate


@dataclass
class SpendRecorder:
    """Records what each request sent spends, under a budget ``scope`` (a stage key) and an ``attempt`` (the
    manifest record id of this run); ``cost(prompt_tokens, completion_tokens)`` prices it. ``on_estimated`` hears
    what an answer took off the worst case of the same request left in flight by an earlier, killed run."""

    cache: ResponseCache
    scope: str
    attempt: str
    cost: Callable[[int, int], float] = lambda prompt, completion: 0.0
    on_estimated: Callable[[Spent], None] | None = None

    def reserve(self, key: str, request: ChatRequest) -> int:
        """Before sending: the worst case (the prompt's estimated tokens and every token ``max_tokens`` allows)."""
        characters = sum(len(message.get("content") or "") for message in request.messages) + len(request.prefill or "")
        prompt, completion = characters // CHARS_PER_TOKEN + 1, request.params.max_tokens
        return self.cache.reserve(self.scope, self.attempt, key, prompt, completion, self.cost(prompt, completion))

    def settle(self, entry: int | None, key: str, result: ChatResult) -> None:
        """After the reply: the response and its real spend, committed together."""
        cost = self.cost(result.prompt_tokens or 0, result.completion_tokens or 0)
        estimated = self.cache.settle(entry, key, result, cost, self.scope, self.attempt)
        if estimated is not None and self.on_estimated is not None:
            self.on_estimated(estimated)


class CachedEngine(Engine):
    """Answers from ``cache`` where it can; sends the rest (and every key in ``refresh``) to the configured engine.

    The real engine is built on the first miss by ``engine_factory(config)`` (``create_engine`` by
    default; e.g. a Ray executor passes a factory that builds its cluster engine instead).
    """

    name = "cached"

    def __init__(
        self,
        config: EngineConfig,
        cache: ResponseCache,
        refresh: Collection[str] = (),
        engine_factory: EngineFactory | None = None,
        spend: SpendRecorder | None = None,
    ) -> None:
        self.config = config
        self.cache = cache
        self.spend = spend
        self.refresh = frozenset(refresh)
        self.stats = UsageStats()
        self._engine_factory = engine_factory
        self._identity: str | None = None
        self._inner: Engine | None = None
        self._lock = threading.Lock()

    def model_identity(self) -> str:
        if self._identity is None:
            from naturalthoughts.engines import engine_identity

            self._identity = engine_identity(self.config)
        return self._identity

    @property
    def started(self) -> bool:
        """Whether the inner engine exists (False after a fully cached run)."""
        return self._inner is not None

    def inner(self) -> Engine:
        """The real engine, created on first use."""
        with self._lock:
            if self._inner is None:
                if self._engine_factory is not None:
                    self._inner = self._engine_factory(self.config)
                else:
                    from naturalthoughts.engines import create_engine

                    self._inner = create_engine(self.config)
            return self._inner

    def continuation_problem(self) -> str | None:
        if self._inner is not None:
            return self._inner.continuation_problem()
        # Answered from the config, so asking never starts the engine.
        problem = getattr(self.config, "continuation_problem", None)
        return problem() if problem is not None else None

    def keys(self, requests: Sequence[ChatRequest]) -> list[str]:
        identity = self.model_identity()
        return [ResponseCache.key(identity, request) for request in requests]

    def dispatch(self, job: Dispatch) -> None:
        requests = job.requests
        keys = self.keys(requests)
        hits = self.cache.get_many(key for key in keys if key not in self.refresh)
        waiting: dict[str, list[int]] = {}  # key -> every index asking for it, in order of first appearance
        for index, key in enumerate(keys):
            if key in hits:
                self.stats.cache_hits += 1
                job.deliver(index, replace(hits[key]))
            else:
                waiting.setdefault(key, []).append(index)
        if not waiting:
            return  # every request was answered from the cache

        unique_keys = list(waiting)
        sent = [requests[waiting[key][0]] for key in unique_keys]
        reserved: dict[int, int] = {}  # position -> its entry in the spend ledger

        def reserve(positions: Sequence[int]) -> None:
            if self.spend is not None:
                for position in positions:
                    reserved[position] = self.spend.reserve(unique_keys[position], sent[position])

        def store_and_forward(position: int, result: ChatResult) -> None:
            key = unique_keys[position]
            self.store(key, reserved.pop(position, None), result)
            self.stats.record(result)
            _deliver_copies(job, waiting[key], result)

        self.inner().generate(sent, store_and_forward, job.should_stop, on_send=reserve)

    def store(self, key: str, entry: int | None, result: ChatResult) -> None:
        """Keep a model's answer under ``key`` (the cache refuses errors), with its spend settled in the same
        transaction when it was reserved as ledger ``entry``."""
        if self.spend is not None and (entry is not None or result.error != NOT_SENT):
            self.spend.settle(entry, key, result)
        else:
            self.cache.put(key, result)

    def dispatch_phases(self, job: Dispatch) -> None:
        phases = job.phases
        assert phases is not None
        unanswered = self._answer_phases_from_cache(job, phases)
        if not unanswered:
            return
        copies: dict[str, list[int]] = {}  # a request asked more than once is sent once, like a plain request
        for index, key in zip(unanswered, self.keys([job.requests[i] for i in unanswered]), strict=True):
            copies.setdefault(key, []).append(index)
        groups = list(copies.values())
        starts = [job.requests[group[0]] for group in groups]
        storing = _StoringPhases(self, phases, groups, starts)

        def forward(position: int, result: ChatResult) -> None:
            self.stats.not_sent += result.error == NOT_SENT  # the request, counted once (a step is not counted)
            _deliver_copies(job, groups[position], result)

        self.inner().generate(starts, forward, job.should_stop, on_send=storing.reserve, phases=storing)

    def _answer_phases_from_cache(self, job: Dispatch, phases: Phases) -> list[int]:
        """Deliver every request whose steps are all cached (looked up a round of steps at a time); returns the
        indices of the others, in order."""
        history: dict[int, list[ChatResult]] = {index: [] for index in range(len(job.requests))}
        steps = dict(enumerate(job.requests))
        unanswered: list[int] = []
        while steps:
            keys = dict(zip(steps, self.keys(list(steps.values())), strict=True))
            hits = self.cache.get_many(key for key in keys.values() if key not in self.refresh)
            following: dict[int, ChatRequest] = {}
            for index, key in keys.items():
                if key not in hits:
                    unanswered.append(index)
                    continue
                history[index].append(replace(hits[key]))
                step = phases.next(index, history[index])
                if step is not None:
                    following[index] = step
                    continue
                self.stats.cache_hits += len(history[index])
                job.deliver(index, phases.combine(index, history[index]))
            steps = following
        return sorted(unanswered)

    def close(self) -> None:
        with self._lock:
            if self._inner is not None:
                self._inner.close()
                self._inner = None


def _deliver_copies(job: Dispatch, indices: list[int], result: ChatResult) -> None:
    """``result`` to every index that asked the same request (a copy each after the first)."""
    for copy_number, index in enumerate(indices):
        job.deliver(index, result if copy_number == 0 else replace(result))


class _StoringPhases:
    """The phases of the requests a :class:`CachedEngine` sends (positions in ``starts``): each step's result is
    stored (and its spend settled) as it comes back, before the next step is asked for."""

    def __init__(
        self, engine: CachedEngine, phases: Phases, groups: list[list[int]], starts: list[ChatRequest]
    ) -> None:
        self.engine = engine
        self.phases = phases
        self.groups = groups  # position -> the indices in the caller's job asking for that request
        self.current = dict(enumerate(starts))  # position -> the step being answered
        self.reserved: dict[int, int] = {}  # position -> its step's entry in the spend ledger

    def reserve(self, positions: Sequence[int]) -> None:
        spend = self.engine.spend
        if spend is not None:
            for position in positions:
                step = self.current[position]
                self.reserved[position] = spend.reserve(self.engine.keys([step])[0], step)

    def next(self, position: int, results: Sequence[ChatResult]) -> ChatRequest | None:
        engine, result = self.engine, results[-1]
        engine.store(engine.keys([self.current[position]])[0], self.reserved.pop(position, None), result)
        if result.error != NOT_SENT:  # a request never sent is counted once, when it is delivered
            engine.stats.record(result)
        # Every copy hears of the step (the same request gives the same next step: phases are pure functions).
        steps = [self.phases.next(index, results) for index in self.groups[position]]
        step = steps[0]
        if step is not None:
            self.current[position] = step
        return step

    def combine(self, position: int, results: Sequence[ChatResult]) -> ChatResult:
        return self.phases.combine(self.groups[position][0], results)
