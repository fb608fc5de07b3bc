"""Model engines behind one interface (:class:`Engine`), the one registry of them, and the response cache.

``create_engine(config)`` builds the engine a config names; ``engine_identity(config)`` names the
model without starting anything (it is part of every cache key and the teacher name in traces).
The registry is the :data:`EngineConfig` union: :data:`ENGINE_NAMES` (the ``engine:`` values) and
:data:`ENGINES` (name -> engine class) are derived from it.
Importing this package is cheap: torch, transformers, vllm and xllamacpp are imported only inside
the engine that needs them.
"""

from __future__ import annotations

from naturalthoughts.engines.base import (
    NOT_SENT,
    AsyncEngine,
    BatchedEngine,
    ChatRequest,
    ChatResult,
    Dispatch,
    Engine,
    ResultCallback,
    SamplingParams,
    StopCheck,
)
from naturalthoughts.engines.cache import ResponseCache
from naturalthoughts.engines.cached import CachedEngine, EngineFactory, UsageStats
from naturalthoughts.engines.config import (
    ENGINE_CONFIGS,
    ENGINE_NAMES,
    EngineConfig,
    LlamaCppEngineConfig,
    OpenAIEngineConfig,
    TransformersEngineConfig,
    VllmEngineConfig,
    engine_class,
)
from naturalthoughts.engines.llamacpp import LlamaCppEngine
from naturalthoughts.engines.openai_compat import OpenAICompatEngine
from naturalthoughts.engines.thinking import ThinkingBudget, ThinkingEngine
from naturalthoughts.engines.transformers_local import TransformersEngine
from naturalthoughts.engines.vllm_offline import VllmEngine

# The ``engine`` key of a config -> the class that runs it, read from the config union.
ENGINES: dict[str, type[Engine]] = {
    name: engine_class(config_model) for name, config_model in zip(ENGINE_NAMES, ENGINE_CONFIGS, strict=True)
}


def create_engine(config: EngineConfig) -> Engine:
    """Start the engine ``config`` names (a server, a model in memory...). Close it when done."""
    return engine_class(config)(config)  # type: ignore[call-arg]


def engine_identity(config: EngineConfig) -> str:
    """The model's name for cache keys and trace tables, computed without starting the engine."""
    return engine_class(config).identity(config)  # type: ignore[attr-defined,no-any-return]


__all__ = [
    "ENGINES",
    "ENGINE_NAMES",
    "NOT_SENT",
    "AsyncEngine",
    "BatchedEngine",
    "CachedEngine",
    "ChatRequest",
    "ChatResult",
    "Dispatch",
    "Engine",
    "EngineConfig",
    "EngineFactory",
    "LlamaCppEngine",
    "LlamaCppEngineConfig",
    "OpenAICompatEngine",
    "OpenAIEngineConfig",
    "ResponseCache",
    "ResultCallback",
    "SamplingParams",
    "StopCheck",
    "ThinkingBudget",
    "ThinkingEngine",
    "TransformersEngine",
    "TransformersEngineConfig",
    "UsageStats",
    "VllmEngine",
    "VllmEngineConfig",
    "create_engine",
    "engine_class",
    "engine_identity",
]
