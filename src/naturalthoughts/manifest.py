"""``manifest.json``: what each stage ran with, on what inputs, and what it produced.

Every stage run has one record under ``stages[<key>]`` (oldest first), written when the stage starts (status
``running``) and rewritten when it ends:

``id``, ``stage``, ``status`` (``running`` | ``done`` | ``stopped`` (a budget ended it early) | ``incomplete``
(some items failed; the rest is written) | ``failed`` |
``interrupted`` (SIGINT) | ``terminated`` (SIGTERM) | ``killed`` (the process died without a word; found by the
next run)), ``version``, ``pid``, ``started_at``, ``finished_at``, ``seconds``, ``peak_rss_mb`` (the process's
peak resident memory while the stage ran), ``config`` (resolved),
``config_sha256`` (of the config without its volatile fields), ``inputs`` and ``outputs`` (path -> fingerprint),
``counts``, ``usage`` (requests sent, cache hits, errors, tokens, cost, seconds) and the stage's own extras.

A fingerprint is ``{"bytes", "sha256", "by"}``: the content digest and the id of the record that wrote the file
(so a stage whose input was rewritten by a newer run of its producer reruns even when the bytes are equal).
Paths inside the run directory are recorded relative to it, so a run directory can be moved.
Writes are atomic and serialised with a file lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from naturalthoughts import __version__
from naturalthoughts.atomic import write_json
from naturalthoughts.digest import file_digest, fingerprint
from naturalthoughts.redact import scrub_data

__all__ = ["Manifest", "file_digest", "fingerprint", "new_record_id", "now"]

FINISHED_OK = ("done",)
# Records whose outputs are real files later stages may read (a stopped or incomplete stage wrote what it could).
WROTE_OUTPUTS = ("done", "stopped", "incomplete")


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_record_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


class Manifest:
    """Read and update ``manifest.json`` of one run directory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.root = self.path.parent

    # ---- reading ---------------------------------------------------------------------------------------------
    def load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"naturalthoughts_version": __version__, "stages": {}}
        return json.loads(self.path.read_text(encoding="utf-8"))

    def records(self, key: str) -> list[dict[str, Any]]:
        return self.load()["stages"].get(key, [])

    def latest(self, key: str, statuses: tuple[str, ...] | None = None) -> dict[str, Any] | None:
        """The newest record of ``key`` (with one of ``statuses``, if given)."""
        for record in reversed(self.records(key)):
            if statuses is None or record.get("status") in statuses:
                return record
        return None

    def relative(self, path: str | os.PathLike[str]) -> str:
        """How ``path`` is named in records: relative to the run directory when inside it."""
        path = Path(path)
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path.resolve())

    def producer(
        self, path: str | os.PathLike[str], sha256: str | None, data: dict[str, Any] | None = None
    ) -> str | None:
        """The id of the newest finished record that wrote ``path`` with this content, if any."""
        if sha256 is None:
            return None
        name = self.relative(path)
        best: tuple[str, str] | None = None
        for records in (data or self.load())["stages"].values():
            for record in records:
                if record.get("status") not in WROTE_OUTPUTS:
                    continue
                out = (record.get("outputs") or {}).get(name)
                if out and out.get("sha256") == sha256:
                    stamp = record.get("finished_at") or ""
                    if best is None or stamp >= best[0]:
                        best = (stamp, record["id"])
        return best[1] if best else None

    def fingerprints(self, paths: list[Path], with_producer: bool = True) -> dict[str, Any]:
        data = self.load() if with_producer else None
        out: dict[str, Any] = {}
        for path in paths:
            fp = fingerprint(path)
            if with_producer:
                fp["by"] = self.producer(path, fp.get("sha256"), data)
            out[self.relative(path)] = fp
        return out

    # ---- writing ---------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.parent / ".manifest.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = self.load()
                yield data
                data["naturalthoughts_version"] = __version__
                write_json(data, self.path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def put(self, record: dict[str, Any]) -> None:
        """Add ``record`` or replace the record with the same ``id`` (every string scrubbed of secrets)."""
        record = scrub_data(record)
        with self._locked() as data:
            records = data["stages"].setdefault(record["stage"], [])
            for i, existing in enumerate(records):
                if existing.get("id") == record["id"]:
                    records[i] = record
                    break
            else:
                records.append(record)

    def mark_killed(self, alive_pid: int, usage_of: Callable[[str], dict[str, Any] | None] | None = None) -> list[str]:
        """Records still ``running`` from another process (which must be dead: we hold the run lock) -> ``killed``,
        with the usage ``usage_of(record_id)`` finds (the spend ledger: what the dead process sent)."""
        killed: list[str] = []
        if not self.path.exists():
            return killed
        with self._locked() as data:
            for key, records in data["stages"].items():
                for record in records:
                    if record.get("status") == "running" and record.get("pid") != alive_pid:
                        record["status"] = "killed"
                        record["error"] = "the process ended without recording an outcome (killed or crashed)"
                        if usage_of is not None and (usage := usage_of(record["id"])) is not None:
                            record["usage"] = usage
                        killed.append(key)
        return killed
