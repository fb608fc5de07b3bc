"""Progress of long work, the same for every stage: a bar on a terminal, log lines everywhere else.

- On a terminal (stderr is a TTY): a rich bar with done/total, percentage, rate, elapsed time, ETA and the
  stage's own statistics (tokens/s, errors, spend).
- When stderr is not a terminal (``make run > run.log 2>&1``, CI, a job scheduler): one plain line every
  ``interval_s`` seconds (``generate: 1,200/143,000 (0.8%) · 3.1 rows/s · eta 12h 48m · 104 tok/s``), plus a
  line when the task starts and ends.
- Always, when a logger is given (the runner gives each run directory's ``logs/nt.log``): the same lines.

``NT_PROGRESS=bar|lines|off`` overrides the choice; ``NT_PROGRESS_INTERVAL`` (seconds) the line interval.
Tasks are thread-safe: engines call ``advance`` from their callback threads.

**Work measured in tokens.** Model work is uneven (a trace is a reasoning phase then an answer phase; an evaluation
sample may be one phase or two), so a task opened with ``tokens_per_item`` (its cap: the most tokens one item may
take) measures its progress, rate and ETA in tokens, not finished items: every phase that finishes
(:meth:`Task.phase`) moves the bar, tokens generated before a request finishes (:func:`generated`, from engines
that decode in this process) count towards the rate, and the expected size of an item is the mean of the items
finished so far (the cap until one has). So the rate and ETA are sensible from the first finished phase, not after
several whole items. Replies served from a cache count as done work but not towards the rate.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
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


_live_tasks: weakref.WeakSet[Task] = weakref.WeakSet()  # open token-measured tasks, fed by `generated`
_live_lock = threading.Lock()


def generated(tokens: int) -> None:
    """``tokens`` were just decoded by a model running in this process (a batch step, before any request ends):
    every open token-measured task counts them towards its rate."""
    with _live_lock:
        tasks = list(_live_tasks)
    for task in tasks:
        task.add_live_tokens(tokens)


@dataclass
class TokenWork:
    """The token accounting of one task: what finished, what is part way, and what one item is expected to take.

    ``caps`` holds the most tokens each phase of an item may take, the last phase last (``{"": cap}`` for items of
    one phase); a phase's expected size is the mean of the phases finished so far, its cap until one has.
    """

    caps: dict[str, float]
    finished_items: int = 0  # items finished with a known size (cached or generated)
    partial_tokens: int = 0  # tokens of finished phases of items not finished yet
    generated: int = 0  # tokens generated in this task by requests that ended (not served from a cache)
    live: int = 0  # tokens reported by `generated()` while requests were running
    phases: dict[str, int] = field(default_factory=dict)  # name -> items that finished that (earlier) phase
    phase_tokens: dict[str, int] = field(default_factory=dict)  # name -> their tokens
    last_phase_tokens: int = 0  # tokens of the last phase of the finished items

    @property
    def item_tokens(self) -> float:
        """The expected tokens of one item: each phase's observed mean, or its cap until one finished."""
        *earlier, last = self.caps
        expected = sum(
            self.phase_tokens[name] / self.phases[name] if self.phases.get(name) else self.caps[name]
            for name in earlier
        )
        final = self.last_phase_tokens / self.finished_items if self.finished_items else self.caps[last]
        return expected + final

    @property
    def rate_tokens(self) -> int:
        """Tokens generated so far: the larger of what ended requests report and what live steps reported."""
        return max(self.generated, self.live)

    def remaining(self, total: int, completed: int) -> float:
        in_flight = max(self.live - self.generated, 0)  # decoded by requests still running
        return max((total - completed) * self.item_tokens - self.partial_tokens - in_flight, 0.0)


