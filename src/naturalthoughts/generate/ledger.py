"""The in-memory ledger of one ``nt generate`` run: tokens, time and cost, the budget that stops it, its failures.

Only requests actually sent to the model count toward spend and budgets (each phase of a trace under a thinking
budget is one request, counted as it returns, so a budget sees the spend of every phase); cache hits are free.
Traces are counted apart (:meth:`Ledger.record`): answered, of which from the cache, or not sent. A run stops
dispatching new requests once its spend reaches ``max_cost`` or ``max_total_tokens``; requests already in flight
finish and are kept, so a run overshoots by at most the requests in flight, and the ledger says by how much.

Budgets span interrupts and reruns: ``carried`` is what the durable spend ledger (the ``spend`` table of the
response cache, :mod:`naturalthoughts.engines.cache`) holds for the stage since its work last finished: every
request an earlier run sent, including those in flight when it was killed or stopped (counted at their worst
case: the prompt at 4 characters a token and every token ``max_tokens`` allows, until a later run answers the same
request: then at what that answer cost, and ``carried`` drops by the difference as it arrives). So a rerun with the
same budget sends nothing more once it is spent, whatever stopped the earlier runs (a budget, Ctrl-C, SIGTERM,
SIGKILL); raise the budget or drop it to continue. When the work finishes, the count starts afresh for the next
run.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from naturalthoughts.engines.base import NOT_SENT, ChatResult
from naturalthoughts.redact import clip
from naturalthoughts.stage import Usage

ERROR_MESSAGE_CHARS = 500  # an error message is tallied by its first 500 characters (scrubbed first)
_DISTINCT_ERRORS = 64  # error messages tallied one by one; the rest are counted as "other" (memory stays flat)


@dataclass(frozen=True)
class Prices:
    input_per_million: float = 0.0
    output_per_million: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1e6


@dataclass(frozen=True)
class Spend:
    """Tokens and money spent (by this run, or carried over from earlier runs)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    requests: int = 0
    reserved: int = 0  # of which in flight when their run died or was stopped (counted at their worst case...)
    estimated: int = 0  # ...or, these of them, at what the same request cost when it was sent again

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Ledger:
    prices: Prices = field(default_factory=Prices)
    max_cost: float | None = None
    max_total_tokens: int | None = None
    carried: Spend = field(default_factory=Spend)
    requests_sent: int = 0
    cache_hits: int = 0
    not_sent: int = 0
    errors: int = 0
    done: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started: float = field(default_factory=time.monotonic)
    error_messages: Counter[str] = field(default_factory=Counter)
    at_budget: Spend | None = None  # this run's spend when the budget was first reached
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, result: ChatResult) -> None:
        """Account for one finished trace: answered (from the cache or not) or not sent."""
        with self._lock:
            if result.error == NOT_SENT:
                self.not_sent += 1
                return
            self.done += 1
            self.cache_hits += result.cached

    def record_sent(self, result: ChatResult) -> None:
        """Account for one request the model really answered (under a thinking budget: each phase of a trace)."""
        if result.error == NOT_SENT:
            return
        with self._lock:
            self.requests_sent += 1
            if result.error is not None:
                self.errors += 1
                message = clip(result.error, ERROR_MESSAGE_CHARS)
                if message not in self.error_messages and len(self.error_messages) >= _DISTINCT_ERRORS:
                    message = "other errors"
                self.error_messages[message] += 1
            self.prompt_tokens += result.prompt_tokens or 0
            self.completion_tokens += result.completion_tokens or 0
            if self.at_budget is None and self._over_budget() is not None:
                self.at_budget = self.spend()

    # ---- spend ---------------------------------------------------------------------------------------------
    @property
    def cost_usd(self) -> float:
        return self.prices.cost(self.prompt_tokens, self.completion_tokens)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def spend(self) -> Spend:
        return Spend(self.prompt_tokens, self.completion_tokens, self.cost_usd, self.requests_sent)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def completion_tokens_per_s(self) -> float:
        elapsed = self.elapsed_s
        return self.completion_tokens / elapsed if elapsed > 0 else 0.0

    def estimated(self, change: Any) -> None:
        """An answer of this run priced requests an earlier run left in flight (``change``: a
        :class:`~naturalthoughts.engines.cache.Spent` of how many, and the tokens and cost taken off their worst
        case): the carried spend drops by as much."""
        with self._lock:
            carried = self.carried
            self.carried = Spend(
                carried.prompt_tokens - change.prompt_tokens,
                carried.completion_tokens - change.completion_tokens,
                carried.cost_usd - change.cost_usd,
                carried.requests,
                carried.reserved,
                carried.estimated + change.estimated,
            )

    # ---- budget --------------------------------------------------------------------------------------------
    def _over_budget(self) -> str | None:
        cost = self.carried.cost_usd + self.cost_usd
        tokens = self.carried.total_tokens + self.total_tokens
        earlier = " (earlier runs included)" if self.carried.requests else ""
        if self.carried.reserved:
            earlier = f" (earlier runs included; {in_flight_note(self.carried.reserved, self.carried.estimated)})"
        if self.max_cost is not None and cost >= self.max_cost:
            return f"cost budget reached (${cost:.4f} of ${self.max_cost:.4f}{earlier})"
        if self.max_total_tokens is not None and tokens >= self.max_total_tokens:
            return f"token budget reached ({tokens:,} of {self.max_total_tokens:,} tokens{earlier})"
        return None

    def budget_status(self) -> dict[str, Any]:
        """Spent against the budget, earlier runs included (what ``--estimate``, the CLI and the report show)."""
        with self._lock:
            return {
                "max_cost": self.max_cost,
                "max_total_tokens": self.max_total_tokens,
                "spent_usd": round(self.carried.cost_usd + self.cost_usd, 6),
                "spent_tokens": self.carried.total_tokens + self.total_tokens,
                "requests_sent": self.carried.requests + self.requests_sent,
                "earlier_requests": self.carried.requests,
                "reserved_in_flight": self.carried.reserved,
                "estimated_in_flight": self.carried.estimated,
            }

    def budget_reached(self) -> str | None:
        """Why the run must stop sending, or None while within budget."""
        with self._lock:
            return self._over_budget()

    def overshoot(self) -> str | None:
        """What the requests in flight when the budget was reached spent past it, in words (None if nothing)."""
        if self.at_budget is None:
            return None
        after = self.requests_sent - self.at_budget.requests
        if not after:
            return None
        tokens = self.total_tokens - self.at_budget.total_tokens
        cost = self.cost_usd - self.at_budget.cost_usd
        money = f", ${cost:.4f}" if self.prices.input_per_million or self.prices.output_per_million else ""
        return f"{after} request(s) in flight finished past the budget (+{tokens:,} tokens{money})"

    # ---- failures ------------------------------------------------------------------------------------------
    def failing(self, share: float, min_sent: int) -> bool:
        """Whether the requests sent so far mostly failed: all of them, or more than ``share`` of at least
        ``min_sent``."""
        with self._lock:
            sent, errors = self.requests_sent, self.errors
        if not sent or not errors:
            return False
        return errors == sent or (sent >= min_sent and errors > share * sent)

    def commonest_error(self) -> tuple[str, int]:
        with self._lock:
            if not self.error_messages:
                return "", 0
            return self.error_messages.most_common(1)[0]

    def usage(self) -> dict[str, float | int]:
        """The usage of this run (the figures ``nt generate`` prints)."""
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

    def stage_usage(self) -> Usage:
        """The usage the runner records in the manifest."""
        return Usage(
            requests_sent=self.requests_sent,
            cache_hits=self.cache_hits,
            errors=self.errors,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost_usd=self.cost_usd,
            seconds=self.elapsed_s,
        )

    def stats(self) -> str:
        """The progress line's statistics: requests sent, cache hits, errors and spend (the progress task itself
        shows tokens/s and the ETA)."""
        text = f"{self.requests_sent:,} sent · {self.cache_hits:,} cached · {self.errors:,} errors"
        if self.prices.input_per_million or self.prices.output_per_million:
            text += f" · ${self.cost_usd:,.4f}"
        return text


