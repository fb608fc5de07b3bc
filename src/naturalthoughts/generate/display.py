"""The live progress display of ``nt generate``: done/total, tokens per second, errors, ETA and spend."""

from __future__ import annotations

import time
from types import TracebackType

from rich.progress import Progress, TextColumn

from naturalthoughts.console import progress
from naturalthoughts.generate.ledger import Ledger

_MIN_UPDATE_INTERVAL_S = 0.1  # cap the per-result cost for pools of millions of rows


class LiveDisplay:
    """A rich progress bar fed by the ledger; a no-op when disabled (notebooks, tests, --quiet)."""

    def __init__(self, total: int, ledger: Ledger, enabled: bool = True, description: str = "generate") -> None:
        self.ledger = ledger
        self.total = total
        self._last_update = 0.0
        self._progress: Progress | None = None
        if enabled:
            self._progress = progress(TextColumn("{task.fields[stats]}"))
            self._task = self._progress.add_task(description, total=total, stats=self._stats())

    def _stats(self) -> str:
        ledger = self.ledger
        text = f"{ledger.completion_tokens_per_s:,.0f} tok/s · {ledger.cache_hits:,} cached · {ledger.errors:,} errors"
        if ledger.prices.input_per_million or ledger.prices.output_per_million:
            text += f" · ${ledger.cost_usd:,.4f}"
        return text

    def update(self, force: bool = False) -> None:
        if self._progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last_update < _MIN_UPDATE_INTERVAL_S and self.ledger.done < self.total:
            return
        self._last_update = now
        self._progress.update(self._task, completed=self.ledger.done + self.ledger.not_sent, stats=self._stats())

    def __enter__(self) -> LiveDisplay:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self.update(force=True)
            self._progress.stop()
