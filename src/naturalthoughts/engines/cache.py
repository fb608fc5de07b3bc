"""A content-addressed response cache in SQLite, so reruns and resumed runs never pay twice.

The key is the sha256 of the canonical JSON of the engine identity, the messages, the sampling
parameters, the sample index, the JSON-mode flag, and (when set) the prefill and the JSON schema with
its name: change any of them and the request is new. Fields left unset are not part of the JSON, so
keys written before those fields existed still match.

Durability: the database runs in WAL mode and every :meth:`ResponseCache.put` is its own committed
transaction, so a process killed with SIGKILL loses only the requests still in flight. Results
carrying an ``error`` are never stored (a rerun retries them); replies cut at ``max_tokens``
(``finish_reason="length"``) are normal results and are stored.

The spend ledger lives in the same file (table ``spend``): a request is *reserved* (committed) just before
it is sent, with a worst-case estimate of its tokens and cost, and *settled* with what it really spent in
the same transaction that stores its response (:meth:`ResponseCache.settle`). A process killed with requests
in flight leaves them reserved: they count as spent, never forgotten, at their worst case until the same request
(same key) is answered by a later run: that answer's spend is then the best estimate of what the lost one cost (the
same prompt, the same sampling), and the reservation is *estimated* at it in the same transaction. Each row names
its budget ``scope`` (the stage key, e.g. ``generate``) and its ``attempt`` (the manifest record id of the run that
sent it); a ``closed`` row marks where a scope's work finished, so a budget covers everything sent since
(:meth:`ResponseCache.spent`).

Concurrency: one instance may be shared by threads (a lock guards its connection), and several
processes on one host (Ray workers) may open the same file at once; SQLite's locking and a long
busy timeout serialise their writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from naturalthoughts.digest import canonical_sha256
from naturalthoughts.engines.base import ChatRequest, ChatResult

SCHEMA_VERSION = 2  # 2: the spend ledger
_BUSY_TIMEOUT_S = 120.0
_SQL_VARIABLES_PER_QUERY = 500  # SQLite caps bound parameters per statement
_STORED_FIELDS = (
    "text",
    "reasoning",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "cached_prompt_tokens",
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
        self._conn.executescript(_SPEND_SCHEMA)
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
        with self._lock:
            self._connection().execute(
                "INSERT OR REPLACE INTO responses (key, result, created_at) VALUES (?, ?, ?)",
                (key, _stored(result), time.time()),
            )
        return True

    # ---- the spend ledger -------------------------------------------------------------------------------------
    def reserve(
        self, scope: str, attempt: str, key: str, prompt_tokens: int, completion_tokens: int, cost: float
    ) -> int:
        """Commit a request about to be sent, with its worst-case spend; returns the entry to settle."""
        with self._lock:
            cursor = self._connection().execute(
                "INSERT INTO spend (scope, attempt, key, state, prompt_tokens, completion_tokens, cost_usd, sent_at)"
                " VALUES (?, ?, ?, 'reserved', ?, ?, ?, ?)",
                (scope, attempt, key, prompt_tokens, completion_tokens, cost, time.time()),
            )
            return int(cursor.lastrowid or 0)

    def settle(
        self, entry: int | None, key: str, result: ChatResult, cost: float, scope: str = "", attempt: str = ""
    ) -> Spent | None:
        """Store ``result`` under ``key`` (unless it is an error) and record what it really spent, in one
        transaction. ``entry`` is the reservation; None records a request that was never reserved.

        An answer also prices the reservations of the same request that earlier runs of ``scope`` left in flight
        when they died (since its work last finished): they become ``estimated`` at this answer's spend. Returns
        what that changed (their count, and the tokens and cost taken off their worst case), or None."""
        state = "failed" if result.error is not None else "settled"
        spend = (state, result.prompt_tokens or 0, result.completion_tokens or 0, cost, time.time())
        repriced: Spent | None = None
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                if result.error is None:
                    conn.execute(
                        "INSERT OR REPLACE INTO responses (key, result, created_at) VALUES (?, ?, ?)",
                        (key, _stored(result), time.time()),
                    )
                    if result.completion_tokens is not None:  # a reply without usage says nothing about cost
                        repriced = _estimate_orphans(conn, key, scope, attempt, spend[1:4])
                if entry is not None:
                    conn.execute(
                        "UPDATE spend SET state = ?, prompt_tokens = ?, completion_tokens = ?, cost_usd = ?,"
                        " settled_at = ? WHERE id = ?",
                        (*spend, entry),
                    )
                else:
                    conn.execute(
                        "INSERT INTO spend (scope, attempt, key, state, prompt_tokens, completion_tokens, cost_usd,"
                        " settled_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (scope, attempt, key, *spend, spend[-1]),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return repriced

    def close_budget(self, scope: str, attempt: str) -> None:
        """Mark that ``scope``'s work finished: its budget counts only what is sent after this."""
        with self._lock:
            self._connection().execute(
                "INSERT INTO spend (scope, attempt, key, state, sent_at) VALUES (?, ?, '', 'closed', ?)",
                (scope, attempt, time.time()),
            )

    def spent(self, scope: str | None = None, attempt: str | None = None, whole_history: bool = False) -> Spent:
        """What was sent for ``scope`` since its work last finished (or ever, with ``whole_history``), or by one
        ``attempt``; reserved requests count at their reservation."""
        with self._lock:
            return _spent(self._connection(), scope, attempt, whole_history)

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


