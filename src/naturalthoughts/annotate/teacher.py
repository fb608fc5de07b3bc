"""The teacher of a run's traces, as far as annotation needs it: its engine config, its tokenizer, its identity.

The teacher is the engine of the newest finished ``generate`` record in the manifest (the record that wrote
``traces.parquet``). Its tokenizer is what the engine config says (``EngineConfig.tokenizer()``: the bundled GGUF's
for the embedded teacher, the model folder or Hub id of an in-process one; an HTTP endpoint's is not known here).
Traces imported by ``nt ingest --traces`` (when that ran after the last generate) were counted with the tokenizer
their ingest record names: the teacher's when it was installed, else the characters / 4 approximation.
"""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from naturalthoughts.engines.config import EngineConfig
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir
from naturalthoughts.text.tokens import APPROX


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
    """The teacher's tokenizer name: the generating engine's, or for traces imported by ``nt ingest --traces`` (when
    that ran last) the one ingest counted with (``approx`` when the teacher's was not installed)."""
    manifest = Manifest(run.manifest)
    generated = manifest.latest("generate", ("done", "stopped"))
    imported = imported_tokenizer(manifest)
    if imported is not None and (generated is None or imported[0] > str(generated.get("started_at", ""))):
        return imported[1]
    engine = teacher_engine(run)
    return engine.tokenizer() if engine is not None else None


def imported_tokenizer(manifest: Manifest) -> tuple[str, str] | None:
    """(when the import started, the tokenizer its traces were counted with) of the newest ingest that imported
    traces; the approximation when its sources were counted differently. None when no ingest imported traces."""
    record = manifest.latest("ingest", ("done",))
    sources = ((record or {}).get("traces") or {}).get("sources") or {}
    if not sources:
        return None
    names = {source.get("tokenizer_name") for source in sources.values()}
    name = names.pop() if len(names) == 1 else None
    return str(record.get("started_at", "")), name or APPROX  # type: ignore[union-attr]
