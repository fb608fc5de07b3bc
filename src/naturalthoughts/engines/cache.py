"""A content-addressed response cache in SQLite, so reruns and resumed runs never pay twice.

The key is the sha256 of the canonical JSON of the engine identity, the messages, the sampling
parameters, the sample index, the JSON-mode flag, and (when set) the prefill and the JSON schema with
its name: change any of them and the request is new. Fields left unset are not part of the JSON, so
keys written before those fields existed still match.

Durability: the database runs in WAL mode and every :meth:`ResponseCache.put` is its own committed
transaction, so a process killed with SIGKILL loses only the requests still in flight. Results
carrying an ``error`` are never stored (a rerun retries them); replies cut at ``max_tokens``
(``finish_reason="length"``) are normal results and are stored.

Concurrency: one instance may be shared by threads (a lock guards its connection), and several
processes on one host (Ray workers) may open the same file at once; SQLite's locking and a long
busy timeout serialise their writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from naturalthoughts.digest import canonical_sha256
from naturalthoughts.engines.base import ChatRequest, ChatResult

SCHEMA_VERSION = 1
_BUSY_TIMEOUT_S = 120.0
_SQL_VARIABLES_PER_QUERY = 500  # SQLite caps bound parameters per statement
_STORED_FIELDS = (
    "text",
    "reasoning",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "forced",
    "reasoning_tokens",
    "answer_tokens",
)


class ResponseCache:
    """``key -> ChatResult`` in one SQLite file (created with its parent folders if absent)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: autocommit, so each put is committed the moment it returns.
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable against process crashes (SIGKILL) in WAL mode; only power loss can drop the tail.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS responses ("
            " key TEXT PRIMARY KEY, result TEXT NOT NULL, created_at REAL NOT NULL) WITHOUT ROWID"
        )
        self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @staticmethod
    def key(identity: str, request: ChatRequest) -> str:
        """The content address of ``request`` sent to the model named by ``identity``."""
        return canonical_sha256({"identity": identity, **request.as_dict()})

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"response cache {self.path} is closed")
        return self._conn

    def get(self, key: str) -> ChatResult | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, ChatResult]:
        """The stored results among ``keys`` (absent keys are left out), each with ``cached=True``."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, ChatResult] = {}
        with self._lock:
            conn = self._connection()
            for chunk in _chunks(unique, _SQL_VARIABLES_PER_QUERY):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT key, result FROM responses WHERE key IN ({marks})", chunk)
                for key, stored in rows:
                    found[key] = ChatResult(**json.loads(stored), cached=True)
        return found

    def put(self, key: str, result: ChatResult) -> bool:
        """Store ``result`` under ``key``, replacing any older one; errors are never stored (returns False)."""
        if result.error is not None:
            return False
        # None is every field's default, so it is left out (rows stay small; loading fills the defaults back).
        fields = {name: value for name in _STORED_FIELDS if (value := getattr(result, name)) is not None}
        stored = json.dumps(fields, ensure_ascii=False)
        with self._lock:
            self._connection().execute(
                "INSERT OR REPLACE INTO responses (key, result, created_at) VALUES (?, ?, ?)",
                (key, stored, time.time()),
            )
        return True

    def delete(self, keys: Iterable[str]) -> int:
        """Remove ``keys``; returns how many entries existed."""
        deleted = 0
        with self._lock:
            conn = self._connection()
            for chunk in _chunks(list(dict.fromkeys(keys)), _SQL_VARIABLES_PER_QUERY):
                marks = ",".join("?" * len(chunk))
                deleted += conn.execute(f"DELETE FROM responses WHERE key IN ({marks})", chunk).rowcount
        return deleted

    def __len__(self) -> int:
        with self._lock:
            return self._connection().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