def _stored(result: ChatResult) -> str:
    # None is every field's default, so it is left out (rows stay small; loading fills the defaults back).
    fields = {name: value for name in _STORED_FIELDS if (value := getattr(result, name)) is not None}
    return json.dumps(fields, ensure_ascii=False)


_SPEND_SCHEMA = """
CREATE TABLE IF NOT EXISTS spend (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    attempt TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    sent_at REAL NOT NULL,
    settled_at REAL
);
CREATE INDEX IF NOT EXISTS spend_by_scope ON spend (scope, id);
CREATE INDEX IF NOT EXISTS spend_by_attempt ON spend (attempt);
"""


@dataclass(frozen=True)
class Spent:
    """Totals of the spend ledger: requests sent, of which in flight when their process died or was stopped
    (``reserved``: counted at their worst case, or, ``estimated`` of them, at what the same request cost when a
    later run sent it again) and failed, with their tokens and cost."""

    requests: int = 0
    reserved: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    estimated: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def usage(self) -> dict[str, Any]:
        """As a manifest record's ``usage`` (what a run that ended without a result spent)."""
        return {
            "requests_sent": self.requests,
            "errors": self.failed,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6),
            "reserved_in_flight": self.reserved,
        }


def _spent(conn: sqlite3.Connection, scope: str | None, attempt: str | None, whole_history: bool) -> Spent:
    where, args = ["state != 'closed'"], []
    if scope is not None:
        where.append("scope = ?")
        args.append(scope)
        if not whole_history:
            where.append("id > COALESCE((SELECT MAX(id) FROM spend WHERE scope = ? AND state = 'closed'), 0)")
            args.append(scope)
    if attempt is not None:
        where.append("attempt = ?")
        args.append(attempt)
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(state IN ('reserved', 'estimated')), 0), COALESCE(SUM(state = 'failed'), 0),"
        " COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0.0),"
        f" COALESCE(SUM(state = 'estimated'), 0) FROM spend WHERE {' AND '.join(where)}",
        args,
    ).fetchone()
    return Spent(*row)


def _estimate_orphans(
    conn: sqlite3.Connection, key: str, scope: str, attempt: str, spend: tuple[int, int, float]
) -> Spent | None:
    """Price at ``spend`` (prompt tokens, completion tokens, cost) the reservations of request ``key`` that other
    attempts of ``scope`` left in flight since its work last finished (inside the caller's transaction); returns
    what was taken off them, or None when there were none."""
    where = (
        "key = ? AND scope = ? AND attempt != ? AND state = 'reserved'"
        " AND id > COALESCE((SELECT MAX(id) FROM spend WHERE scope = ? AND state = 'closed'), 0)"
    )
    args = (key, scope, attempt, scope)
    count, prompt, completion, cost = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),"
        f" COALESCE(SUM(cost_usd), 0.0) FROM spend WHERE {where}",
        args,
    ).fetchone()
    if not count:
        return None
    conn.execute(
        "UPDATE spend SET state = 'estimated', prompt_tokens = ?, completion_tokens = ?, cost_usd = ?,"
        f" settled_at = ? WHERE {where}",
        (*spend, time.time(), *args),
    )
    return Spent(
        requests=count,
        reserved=count,
        prompt_tokens=prompt - count * spend[0],
        completion_tokens=completion - count * spend[1],
        cost_usd=cost - count * spend[2],
        estimated=count,
    )


def recorded_spend(
    path: str | os.PathLike[str], attempt: str | None = None, scope: str | None = None, whole_history: bool = True
) -> Spent | None:
    """What ``attempt`` (or ``scope``) sent, read from the cache file at ``path`` without creating or changing it
    (None when nothing is on record there)."""
    if not Path(path).exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S)) as conn:
            spent = _spent(conn, scope, attempt, whole_history)
    except sqlite3.OperationalError:  # an older cache without the spend table
        return None
    return spent if spent.requests else None


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