def budget_line(status: dict[str, Any]) -> str | None:
    """``budget: spent $0.31 of $0.30 (...)`` for a :meth:`Ledger.budget_status`; None when there is no budget."""
    parts = []
    if status.get("max_cost") is not None:
        parts.append(f"${status['spent_usd']:,.4f} of ${status['max_cost']:,.4f}")
    if status.get("max_total_tokens") is not None:
        parts.append(f"{status['spent_tokens']:,} of {status['max_total_tokens']:,} tokens")
    if not parts:
        return None
    notes = [f"{status['requests_sent']:,} requests"]
    if status.get("earlier_requests"):
        notes.append(f"{status['earlier_requests']:,} of them by earlier runs")
    if status.get("reserved_in_flight"):
        notes.append(in_flight_note(status["reserved_in_flight"], status.get("estimated_in_flight") or 0))
    return f"budget: spent {' and '.join(parts)} ({', '.join(notes)})"


def in_flight_note(reserved: int, estimated: int) -> str:
    """How requests in flight when a run stopped are counted, in words."""
    if not estimated:
        return f"{reserved:,} in flight when a run stopped, counted at their worst case"
    if estimated == reserved:
        return f"{reserved:,} in flight when a run stopped, counted at what the same requests cost when sent again"
    return (
        f"{reserved:,} in flight when a run stopped, counted at their worst case ({estimated:,} of them at what the "
        "same request cost when sent again)"
    )
