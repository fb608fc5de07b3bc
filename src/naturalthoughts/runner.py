"""The one runner every stage goes through (``nt <stage>``, ``nt run``, ``nt study``, notebooks).

For each stage it:

1. fingerprints the declared inputs (content digest plus the record that wrote them) and the config;
2. **skips** the stage when its last successful record has the same config fingerprint and inputs and its
   outputs still exist unchanged (``up to date``), unless forced;
3. otherwise writes a ``running`` record, runs the stage, and rewrites the record as ``done`` / ``stopped`` /
   ``incomplete`` / ``failed`` / ``interrupted`` / ``terminated`` (:data:`naturalthoughts.stage.OUTCOMES`) with
   times, counts, usage and output fingerprints.

The runner also owns the run directory while it works: an OS file lock (``RUN/.nt.lock``, released by the kernel
if the process dies) so a second writer fails at once naming the holder's PID (or waits with ``wait=True``);
the cleanup of temporary files left by a killed run; ``killed`` records for runs that died without a word;
SIGINT and SIGTERM turned into exceptions (:class:`~naturalthoughts.errors.Terminated` for SIGTERM) after the event
loop let go of its requests, with a hard deadline (:mod:`naturalthoughts.interrupts`); and the
run's log file ``RUN/logs/nt.log``. It refuses an input whose producer ran on files that changed since.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from naturalthoughts import __version__
from naturalthoughts.errors import (
    EXIT_TERMINATED,
    Fix,
    MissingInputError,
    NTError,
    RunBusyError,
    StorageError,
    Terminated,
    storage_error,
)
from naturalthoughts.interrupts import interrupt_signals, last_words, raise_if_requested
from naturalthoughts.manifest import Manifest, fingerprint, new_record_id, now
from naturalthoughts.progress import Reporter
from naturalthoughts.redact import ScrubbingFilter, clip
from naturalthoughts.resources import peak_rss_mb, release_memory, reset_peak_rss
from naturalthoughts.rundir import RunDir
from naturalthoughts.stage import Stage, StageContext, StageResult, Status

LOCK_NAME = ".nt.lock"
RECORDED_ERROR_CHARS = 2000  # a failed stage's error, as recorded in the manifest (scrubbed, then cut)


@dataclass
class StageOutcome:
    """What happened to one stage that returned: ``done``, ``up-to-date``, ``stopped`` (a budget) or ``incomplete``
    (some items failed). A stage that raised has no outcome object: the exception propagates (its record says
    ``failed``, ``interrupted`` or ``terminated``)."""

    key: str
    status: Status
    reason: str  # why it ran ("config changed: temperature") or why it was skipped
    record: dict[str, Any]
    result: StageResult | None = None

    @property
    def value(self) -> Any:
        """The stage's own rich result (None when the stage was up to date)."""
        return self.result.value if self.result is not None else None

    def __getattr__(self, name: str) -> Any:
        """The stage's own result's attributes (``select(...).eligible``), when the stage ran this time."""
        if name.startswith("__") or name in ("key", "status", "reason", "record", "result"):
            raise AttributeError(name)
        value = self.value
        if value is None:
            raise AttributeError(f"{name}: `{self.key}` was {self.status}, so there is no new result to read from "
                                 "(its last record is `.record`)")  # fmt: skip
        return getattr(value, name)

    @property
    def problem(self) -> str | None:
        """What a ``stopped`` or ``incomplete`` stage says about it (the budget, the count of failed items)."""
        if self.result is None:
            return None
        return self.result.stopped or self.result.incomplete

    @property
    def summary(self) -> str:
        if self.result is not None and self.result.summary:
            return self.result.summary
        return self.record.get("summary") or ", ".join(
            f"{k} {v:,}" for k, v in (self.record.get("counts") or {}).items()
        )


# ---- the run-directory lock ------------------------------------------------------------------------------------

_held: dict[Path, tuple[int, int]] = {}  # lock path -> (fd, depth): re-entrant within one process
_held_guard = threading.Lock()


