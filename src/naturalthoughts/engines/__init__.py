"""Model engines behind one interface (:class:`Engine`), the one registry of them, and the response cache.

``create_engine(config)`` builds the engine a config names; ``engine_identity(config)`` names the model without
starting anything (it is part of every cache key and the teacher name in traces). The registry is
:data:`naturalthoughts.engines.config.ENGINES_REGISTERED` (one line per engine): :func:`engine_names` (the
``engine:`` values) and :func:`engine_classes` (name -> engine class) are read from it.

Importing this package is cheap: every name below is imported on first use, so a command that only names an
engine (``nt --help``) loads neither httpx nor torch, transformers, vllm or xllamacpp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from naturalthoughts.engines.base import Engine
    from naturalthoughts.engines.config import EngineConfig

# Public name -> the module that defines it (imported when the name is first used).
_LAZY = {
    **dict.fromkeys(
        ("NOT_SENT", "AsyncEngine", "BatchedEngine", "ChatRequest", "ChatResult", "Dispatch", "Engine", "Phases",
         "ResultCallback", "SamplingParams", "StopCheck"),
        "naturalthoughts.engines.base",
    ),
    "ResponseCache": "naturalthoughts.engines.cache",
    **dict.fromkeys(("CachedEngine", "EngineFactory", "UsageStats"), "naturalthoughts.engines.cached"),
    **dict.fromkeys(
        ("BaseEngineConfig", "EngineConfig", "LlamaCppEngineConfig", "OpenAIEngineConfig", "TransformersEngineConfig",
         "VllmEngineConfig", "engine_class", "engine_configs", "engine_names", "register_engine"),
        "naturalthoughts.engines.config",
    ),
    "LlamaCppEngine": "naturalthoughts.engines.llamacpp",
    "OpenAICompatEngine": "naturalthoughts.engines.openai_compat",
    **dict.fromkeys(("ThinkingBudget", "ThinkingEngine"), "naturalthoughts.engines.thinking"),
    "TransformersEngine": "naturalthoughts.engines.transformers_local",
    "VllmEngine": "naturalthoughts.engines.vllm_offline",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name == "ENGINES":  # the registry as it is now (engines may be registered after import)
        return engine_classes()
    if name == "ENGINE_NAMES":
        from naturalthoughts.engines.config import engine_names

        return engine_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def engine_classes() -> dict[str, type[Engine]]:
    """The ``engine`` key of a config -> the class that runs it, for every registered engine."""
    from naturalthoughts.engines.config import engine_class, engine_configs, engine_name

    return {engine_name(config): engine_class(config) for config in engine_configs()}


def create_engine(config: EngineConfig) -> Engine:
    """Start the engine ``config`` names (a server, a model in memory...). Close it when done."""
    from naturalthoughts.engines.config import engine_class

    return engine_class(config)(config)  # type: ignore[call-arg]


def engine_identity(config: EngineConfig) -> str:
    """The model's name for cache keys and trace tables, computed without starting the engine."""
    return config.identity()


__all__ = [*_LAZY, "ENGINES", "ENGINE_NAMES", "create_engine", "engine_classes", "engine_identity"]
