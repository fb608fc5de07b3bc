"""The teacher of a run's traces, as far as annotation needs it: its engine config, its tokenizer, its identity.

The teacher is the engine of the newest finished ``generate`` record in the manifest (the record that wrote
``traces.parquet``). Its tokenizer is known for the embedded llama.cpp teacher (the bundled GGUF's) and for a
transformers or vLLM teacher (its model folder or Hub id, loaded offline); an HTTP endpoint's is not.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from naturalthoughts import assets
from naturalthoughts.engines.config import (
    EngineConfig,
    LlamaCppEngineConfig,
    TransformersEngineConfig,
    VllmEngineConfig,
)
from naturalthoughts.errors import NTError
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir

BUNDLED_TOKENIZER = "smollm2"  # naturalthoughts.text.tokens' name for the bundled GGUF's tokenizer


def teacher_engine(run: RunDir) -> EngineConfig | None:
    """The engine config of the generate run that wrote ``traces.parquet`` (None when the manifest has none)."""
    for record in reversed(Manifest(run.manifest).records("generate")):
        if record.get("status") not in ("done", "stopped"):
            continue
        engine = (record.get("config") or {}).get("engine")
        try:
            return TypeAdapter(EngineConfig).validate_python(engine)
        except ValidationError:
            return None
    return None


def tokenizer_of(engine: EngineConfig) -> str | None:
    """The :mod:`naturalthoughts.text.tokens` name of ``engine``'s tokenizer, None when it cannot be known here."""
    if isinstance(engine, LlamaCppEngineConfig):
        if engine.model_path is None:
            return BUNDLED_TOKENIZER
        try:
            bundled = assets.smollm2_gguf().resolve()
        except NTError:
            return None
        # Another GGUF file: text.tokens reads only the bundled GGUF's tokenizer (or a Hugging Face folder).
        return BUNDLED_TOKENIZER if Path(engine.model_path).expanduser().resolve() == bundled else None
    if isinstance(engine, TransformersEngineConfig | VllmEngineConfig):
        return engine.model
    return None  # an HTTP endpoint: its tokenizer is the server's business


def teacher_tokenizer(run: RunDir) -> str | None:
    engine = teacher_engine(run)
    return tokenizer_of(engine) if engine is not None else None
