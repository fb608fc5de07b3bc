"""The spend ledger: tokens, time and cost of one ``nt generate`` run, and the budget that stops it.

Only requests actually sent to the model count toward spend and budgets; cache hits are free.
Budgets are per run: a run stops dispatching new requests once its spend reaches ``max_cost`` or
``max_total_tokens``; requests already in flight finish and are kept (so a run can overshoot by
at most the requests in flight), and a later run resumes from the cache with a fresh budget.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from naturalthoughts.engines.base import NOT_SENT, ChatResult


@dataclass(frozen=True)
class Prices:
    input_per_million: float = 0.0
    output_per_million: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1e6


@dataclass
class Ledger:
    prices: Prices = field(default_factory=Prices)
    max_cost: float | None = None
    max_total_tokens: int | None = None
    requests_sent: int = 0
    cache_hits: int = 0
    not_sent: int = 0
    errors: int = 0
    done: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, result: ChatResult) -> None:
        """Account for one finished request (hit, sent, failed or not sent)."""
        with self._lock:
            if result.error == NOT_SENT:
                self.not_sent += 1
                return
            self.done += 1
            if result.cached:
                self.cache_hits += 1
                return
            self.requests_sent += 1
            if result.error is not None:
                self.errors += 1
            self.prompt_tokens += result.prompt_tokens or 0
            self.completion_tokens += result.completion_tokens or 0

    @property
    def cost_usd(self) -> float:
        return self.prices.cost(self.prompt_tokens, self.completion_tokens)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def completion_tokens_per_s(self) -> float:
        elapsed = self.elapsed_s
        return self.completion_tokens / elapsed if elapsed > 0 else 0.0

    def budget_reached(self) -> str | None:
        """Why the run must stop sending, or None while within budget."""
        if self.max_cost is not None and self.cost_usd >= self.max_cost:
            return f"cost budget reached (${self.cost_usd:.4f} of ${self.max_cost:.4f})"
        if self.max_total_tokens is not None and self.total_tokens >= self.max_total_tokens:
            return f"token budget reached ({self.total_tokens:,} of {self.max_total_tokens:,} tokens)"
        return None

    def usage(self) -> dict[str, float | int]:
        """The manifest's ``usage`` record."""
        return {
            "requests_sent": self.requests_sent,
            "cache_hits": self.cache_hits,
            "errors": self.errors,
            "not_sent": self.not_sent,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6),
            "wall_time_s": round(self.elapsed_s, 3),
            "completion_tokens_per_s": round(self.completion_tokens_per_s, 2),
        }
