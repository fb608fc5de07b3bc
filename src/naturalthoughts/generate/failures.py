"""Naming what went wrong with a teacher endpoint: where it is, whether its API key is set, the commonest error."""

from __future__ import annotations

import os

from naturalthoughts.engines.config import EngineConfig
from naturalthoughts.errors import EngineFailure
from naturalthoughts.generate.ledger import Ledger


def endpoint(engine: EngineConfig) -> str:
    """Where the requests went, in words a user recognises (never a key)."""
    return engine.endpoint()


def unset_api_key(engine: EngineConfig) -> str | None:
    """The name of the API-key environment variable the engine is configured to read, when it is unset."""
    name = engine.api_key_variable()
    if name and not os.environ.get(name):
        return name
    return None


def api_key_hint(engine: EngineConfig) -> str:
    name = unset_api_key(engine)
    if not name:
        return ""
    return f" The API key variable {name} is not set: export it, or name another (engine.api_key_env)."


def engine_failure(ledger: Ledger, engine: EngineConfig, what: str) -> EngineFailure:
    """The error for a stage whose requests mostly failed: how many, the commonest message, the endpoint."""
    message, count = ledger.commonest_error()
    return EngineFailure(
        f"{what}: {ledger.errors:,} of {ledger.requests_sent:,} requests to {endpoint(engine)} failed; "
        f"commonest error ({count:,}x): {message}.{api_key_hint(engine)} "
        "Finished responses are kept; fix the endpoint and run the same command again."
    )
