"""Progress of long work, the same for every stage: a bar on a terminal, log lines everywhere else.

- On a terminal (stderr is a TTY): a rich bar with done/total, percentage, rate, elapsed time, ETA and the
  stage's own statistics (tokens/s, errors, spend).
- When stderr is not a terminal (``make run > run.log 2>&1``, CI, a job scheduler): one plain line every
  ``interval_s`` seconds (``generate: 1,200/143,000 (0.8%) · 3.1 rows/s · eta 12h 48m · 104 tok/s``), plus a
  line when the task starts and ends.
- Always, when a logger is given (the runner gives each run directory's ``logs/nt.log``): the same lines.

``NT_PROGRESS=bar|lines|off`` overrides the choice; ``NT_PROGRESS_INTERVAL`` (seconds) the line interval.
Tasks are thread-safe: engines call ``advance`` from their callback threads.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

DEFAULT_INTERVAL_S = 5.0


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = round(seconds)
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


class Task:
    """One long piece of work with a known (or unknown) total. Use as a context manager."""

    def __init__(self, reporter: Reporter, description: str, total: int | None, unit: str) -> None:
        self.reporter = reporter
        self.description = description
        self.total = total
        self.unit = unit
        self.completed = 0
        self.stats = ""
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._last_line = self.started
        self._bar_id: TaskID | None = None
        self._closed = False
        reporter._open(self)

    # ---- feeding ---------------------------------------------------------------------------------------------
    def advance(self, n: int = 1, stats: str | None = None) -> None:
        with self._lock:
            self.completed += n
            if stats is not None:
                self.stats = stats
        self.reporter._refresh(self)

    def update(self, completed: int | None = None, total: int | None = None, stats: str | None = None) -> None:
        with self._lock:
            if completed is not None:
                self.completed = completed
            if total is not None:
                self.total = total
            if stats is not None:
                self.stats = stats
        self.reporter._refresh(self)

    # ---- reading ---------------------------------------------------------------------------------------------
    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        elapsed = self.elapsed_s
        return self.completed / elapsed if elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.total is None or self.rate <= 0:
            return None
        return max(self.total - self.completed, 0) / self.rate

    def line(self, final: bool = False) -> str:
        """The plain-text progress line (log files, non-terminal stderr)."""
        done = f"{self.completed:,}" + (f"/{self.total:,}" if self.total is not None else "")
        parts = [f"{self.description}: {done} {self.unit}"]
        if self.total:
            parts[0] += f" ({100.0 * self.completed / self.total:.1f}%)"
        parts.append(f"{self.rate:,.1f} {self.unit}/s")
        if final:
            parts.append(f"done in {format_duration(self.elapsed_s)}")
        elif self.total is not None:
            parts.append(f"eta {format_duration(self.eta_s)}")
        if self.stats:
            parts.append(self.stats)
        return " · ".join(parts)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.reporter._close(self)

    def __enter__(self) -> Task:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Reporter:
    """Hands out :class:`Task` s and draws them: one shared rich display, or periodic lines."""

    def __init__(
        self,
        console: Console | None = None,
        *,
        mode: str | None = None,
        interval_s: float | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        from naturalthoughts.console import err_console

        self.console = console or err_console
        self.mode = mode or os.environ.get("NT_PROGRESS") or ("bar" if self.console.is_terminal else "lines")
        if self.mode not in ("bar", "lines", "off"):
            self.mode = "lines"
        env_interval = os.environ.get("NT_PROGRESS_INTERVAL")
        self.interval_s = interval_s if interval_s is not None else float(env_interval or DEFAULT_INTERVAL_S)
        self.log = log
        self._progress: Progress | None = None
        self._open_tasks = 0
        self._lock = threading.Lock()

    def task(self, description: str, total: int | None = None, unit: str = "rows") -> Task:
        return Task(self, description, total, unit)

    def note(self, message: str) -> None:
        """A one-off message for the user and the log (a warning, a clamp, a skipped step)."""
        if self.mode != "off":
            self.console.print(Text.assemble(("note: ", "yellow"), message), soft_wrap=True)
        if self.log is not None:
            self.log.info("note: %s", message)

    # ---- internals -------------------------------------------------------------------------------------------
    def _open(self, task: Task) -> None:
        with self._lock:
            self._open_tasks += 1
            if self.mode == "bar":
                if self._progress is None:
                    self._progress = Progress(
                        TextColumn("{task.description}", style="bold", markup=False),  # plain: no markup, no :emoji:
                        BarColumn(),
                        MofNCompleteColumn(),
                        TaskProgressColumn(),
                        TimeElapsedColumn(),
                        TextColumn("eta"),
                        TimeRemainingColumn(),
                        TextColumn("{task.fields[stats]}", markup=False),
                        console=self.console,
                        refresh_per_second=4,
                    )
                    self._progress.start()
                task._bar_id = self._progress.add_task(task.description, total=task.total, stats="")
        self._line(f"{task.description}: started" + (f", {task.total:,} {task.unit}" if task.total is not None else ""))

    def _refresh(self, task: Task) -> None:
        if self._progress is not None and task._bar_id is not None:
            self._progress.update(task._bar_id, completed=task.completed, total=task.total, stats=task.stats)
        now = time.monotonic()
        if now - task._last_line < self.interval_s:
            return
        with task._lock:
            if now - task._last_line < self.interval_s:
                return
            task._last_line = now
        self._line(task.line())

    def _close(self, task: Task) -> None:
        line = task.line(final=True)
        with self._lock:
            self._open_tasks -= 1
            if self._progress is not None and task._bar_id is not None:
                self._progress.update(task._bar_id, completed=task.completed, total=task.total, stats=task.stats)
                if self._open_tasks == 0:
                    self._progress.stop()
                    self._progress = None
        self._line(line)

    def _line(self, line: str) -> None:
        """One progress line: on stderr when it is not a terminal, and in the log (plain text, never markup)."""
        if self.mode == "lines":
            self.console.print(Text(line), soft_wrap=True, highlight=False)
        if self.log is not None:
            self.log.info("%s", line)


def quiet_reporter() -> Reporter:
    """A reporter that draws nothing (tests, notebooks that want silence)."""
    return Reporter(mode="off")
