"""The teacher of a run's traces, as far as annotation needs it: its engine config, its tokenizer, its identity.

The teacher is the engine of the newest finished ``generate`` record in the manifest (the record that wrote
``traces.parquet``). Its tokenizer is what the engine config says (``EngineConfig.tokenizer()``: the bundled GGUF's
for the embedded teacher, the model folder or Hub id of an in-process one; an HTTP endpoint's is not known here).
"""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from naturalthoughts.engines.config import EngineConfig
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir


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


def teacher_tokenizer(run: RunDir) -> str | None:
    engine = teacher_engine(run)
    return engine.tokenizer() if engine is not None else None
