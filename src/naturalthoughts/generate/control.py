"""What decides when a generate run stops sending (the user, a budget, failing requests), the spend earlier runs
carry into a budget (read from the durable spend ledger), and the progress the run shows while it works."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from naturalthoughts.engines import ChatResult, ResponseCache
from naturalthoughts.engines.cached import SpendRecorder
from naturalthoughts.generate.config import GenerateConfig
from naturalthoughts.generate.ledger import Ledger, Prices, Spend
from naturalthoughts.manifest import new_record_id

if TYPE_CHECKING:
    from naturalthoughts.progress import Task
    from naturalthoughts.stage import StageContext

# Stop sending early once this many requests were sent and they mostly failed (the verdict comes at the end).
EARLY_FAILURE_SENT = 8
# The budget's scope in the spend ledger: generate and its --estimate spend from one budget.
BUDGET_SCOPE = "generate"
_PROGRESS_FLUSH_S = 0.1


class StopControl:
    """The ``should_stop`` every dispatch checks: the user's stop, the budget, or requests that mostly fail."""

    def __init__(self, ledger: Ledger, config: GenerateConfig, user_stop: Callable[[], bool]) -> None:
        self.ledger = ledger
        self.config = config
        self.user_stop = user_stop
        self.kind: str | None = None  # "user" | "budget" | "failures"
        self.reason: str | None = None

    def __call__(self) -> bool:
        if self.reason is None:
            if self.user_stop():
                self.kind, self.reason = "user", "stopped on request"
            elif budget := self.ledger.budget_reached():
                self.kind, self.reason = "budget", budget
            elif self._failing_early():
                ledger = self.ledger
                self.kind = "failures"
                self.reason = f"stopped after {ledger.errors:,} of {ledger.requests_sent:,} requests failed"
        return self.reason is not None

    def _failing_early(self) -> bool:
        config = self.config
        enough = max(EARLY_FAILURE_SENT, config.failure_min_sent)
        return self.ledger.requests_sent >= enough and self.ledger.failing(
            config.failure_share, config.failure_min_sent
        )


def budget_ledger(config: GenerateConfig, cache: ResponseCache, ctx: StageContext) -> tuple[Ledger, SpendRecorder]:
    """The in-memory ledger of this run, carrying what the durable spend ledger says earlier runs sent since the
    work last finished (requests in flight when a run died count at their worst case until this run answers the
    same request: then at what it cost), and the recorder that files each request this run sends under its
    manifest record."""
    prices = Prices(config.price_input_per_million, config.price_output_per_million)
    earlier = cache.spent(BUDGET_SCOPE)
    carried = Spend(
        earlier.prompt_tokens,
        earlier.completion_tokens,
        earlier.cost_usd,
        earlier.requests,
        earlier.reserved,
        earlier.estimated,
    )
    ledger = Ledger(prices, max_cost=config.max_cost, max_total_tokens=config.max_total_tokens, carried=carried)
    attempt = ctx.record_id or new_record_id()
    return ledger, SpendRecorder(cache, BUDGET_SCOPE, attempt, prices.cost, on_estimated=ledger.estimated)


class Progress:
    """Feeds the progress task from engine callbacks, at most every 0.1 s (a million cache hits stay cheap).

    The task measures work in tokens: a finished trace advances it by its tokens, a finished reasoning phase (under
    a thinking budget) by the reasoning's tokens (so the bar, rate and ETA move during the reasoning round); every
    request the model answers refreshes the statistics.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.task: Task | None = None  # attached once the task is open
        self.last = time.monotonic()
        self._lock = threading.Lock()
        # per cached? (None: no token count): [traces, tokens, tokens of their earlier phases]
        self._finished: dict[bool | None, list[int]] = {}
        # per (phase, cached?): [traces, tokens]
        self._phases: dict[tuple[str, bool], list[int]] = {}

    def sent(self, result: ChatResult) -> None:
        self.ledger.record_sent(result)
        self._maybe_flush()

    def advance(self, n: int = 1, result: ChatResult | None = None) -> None:
        """``n`` traces finished (``result``: the one that did, for its tokens; None: rows copied as they were)."""
        with self._lock:
            key = None if result is None or result.completion_tokens is None else result.cached
            counts = self._finished.setdefault(key, [0, 0, 0])
            counts[0] += n
            if result is not None and result.completion_tokens is not None:
                counts[1] += result.completion_tokens
                counts[2] += (result.reasoning_tokens or 0) if result.answer_tokens is not None else 0
        self._maybe_flush()

    def phase(self, index: int, name: str, tokens: int, cached: bool) -> None:
        """A trace finished its reasoning phase (``ThinkingEngine``'s ``on_phase``)."""
        with self._lock:
            counts = self._phases.setdefault((name, cached), [0, 0])
            counts[0] += 1
            counts[1] += tokens
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        now = time.monotonic()
        if self.task is None or now - self.last < _PROGRESS_FLUSH_S:
            return
        self.flush()

    def flush(self) -> None:
        with self._lock:
            self.last = time.monotonic()
            finished, self._finished = self._finished, {}
            phases, self._phases = self._phases, {}
        task = self.task
        if task is None:
            return
        for (name, cached), (count, tokens) in phases.items():
            task.phase(name, tokens, cached, n=count)
        for cached, (count, tokens, earlier) in finished.items():
            if cached is None:
                task.advance(count)  # rows copied as they were: done, with no tokens to count
            else:
                task.advance(count, tokens=tokens, earlier_phases=earlier, cached=cached)
        task.update(stats=self.ledger.stats())
