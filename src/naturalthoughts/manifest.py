"""``manifest.json``: what each stage ran with, on what inputs, and what it produced.

Every stage run appends one record under ``stages[<stage>]`` (latest last):

``config`` (resolved), ``inputs`` (path -> fingerprint), ``counts`` (row counts), ``started_at``,
``finished_at``, ``status`` (``ok``/``failed``/``stopped``), ``version``, and for stages that call
models ``usage`` (``requests_sent``, ``cache_hits``, ``prompt_tokens``, ``completion_tokens``,
``cost_usd``). Writes are atomic and serialised with a file lock, so two stages can record at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from naturalthoughts import __version__
from naturalthoughts.atomic import write_json


def fingerprint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A cheap, stable fingerprint: size and sha256 of the first and last MiB plus size.

    Hashing a multi-GB Parquet file in full on every stage would cost more than the stage.
    """
    path = Path(path)
    if not path.exists():
        return {"path": str(path), "exists": False}
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        digest = hashlib.sha256()
        for f in files:
            digest.update(f"{f.relative_to(path)}:{_file_digest(f)}".encode())
        return {"path": str(path), "files": len(files), "sha256": digest.hexdigest()}
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": _file_digest(path)}


def _file_digest(path: Path, window: int = 1 << 20) -> str:
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(window))
        if size > 2 * window:
            fh.seek(-window, os.SEEK_END)
        digest.update(fh.read(window))
    return digest.hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class StageRecord:
    """Filled in by a stage while it runs; written to the manifest when the stage ends."""

    stage: str
    config: dict[str, Any]
    inputs: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    started_at: str = field(default_factory=_now)
    finished_at: str | None = None
    status: str = "running"
    version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        out = {
            "stage": self.stage,
            "status": self.status,
            "version": self.version,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "config": self.config,
            "inputs": self.inputs,
            "counts": self.counts,
        }
        if self.usage:
            out["usage"] = self.usage
        out.update(self.extra)
        return out


class Manifest:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"naturalthoughts_version": __version__, "stages": {}}
        return json.loads(self.path.read_text(encoding="utf-8"))

    def records(self, stage: str) -> list[dict[str, Any]]:
        return self.load()["stages"].get(stage, [])

    def latest(self, stage: str) -> dict[str, Any] | None:
        records = self.records(stage)
        return records[-1] if records else None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, record: StageRecord) -> None:
        with self._locked():
            data = self.load()
            data["naturalthoughts_version"] = __version__
            data["stages"].setdefault(record.stage, []).append(record.to_dict())
            write_json(data, self.path)

    @contextlib.contextmanager
    def stage(
        self, stage: str, config: dict[str, Any], inputs: list[str | os.PathLike[str]] = ()
    ) -> Iterator[StageRecord]:
        """Record one stage run. The record is written whether the stage succeeds, fails or stops."""
        record = StageRecord(stage=stage, config=config)
        record.inputs = {str(p): fingerprint(p) for p in inputs}
        try:
            yield record
            record.status = "ok" if record.status == "running" else record.status
        except KeyboardInterrupt:
            record.status = "interrupted"
            raise
        except BaseException as exc:
            record.status = "failed"
            record.extra["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            raise
        finally:
            record.finished_at = _now()
            self.append(record)
