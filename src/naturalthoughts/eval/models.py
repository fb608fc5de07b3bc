"""Which engine answers for ``nt eval --model X``, and the model's name (the ``eval:NAME`` key).

``--model`` takes a path or an engine's model name:

- a ``.gguf`` file: the embedded llama.cpp engine;
- a Hugging Face folder or a LoRA adapter folder (a trained student, e.g. ``RUN/models/NAME`` or just ``NAME``
  when that folder exists in the run): the student engine, :data:`STUDENT_ENGINE` (batched transformers in
  bfloat16 on this CPU; see docs/evaluation.md for the measurement behind the choice);
- with ``--engine`` / ``--base-url``: exactly as ``nt generate`` reads them (a served model name, a checkpoint).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from naturalthoughts.errors import ConfigError
from naturalthoughts.rundir import RunDir

STUDENT_ENGINE = "transformers"
STUDENT_BATCH = 16
STUDENT_DTYPE = "bfloat16"
BUNDLED_NAME = "smollm2"


def is_model_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "config.json").is_file() or (path / "adapter_config.json").is_file())


def locate(model: str, run: RunDir | None) -> Path | None:
    """The file or folder ``model`` names: a path, or a model folder of the run (``RUN/models/NAME``)."""
    path = Path(model).expanduser()
    if path.exists():
        return path
    if run is not None and (run.models_dir / model).exists():
        return run.models_dir / model
    return None


def student_section(folder: Path) -> dict[str, Any]:
    """The engine section for a student folder on the default student engine."""
    return {"engine": STUDENT_ENGINE, "model": str(folder), "dtype": STUDENT_DTYPE, "batch_size": STUDENT_BATCH}


def engine_section_for(model: str | None, run: RunDir | None) -> dict[str, Any] | None:
    """The engine section ``--model`` implies when no ``--engine`` is given; None leaves the config's engine."""
    if model is None:
        return None
    path = locate(model, run)
    if path is None:
        raise ConfigError(
            f"--model {model}: no such file or folder (nor {run.models_dir / model})"
            if run is not None
            else f"--model {model}: no such file or folder; for a served model add --base-url (or --engine openai)"
        )
    if path.is_file():
        from naturalthoughts.engines.config import engine_configs, engine_name

        for config in engine_configs():  # the first engine that loads files of this kind
            if path.suffix.lower() in config.model_suffixes:
                return {"engine": engine_name(config), config.model_field: str(path)}
    if is_model_folder(path):
        return student_section(path)
    raise ConfigError(f"--model {model}: neither a GGUF file nor a model folder (config.json or adapter_config.json)")


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
        raise ConfigError(f"cannot make a model name from {name!r}: give one with --name")
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


def _engine_for(folder: str, section: dict[str, Any]) -> dict[str, Any]:
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


def eval_stage(config: Any, model: str | None) -> Any:
    """The eval stage of the run's trained model ``model`` (``RUN/models/NAME``), or of the untrained student
    (None, evaluated as ``base``), with the config's ``eval`` section; ``config`` has ``run_dir``, ``eval`` and
    ``train`` (a pipeline or study file).

    Building it is cheap: the untrained student's weights folder (the bundled GGUF converted once) is resolved by
    the stage's ``check()``, not here."""
    import functools

    from naturalthoughts.config import validate
    from naturalthoughts.eval.config import EvalConfig
    from naturalthoughts.eval.stage import EvalStage
    from naturalthoughts.train.student import resolve_student, student_source

    run = RunDir(config.run_dir)
    section = section_data(config, "eval")
    resolve = None
    if model is None:
        student = section_data(config, "train").get("student")
        folder = str(student_source(student) or student)  # what the weights are made from, until resolved
        resolve = functools.partial(resolve_student, student)
    else:
        folder = str(run.models_dir / model)
    data = {**section, "engine": _engine_for(folder, section)}
    config_ = validate(EvalConfig, data, source="eval section")
    return EvalStage(config_, model_name=model or BASE_MODEL, resolve_model=resolve)
