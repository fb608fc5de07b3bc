"""Which engine evaluates a model folder, and the model's name (the ``eval:NAME`` key).

A Hugging Face folder or a LoRA adapter folder (a trained student, ``RUN/models/NAME``) is evaluated on the student
engine, :data:`STUDENT_ENGINE` (batched transformers, in bfloat16 where the hardware computes it natively and in
float32 elsewhere: it needs no conversion to GGUF; see docs/evaluation.md), or on the eval section's engine when it
loads model folders.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from naturalthoughts.errors import ConfigError, Fix

STUDENT_ENGINE = "transformers"
# A decoding step of the 135M student costs 45 ms for 1 row and 100 ms for 32 on 2 cores (the weights are read once
# a step), so fewer, larger batches take fewer steps; the engine drops finished rows as it goes
# and cuts a benchmark into even batches (117 items: three of 39). Batches of up to 64 evaluated the default's
# students in 61-67 s against 98-121 s in batches of 32, but took the eval stages of `nt run` to 3.06-3.08 GB
# (benchmarks/README.md, "nt run").
STUDENT_BATCH = 48
BUNDLED_NAME = "smollm2"


def is_model_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "config.json").is_file() or (path / "adapter_config.json").is_file())


def student_section(folder: Path) -> dict[str, Any]:
    """The engine section for a student folder on the default student engine, in the dtype this machine computes
    fastest (:func:`naturalthoughts.resources.compute_dtype`: bfloat16 with AMX or AVX512-BF16, else float32)."""
    from naturalthoughts.engines.transformers_local import resolve_device
    from naturalthoughts.resources import compute_dtype

    dtype = compute_dtype(resolve_device("auto").split(":")[0])
    return {"engine": STUDENT_ENGINE, "model": str(folder), "dtype": dtype, "batch_size": STUDENT_BATCH}


def model_name(engine: Any) -> str:
    """A short name for the model: its folder or file name, the served model name, or ``smollm2`` (bundled)."""
    raw = engine.model_source()
    if not raw:
        return BUNDLED_NAME
    path = Path(str(raw))
    stem = path.stem if path.suffix.lower() == ".gguf" else path.name
    return safe_name(stem or str(raw))


def safe_name(name: str) -> str:
    """A name usable as a folder and a manifest key, made from a model's path (a name the user gives is checked
    by :func:`naturalthoughts.names.check_name` instead, never changed)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    if not cleaned:
        raise ConfigError(f"cannot make a model name from {name!r}: name the evaluation", fix=Fix("", name="NAME"))
    return cleaned


# ---- evaluating a run's own models (``nt run`` and ``nt study``) ------------------------------------------------

BASE_MODEL = "base"  # the eval name of the untrained student


def section_data(config: Any, name: str) -> dict[str, Any]:
    """A pipeline (or study) file's section as a mapping of the values the user set (empty when absent)."""
    from pydantic import BaseModel

    value = getattr(config, name, None)
    if value is None:
        return {}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    return dict(value)


def engine_for_folder(folder: str, section: dict[str, Any]) -> dict[str, Any]:
    """The eval section's engine loading ``folder`` (the default student engine when the section names none)."""
    from naturalthoughts.engines.config import engine_config_class, engine_names

    engine = section.get("engine")
    if not engine:
        return student_section(Path(folder))
    name = str(engine.get("engine"))
    config = engine_config_class(name) if name in engine_names() else None
    if config is None or not config.loads_folder:
        able = [n for n in engine_names() if engine_config_class(n).loads_folder]
        raise ConfigError(
            f"eval.engine is `{name}`, which cannot load a trained student's model folder; use one of "
            f"{', '.join(able)} (or leave eval.engine out for the default student engine)."
        )
    return {**engine, config.model_field: folder}
