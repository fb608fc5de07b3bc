"""Per-sample resume of an evaluation: every finished sample's record is committed as it finishes.

``RUN/eval/NAME/records.partial.sqlite`` holds the graded record of each sample that finished (its answer graded,
its judge's verdict in), keyed by benchmark, item, seed, mode, budget and a digest of what was asked and what is
graded against (the request, the gold answer, the options), under the fingerprint of the eval's config and of the
models' identities: a rerun of the same evaluation after a kill reads them back and sends, grades and judges only
the samples that are missing; a changed config, a retrained model or another judge starts afresh, and an item
whose question or answer changed is done again. Samples that failed are never kept (the rerun retries them).
The file is removed once ``samples.parquet`` is complete.

The model's replies are kept as they finish too (the response cache; an in-process batch hands over each
sequence the step it ends), so a kill loses only the samples still being generated.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from naturalthoughts.digest import canonical_sha256, short_hash
from naturalthoughts.eval.plan import Sample

PARTIAL = "records.partial.sqlite"
_BUSY_TIMEOUT_S = 60.0


def sample_key(sample: Sample) -> str:
    """What identifies a sample within one evaluation's plan, with a digest of its request and gold answer (an
    edited benchmark file keeps its item ids)."""
    item = sample.item
    asked = short_hash([sample.request.as_dict(), item.answer, item.choices, sample.opened], 16)
    return json.dumps([sample.benchmark.name, item.id, sample.seed, sample.mode, sample.budget, asked])


class FinishedRecords:
    """The records of finished samples of one evaluation (``folder``), for the config with ``fingerprint`` and
    the models named by ``identities`` (the model's and the judge's engine identities)."""

    def __init__(self, folder: Path, fingerprint: str, identities: Sequence[str | None] = ()) -> None:
        fingerprint = canonical_sha256([fingerprint, *identities])
        self.path = folder / PARTIAL
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Autocommit: each record is committed the moment it is put.
        self._conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, fingerprint TEXT, row TEXT)")
        self._conn.execute("DELETE FROM records WHERE fingerprint != ?", (fingerprint,))
        self.fingerprint = fingerprint
        self.earlier: dict[str, dict[str, Any]] = {
            key: json.loads(row) for key, row in self._conn.execute("SELECT key, row FROM records")
        }

    def put(self, sample: Sample, row: dict[str, Any]) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO records (key, fingerprint, row) VALUES (?, ?, ?)",
                (sample_key(sample), self.fingerprint, json.dumps(row, ensure_ascii=False)),
            )

    def finished(self, sample: Sample) -> dict[str, Any] | None:
        """The record an earlier, interrupted run kept for ``sample`` (None: it still has to be done)."""
        return self.earlier.get(sample_key(sample))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def remove(self) -> None:
        """Once samples.parquet holds every record: the partial file (and SQLite's side files) go."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
