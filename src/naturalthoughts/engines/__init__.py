"""Model engines behind one interface (:class:`Engine`), the one registry of them, and the response cache.

``create_engine(config)`` builds the engine a config names; ``engine_identity(config)`` names the
model without starting anything (it is part of every cache key and the teacher name in traces).
Importing this package is cheap: torch, transformers, vllm and xllamacpp are imported only inside
the engine that needs them.
"""

from __future__ import annotations

from naturalthoughts.engines.base import (
    NOT_SENT,
    ChatRequest,
    ChatResult,
    Engine,
    ResultCallback,
    SamplingParams,
    StopCheck,
)
from naturalthoughts.engines.cache import ResponseCache
from naturalthoughts.engines.cached import CachedEngine, UsageStats
from naturalthoughts.engines.config import (
    EngineConfig,
    LlamaCppEngineConfig,
    OpenAIEngineConfig,
    TransformersEngineConfig,
    VllmEngineConfig,
)
from naturalthoughts.engines.llamacpp import LlamaCppEngine
from naturalthoughts.engines.openai_compat import OpenAICompatEngine
from naturalthoughts.engines.transformers_local import TransformersEngine
from naturalthoughts.engines.vllm_offline import VllmEngine

# The one registry: the ``engine`` key of a config -> the class that runs it.
ENGINES: dict[str, type[LlamaCppEngine | OpenAICompatEngine | TransformersEngine | VllmEngine]] = {
    "llamacpp": LlamaCppEngine,
    "openai": OpenAICompatEngine,
    "transformers": TransformersEngine,
    "vllm": VllmEngine,
}


def create_engine(config: EngineConfig) -> Engine:
    """Start the engine ``config`` names (a server, a model in memory...). Close it when done."""
    return ENGINES[config.engine](config)  # type: ignore[arg-type]


def engine_identity(config: EngineConfig) -> str:
    """The model's name for cache keys and trace tables, computed without starting the engine."""
    return ENGINES[config.engine].identity(config)  # type: ignore[arg-type]


__all__ = [
    "ENGINES",
    "NOT_SENT",
    "CachedEngine",
    "ChatRequest",
    "ChatResult",
    "Engine",
    "EngineConfig",
    "LlamaCppEngineConfig",
    "OpenAIEngineConfig",
    "ResponseCache",
    "ResultCallback",
    "SamplingParams",
    "StopCheck",
    "TransformersEngineConfig",
    "UsageStats",
    "VllmEngineConfig",
    "create_engine",
    "engine_identity",
]
