"""Secrets never reach a file, a log or a terminal: the one scrubber every error and log path goes through.

A secret is an API key an engine read from its ``api_key_env`` variable (:func:`register_secret`), or the value of
any environment variable whose name says it holds one (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``...).
:func:`scrub` replaces **every fragment of** :data:`MIN_FRAGMENT` **or more characters** of a secret with ``***``,
not only the whole key: a server that echoes part of a key, or a message cut in the middle of one, leaves nothing
recognisable behind. Text is scrubbed *before* it is cut (:func:`clip`), formatted or stored.

Where it is applied (each is the single path of its kind):

- engine errors: :class:`naturalthoughts.engines.base.ChatResult` scrubs ``error`` when it is made, so traces,
  evaluation records, annotations and the spend ledger only ever see scrubbed errors; the HTTP client scrubs a
  reply body before cutting it;
- ``manifest.json``: :meth:`naturalthoughts.manifest.Manifest.put` scrubs every string of a record;
- ``RUN/logs/nt.log``: :class:`ScrubbingFilter` on the run's log handler;
- the terminal: :func:`naturalthoughts.console.print_error`, ``say`` and ``--debug`` tracebacks.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any

MIN_FRAGMENT = 8  # the shortest piece of a secret that is recognised (and removed)
MASK = "***"
# Environment variable names that hold secrets by convention (OPENAI_API_KEY, HF_TOKEN, AWS_SECRET_ACCESS_KEY...).
_SECRET_NAME = re.compile(r"(?:^|_)(?:API_?KEY|TOKEN|SECRET|SECRET_KEY|ACCESS_KEY|PASSWORD|PASSWD)$", re.IGNORECASE)

_registered: set[str] = set()
_lock = threading.Lock()
_cache: tuple[tuple[str, ...], tuple[tuple[str, frozenset[str]], ...]] | None = None


def register_secret(value: str | None) -> None:
    """Treat ``value`` as a secret from now on (an engine calls this with the key it read)."""
    global _cache
    if value and len(value) >= MIN_FRAGMENT:
        with _lock:
            if value not in _registered:
                _registered.add(value)
                _cache = None


def _secrets() -> tuple[tuple[str, frozenset[str]], ...]:
    """Every secret with the set of its fragments of MIN_FRAGMENT characters (recomputed when the env changes)."""
    global _cache
    from_env = tuple(
        sorted(
            value
            for name, value in os.environ.items()
            if _SECRET_NAME.search(name) and len(value) >= MIN_FRAGMENT and not value.isspace()
        )
    )
    with _lock:
        key = (*sorted(_registered), "\0", *from_env)
        if _cache is None or _cache[0] != key:
            values = sorted(set(_registered) | set(from_env))
            pieces = tuple(
                (value, frozenset(value[i : i + MIN_FRAGMENT] for i in range(len(value) - MIN_FRAGMENT + 1)))
                for value in values
            )
            _cache = (key, pieces)
        return _cache[1]


def scrub(text: str) -> str:
    """``text`` with every fragment of MIN_FRAGMENT+ characters of a secret replaced by ``***``."""
    if not text or len(text) < MIN_FRAGMENT:
        return text
    spans: list[tuple[int, int]] = []
    for _, fragments in _secrets():
        for fragment in fragments:
            start = text.find(fragment)
            while start != -1:
                spans.append((start, start + MIN_FRAGMENT))
                start = text.find(fragment, start + 1)
    if not spans:
        return text
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:  # overlapping or touching pieces of one key: one mask
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts: list[str] = []
    position = 0
    for start, end in merged:
        parts += [text[position:start], MASK]
        position = end
    parts.append(text[position:])
    return "".join(parts)


def clip(text: str, limit: int) -> str:
    """``text`` scrubbed, then cut to ``limit`` characters: the only way a message is shortened."""
    return scrub(text)[:limit]


def scrub_data(value: Any) -> Any:
    """Every string in a JSON-like value (dicts, lists) scrubbed; keys included."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_data(k): scrub_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_data(v) for v in value)
    return value


class ScrubbingFilter(logging.Filter):
    """A logging filter that scrubs each record's final message (arguments formatted first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