@contextlib.contextmanager
def run_lock(root: Path, wait: bool = False, on_wait: Any = None) -> Iterator[bool]:
    """Hold ``root/.nt.lock`` exclusively; yields True when this call took it (False when re-entered)."""
    root.mkdir(parents=True, exist_ok=True)
    path = (root / LOCK_NAME).resolve()
    with _held_guard:
        if path in _held:
            fd, depth = _held[path]
            _held[path] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield False
        finally:
            with _held_guard:
                fd, depth = _held[path]
                _held[path] = (fd, depth - 1)
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            if not wait:
                raise RunBusyError(
                    f"{root} is in use by another nt process (PID {holder or 'unknown'}): wait for it to finish, "
                    "or queue behind it: {fix}.",
                    fix=Fix("", wait=True),
                ) from None
            if on_wait is not None:
                on_wait(holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        with _held_guard:
            _held[path] = (fd, 1)
        try:
            yield True
        finally:
            with _held_guard:
                _held.pop(path, None)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def remove_stale_temporaries(root: Path) -> list[Path]:
    """Delete the temporary files of atomic writes (``.NAME.XXXX.tmp``) that a killed process left behind."""
    removed = []
    for path in root.rglob(".*.tmp"):
        with contextlib.suppress(OSError):
            if path.is_dir():
                import shutil

                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


# ---- signals ---------------------------------------------------------------------------------------------------


# SIGINT and SIGTERM: naturalthoughts.interrupts (through the event loop, bounded shutdown, hard deadline).
# ``interrupt_signals`` is re-exported here for callers that import it from the runner.


# ---- the runner ------------------------------------------------------------------------------------------------


ENGINE_LOG = "naturalthoughts.engines"  # engines log what they start (threads, servers) here


@contextlib.contextmanager
def forwarded(source: str, target: logging.Logger) -> Iterator[None]:
    """While inside, records of the logger ``source`` at INFO and above also go to ``target``."""

    class Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            target.info("%s", record.getMessage())

    logger = logging.getLogger(source)
    handler = Forward(logging.INFO)
    logger.addHandler(handler)
    previous = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def run_logger(run: RunDir) -> logging.Logger:
    """``naturalthoughts.run.<dir>``: timestamped lines appended to ``RUN/logs/nt.log``."""
    logs = run.root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    target = (logs / "nt.log").resolve()
    logger = logging.getLogger(f"naturalthoughts.run.{target}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == target for h in logger.handlers):
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        handler.addFilter(ScrubbingFilter())  # no key fragment reaches the log
        logger.addHandler(handler)
    return logger


@dataclass
class Runner:
    """Runs stages in one run directory. As a context manager it holds the run lock while open (for several
    stages in a row); :meth:`run_stage` outside a ``with`` takes the lock for that one stage.

    ``force`` reruns every stage (True) or the named stage keys / names; ``wait`` queues behind another process
    holding the lock instead of failing; ``reporter`` draws progress (default: a bar on a terminal, lines
    otherwise; always the log file).
    """

    run: RunDir | str | os.PathLike[str]
    force: bool | Sequence[str] = False
    wait: bool = False
    reporter: Reporter | None = None
    outcomes: list[StageOutcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.run = self.run if isinstance(self.run, RunDir) else RunDir(self.run)
        self.manifest = Manifest(self.run.manifest)
        self._stack: contextlib.ExitStack | None = None
        self.log: logging.Logger | None = None

    def __enter__(self) -> Runner:
        if self.run.root.exists() and not self.run.root.is_dir():
            from naturalthoughts.errors import ConfigError

            raise ConfigError(f"run directory {self.run.root}: is a file, not a folder")
        stack = contextlib.ExitStack()
        try:
            _ensure_writable(self.run.root)
            took = stack.enter_context(run_lock(self.run.root, self.wait, self._say_waiting))
            stack.enter_context(interrupt_signals())
            self.log = run_logger(self.run)
            stack.enter_context(forwarded(ENGINE_LOG, self.log))  # engines say what they started, and why
            if took:
                removed = remove_stale_temporaries(self.run.root)
                killed = self.manifest.mark_killed(os.getpid(), usage_of=self._recorded_usage)
                if removed:
                    self.log.info("removed %d temporary file(s) left by an earlier, killed run", len(removed))
                for key in killed:
                    self.log.info("%s: an earlier run of this stage died without recording an outcome", key)
            if self.reporter is None:
                self.reporter = Reporter(log=self.log)
            elif self.reporter.log is None:
                self.reporter.log = self.log
        except BaseException as exc:
            stack.close()
            if (full := self._disk_full(exc)) is not None:
                raise full from exc
            raise
        self._stack = stack
        return self

    def _disk_full(self, exc: BaseException) -> StorageError | None:
        """``exc`` as a full disk (or quota, or a read-only file system) in this run directory, else None."""
        return None if isinstance(exc, NTError) else storage_error(exc, self.run.root)

    def __exit__(self, *exc: object) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def _say_waiting(self, holder: int | None) -> None:
        from naturalthoughts.console import err_console

        err_console.print(
            f"waiting for the nt process (PID {holder or 'unknown'}) that holds {self.run.root} ...",
            markup=False,
            highlight=False,
        )

    # ---- deciding -----------------------------------------------------------------------------------------------
    def _forced(self, stage: Stage) -> bool:
        if isinstance(self.force, bool):
            return self.force
        return stage.key in self.force or stage.name in self.force

    def staleness(self, stage: Stage, inputs: dict[str, Any]) -> str | None:
        """Why ``stage`` must run, or None when its last successful record still describes its outputs."""
        last = self.manifest.latest(stage.key, ("done",))
        if last is None:
            return "never ran" if not self.manifest.records(stage.key) else "no successful run yet"
        if last.get("config_sha256") != stage.config_fingerprint():
            changed = _changed_keys(last.get("config") or {}, stage.recorded_config(), stage.volatile_paths())
            return "config changed" + (f": {', '.join(changed[:6])}" if changed else "")
        if last.get("inputs") != inputs:
            before = last.get("inputs") or {}
            changed = [name for name in sorted(set(before) | set(inputs)) if before.get(name) != inputs.get(name)]
            return "input changed: " + ", ".join(changed[:4])
        outputs = stage.outputs(self.run)
        if not outputs:
            return "declares no outputs"
        recorded = last.get("outputs") or {}
        for path in outputs:
            name = self.manifest.relative(path)
            if not path.exists():
                return f"output {name} is missing"
            current = fingerprint(path)
            if {k: recorded.get(name, {}).get(k) for k in current} != current:
                return f"output {name} changed since it was written"
        return None

    def check_upstream(self, inputs: dict[str, Any]) -> None:
        """Refuse inputs whose producer ran on files that have changed since (e.g. traces generated from an older
        questions.parquet after a re-ingest): joining them would silently mix two pools."""
        data = self.manifest.load()
        records = {r.get("id"): r for rs in data["stages"].values() for r in rs}
        for name, fp in inputs.items():
            producer = records.get(fp.get("by"))
            if producer is None:
                continue
            for upstream, recorded in (producer.get("inputs") or {}).items():
                path = Path(upstream) if Path(upstream).is_absolute() else self.run.root / upstream
                current = fingerprint(path)
                if current.get("sha256") != recorded.get("sha256"):
                    raise MissingInputError(
                        f"{name} was made by `{producer['stage']}` from an older {upstream} (it changed since): "
                        "run {fix} first (or the whole pipeline again).",
                        fix=self._refresh_fix(producer),
                    )

    def _refresh_fix(self, record: dict[str, Any]) -> Fix:
        """What makes again what ``record``'s stage wrote (with its recorded options)."""
        from naturalthoughts import registry

        name = record["stage"].split(":", 1)[0]
        try:
            return registry.spec(name).stage_class().refresh_fix(record, self.run)
        except KeyError:
            return Fix("run").at(self.run)

    # ---- running ------------------------------------------------------------------------------------------------
    def run_all(self, stages: Sequence[Stage]) -> list[StageOutcome]:
        """Check every stage first (bad config fails before any work), then run them in order."""
        for stage in stages:
            stage.check(self.run)
        return [self.run_stage(stage) for stage in stages]

    def run_stage(self, stage: Stage) -> StageOutcome:
        """Run ``stage`` unless it is up to date; returns its outcome (exceptions propagate after being recorded)."""
        if self._stack is None:  # outside a `with`: hold the lock for this stage only
            with self:
                return self.run_stage(stage)
        assert self.reporter is not None and self.log is not None
        run = self.run
        stage.check(run)
        inputs = self.manifest.fingerprints(stage.inputs(run))
        self.check_upstream(inputs)
        reason = "forced" if self._forced(stage) else self.staleness(stage, inputs)
        if reason is None:
            last = self.manifest.latest(stage.key, ("done",)) or {}
            self.log.info("%s: up to date (last run %s)", stage.key, last.get("finished_at"))
            outcome = StageOutcome(stage.key, "up-to-date", f"up to date (last run {last.get('finished_at')})", last)
            self.outcomes.append(outcome)
            return outcome
        self.log.info("%s: running (%s)", stage.key, reason)
        history = self.manifest.records(stage.key)
        record: dict[str, Any] = {
            "id": new_record_id(),
            "stage": stage.key,
            "status": "running",
            "version": __version__,
            "pid": os.getpid(),
            "reason": reason,
            "started_at": now(),
            "finished_at": None,
            "config": stage.recorded_config(),
            "config_sha256": stage.config_fingerprint(),
            "inputs": inputs,
        }
        self.manifest.put(record)
        ctx = StageContext(
            run=run,
            progress=self.reporter,
            log=self.log,
            previous=self.manifest.latest(stage.key, ("done",)),
            history=history,
            record_id=record["id"],
        )
        started = time.monotonic()
        release_memory()  # what earlier stages freed goes back to the OS before this stage's peak is measured
        reset_peak_rss()  # each record carries its own stage's peak, not the process's lifetime peak
        try:
            with last_words(lambda code: self._abandoned(record, started, code)):
                result = stage.run(ctx)
                raise_if_requested()  # a signal whose exception was swallowed: not a finished stage
        except BaseException as exc:
            # A full disk: said as such, naming the run directory when the OS named no file (its record may not fit).
            full = self._disk_full(exc)
            record["status"] = _status_of(exc)
            record["error"] = clip(str(full or exc) or type(exc).__name__, RECORDED_ERROR_CHARS)
            with contextlib.suppress(OSError) if full else contextlib.nullcontext():
                self._finish(record, started, None, stage)
            self.log.info("%s: %s (%s)", stage.key, record["status"], record["error"])
            if full is not None:
                raise full from exc
            raise
        record["status"] = result.status
        if result.stopped:
            record["stopped"] = result.stopped
        if result.incomplete:
            record["incomplete"] = result.incomplete
        self._finish(record, started, result, stage)
        self.log.info(
            "%s: %s in %.1f s%s",
            stage.key,
            record["status"],
            record["seconds"],
            f" ({result.summary})" if result.summary else "",
        )
        outcome = StageOutcome(stage.key, result.status, reason, record, result)
        self.outcomes.append(outcome)
        return outcome

    def _recorded_usage(self, record_id: str) -> dict[str, Any] | None:
        """What a run that ended without a result sent, from the spend ledger (requests in flight included)."""
        from naturalthoughts.engines.cache import recorded_spend

        spent = recorded_spend(self.run.cache_db, record_id)
        return spent.usage() if spent is not None else None

    def _abandoned(self, record: dict[str, Any], started: float, code: int) -> None:
        """The record of a stage the shutdown deadline cut short (called from the deadline's thread)."""
        record["status"] = "terminated" if code == EXIT_TERMINATED else "interrupted"
        record["error"] = "stopped by a signal; the shutdown deadline passed before the stage finished cleaning up"
        record["finished_at"] = now()
        record["seconds"] = round(time.monotonic() - started, 3)
        if (usage := self._recorded_usage(record["id"])) is not None:
            record["usage"] = usage
        self.manifest.put(record)

    def _finish(self, record: dict[str, Any], started: float, result: StageResult | None, stage: Stage) -> None:
        record["finished_at"] = now()
        record["seconds"] = round(time.monotonic() - started, 3)
        peak = peak_rss_mb()
        if peak is not None:
            record["peak_rss_mb"] = round(peak, 1)
        if result is not None:
            record["counts"] = dict(result.counts)
            record["usage"] = result.usage.as_dict()
            record["summary"] = result.summary
            written = list(dict.fromkeys([*stage.outputs(self.run), *result.outputs]))
            record["outputs"] = self.manifest.fingerprints([p for p in written if p.exists()], with_producer=False)
            for key, value in result.extra.items():
                record.setdefault(key, value)
        elif (usage := self._recorded_usage(record["id"])) is not None:
            record["usage"] = usage  # failed, interrupted or terminated: what it sent is still on record
        self.manifest.put(record)


def _status_of(exc: BaseException) -> str:
    if isinstance(exc, Terminated):
        return "terminated"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return "failed"


def _changed_keys(
    before: dict[str, Any], after: dict[str, Any], volatile: frozenset[str], prefix: str = ""
) -> list[str]:
    """Dotted names of the config values that differ, volatile paths left out (for the "why it reruns" message)."""
    changed: list[str] = []
    for key in sorted(set(before) | set(after)):
        path = f"{prefix}{key}"
        if path in volatile:
            continue
        a, b = before.get(key), after.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed.extend(_changed_keys(a, b, volatile, f"{path}."))
        elif a != b:
            changed.append(path)
    return changed


def _ensure_writable(root: Path) -> None:
    from naturalthoughts.errors import ConfigError

    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"run directory {root}: cannot create it ({exc.strerror})") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise ConfigError(f"run directory {root}: not writable by this user")


def run_one(
    stage: Stage,
    run: RunDir | str | os.PathLike[str],
    *,
    force: bool | Sequence[str] = False,
    wait: bool = False,
    reporter: Reporter | None = None,
) -> StageOutcome:
    """Run one stage through a :class:`Runner` (the notebook shortcut behind ``ingest()``, ``generate()``...)."""
    with Runner(run, force=force, wait=wait, reporter=reporter) as runner:
        return runner.run_stage(stage)


def run_worker(stage: Stage, run: RunDir | str | os.PathLike[str]) -> StageResult:
    """Run ``stage`` in a worker process of a distributed job (``accelerate launch``): the same context as the main
    process's runner gives (the run's log, no progress display), but no lock and no record: the main process holds
    the run directory's lock and records the outcome."""
    run = run if isinstance(run, RunDir) else RunDir(run)
    ctx = StageContext(run=run, progress=Reporter(mode="off"), log=run_logger(run))
    return stage.run(ctx)
