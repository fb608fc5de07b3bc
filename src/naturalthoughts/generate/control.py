"""What decides when a generate run stops sending (the user, a budget, failing requests), the spend earlier runs
carry into a budget, and the progress the run shows while it works."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from naturalthoughts.engines import ChatResult
from naturalthoughts.generate.config import GenerateConfig
from naturalthoughts.generate.ledger import Ledger, Spend

if TYPE_CHECKING:
    from naturalthoughts.progress import Task

# Stop sending early once this many requests were sent and they mostly failed (the verdict comes at the end).
EARLY_FAILURE_SENT = 8
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


def carried_spend(history: Sequence[dict[str, Any]], config: GenerateConfig, fingerprint: str) -> Spend:
    """What earlier runs stopped by this same budget, with this same config, spent (newest first, back to the
    last run that finished): a rerun with the same budget then counts it and sends nothing more."""
    if config.max_cost is None and config.max_total_tokens is None:
        return Spend()
    budget = (config.max_cost, config.max_total_tokens)
    prompt = completion = requests = 0
    cost = 0.0
    for record in reversed(history):
        recorded = record.get("config") or {}
        if record.get("status") == "done" or record.get("config_sha256") != fingerprint:
            break
        if (recorded.get("max_cost"), recorded.get("max_total_tokens")) != budget:
            break
        usage = record.get("usage") or {}  # runs that died without a word recorded no usage
        prompt += int(usage.get("prompt_tokens") or 0)
        completion += int(usage.get("completion_tokens") or 0)
        cost += float(usage.get("cost_usd") or 0.0)
        requests += int(usage.get("requests_sent") or 0)
    return Spend(prompt, completion, cost, requests)


class Progress:
    """Feeds the progress task from engine callbacks, at most every 0.1 s (a million cache hits stay cheap).

    Traces advance the bar; every request the model answers (each phase of a trace under a thinking budget)
    refreshes the statistics, so a long first phase still shows tokens/s in the periodic lines.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.task: Task | None = None  # attached once the task is open
        self.pending = 0
        self.last = time.monotonic()
        self._lock = threading.Lock()

    def sent(self, result: ChatResult) -> None:
        self.ledger.record_sent(result)
        self.advance(0)

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.pending += n
            now = time.monotonic()
            if self.task is None or now - self.last < _PROGRESS_FLUSH_S:
                return
            self.last, pending, self.pending = now, self.pending, 0
        self.task.advance(pending, stats=self.ledger.stats())

    def flush(self) -> None:
        with self._lock:
            pending, self.pending = self.pending, 0
        if self.task is not None:
            self.task.advance(pending, stats=self.ledger.stats())