class Task:
    """One long piece of work with a known (or unknown) total. Use as a context manager."""

    def __init__(
        self,
        reporter: Reporter,
        description: str,
        total: int | None,
        unit: str,
        tokens_per_item: float | dict[str, float] | None = None,
    ) -> None:
        self.reporter = reporter
        self.description = description
        self.total = total
        self.unit = unit
        self.completed = 0
        self.stats = ""
        self.started = time.monotonic()
        caps = tokens_per_item if isinstance(tokens_per_item, dict) else {"": tokens_per_item}
        self.work = TokenWork({k: float(v) for k, v in caps.items()}) if tokens_per_item else None
        self._lock = threading.Lock()
        self._last_line = self.started
        self._bar_id: TaskID | None = None
        self._closed = False
        if self.work is not None:
            with _live_lock:
                _live_tasks.add(self)
        reporter._open(self)

    # ---- feeding ---------------------------------------------------------------------------------------------
    def advance(
        self,
        n: int = 1,
        stats: str | None = None,
        *,
        tokens: int | None = None,
        earlier_phases: int = 0,
        cached: bool = False,
    ) -> None:
        """``n`` items finished (``tokens``: all their tokens, ``earlier_phases``: those already reported through
        :meth:`phase`; ``cached``: served from a cache, so not counted in the rate)."""
        with self._lock:
            self.completed += n
            if stats is not None:
                self.stats = stats
            work = self.work
            if work is not None and tokens is not None:
                work.finished_items += n
                # With one cap for a whole item, its last "phase" is all of it.
                work.last_phase_tokens += tokens - (earlier_phases if len(work.caps) > 1 else 0)
                work.partial_tokens = max(work.partial_tokens - earlier_phases, 0)
                if not cached:
                    work.generated += tokens - earlier_phases
        self.reporter._refresh(self)

    def phase(self, name: str, tokens: int, cached: bool = False, n: int = 1) -> None:
        """``n`` items finished their phase ``name`` (not their last) with ``tokens`` tokens: the bar moves now."""
        with self._lock:
            work = self.work
            if work is not None:
                work.phases[name] = work.phases.get(name, 0) + n
                work.phase_tokens[name] = work.phase_tokens.get(name, 0) + tokens
                work.partial_tokens += tokens
                if not cached:
                    work.generated += tokens
        self.reporter._refresh(self)

    def add_live_tokens(self, tokens: int) -> None:
        with self._lock:
            if self.work is not None:
                self.work.live += tokens
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
        """Items a second, or tokens a second for a token-measured task."""
        elapsed = self.elapsed_s
        done = self.work.rate_tokens if self.work is not None else self.completed
        return done / elapsed if elapsed > 0 else 0.0

    @property
    def fraction(self) -> float | None:
        """How much of the work is done (0..1): tokens done over tokens expected, or items done over the total."""
        if not self.total:
            return None
        work = self.work
        if work is None:
            return min(self.completed / self.total, 1.0)
        expected = self.total * work.item_tokens
        return min(max(1.0 - work.remaining(self.total, self.completed) / expected, 0.0), 1.0) if expected else 1.0

    @property
    def eta_s(self) -> float | None:
        if self.total is None or self.rate <= 0:
            return None
        if self.work is not None:
            return self.work.remaining(self.total, self.completed) / self.rate
        return max(self.total - self.completed, 0) / self.rate

    def line(self, final: bool = False) -> str:
        """The plain-text progress line (log files, non-terminal stderr)."""
        done = f"{self.completed:,}" + (f"/{self.total:,}" if self.total is not None else "")
        parts = [f"{self.description}: {done} {self.unit}"]
        fraction = self.fraction
        if fraction is not None:
            parts[0] += f" ({100.0 * fraction:.1f}%)"
        if self.work is not None:
            parts.extend(f"{name} {count:,}" + (f"/{self.total:,}" if self.total else "")
                         for name, count in self.work.phases.items())  # fmt: skip
            parts.append(f"{self.rate:,.0f} tok/s")
        else:
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
            with _live_lock:
                _live_tasks.discard(self)
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

    def task(
        self,
        description: str,
        total: int | None = None,
        unit: str = "rows",
        tokens_per_item: float | dict[str, float] | None = None,
    ) -> Task:
        """A task of ``total`` items; with ``tokens_per_item`` (the most tokens one item may take, or a mapping of
        each phase's most, the last phase last) its progress, rate and ETA are measured in tokens (see the module
        docstring)."""
        return Task(self, description, total, unit, tokens_per_item)

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
                        TextColumn("{task.fields[count]}", markup=False),
                        TaskProgressColumn(),
                        TimeElapsedColumn(),
                        TextColumn("{task.fields[eta]}", markup=False),
                        TextColumn("{task.fields[stats]}", markup=False),
                        console=self.console,
                        refresh_per_second=4,
                    )
                    self._progress.start()
                task._bar_id = self._progress.add_task(task.description, total=_BAR_TOTAL if task.total else None,
                                                       **_bar_fields(task))  # fmt: skip
        self._line(f"{task.description}: started" + (f", {task.total:,} {task.unit}" if task.total is not None else ""))

    def _refresh(self, task: Task) -> None:
        if self._progress is not None and task._bar_id is not None:
            self._progress.update(task._bar_id, **_bar_state(task))
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
                self._progress.update(task._bar_id, **_bar_state(task))
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


_BAR_TOTAL = 1000  # the bar is drawn from the task's fraction done (items, or tokens for a token-measured task)


def _bar_fields(task: Task) -> dict[str, str]:
    done = f"{task.completed:,}" + (f"/{task.total:,}" if task.total is not None else "") + f" {task.unit}"
    if task.work is not None:
        phases = ", ".join(f"{name} {count:,}" for name, count in task.work.phases.items())
        done += f" ({phases})" if phases else ""
        done += f" · {task.rate:,.0f} tok/s"
    eta = f"eta {format_duration(task.eta_s)}" if task.total is not None else ""
    return {"count": done, "eta": eta, "stats": task.stats}


def _bar_state(task: Task) -> dict[str, object]:
    fraction = task.fraction
    state: dict[str, object] = {**_bar_fields(task)}
    if fraction is not None:
        state.update(completed=fraction * _BAR_TOTAL, total=_BAR_TOTAL)
    else:
        state.update(completed=task.completed)
    return state


def quiet_reporter() -> Reporter:
    """A reporter that draws nothing (tests, notebooks that want silence)."""
    return Reporter(mode="off")
