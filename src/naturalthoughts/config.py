"""Configuration: pydantic models loaded from YAML, with command-line overrides.

Each stage keeps its config model beside its code (``naturalthoughts/<stage>/config.py``);
:class:`PipelineConfig` composes them for ``nt run``. Unknown keys are errors that name the key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from naturalthoughts.errors import ConfigError


class StrictModel(BaseModel):
    """Base for every config: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


M = TypeVar("M", bound=BaseModel)


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"  - unknown key '{where}'")
        else:
            lines.append(f"  - {where}: {err['msg']} (got {err.get('input')!r})")
    return "\n".join(lines)


def validate(model: type[M], data: dict[str, Any], source: str = "configuration") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_yaml(path: str | os.PathLike[str], allow_empty: bool = False) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a YAML file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from an editor is not a YAML error
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{line}: {problem}") from None
    if data is None:
        if allow_empty:
            return {}
        raise ConfigError(
            f"{path}: the file is empty. Start from the bundled default: `nt run --show-config > {path.name}`"
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values (got {type(data).__name__})")
    return data


# The sections of a pipeline YAML. A stage command given a whole pipeline file reads its own section.
PIPELINE_KEYS = frozenset(
    {"run_dir", "sources", "ingest", "generate", "annotate", "select", "sft", "train", "eval", "report", "study"}
)


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Set dotted keys (``{"engine.model": "x"}``) in ``data``; ``None`` and ``[]`` mean "not given"."""
    for dotted, value in (overrides or {}).items():
        if value is None or (isinstance(value, list) and not value):
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[leaf] = value
    return data


def section_of(data: dict[str, Any], section: str | None, path: str | os.PathLike[str] | None = None) -> Any:
    """``data[section]`` of a pipeline file, or the whole file when it is the section itself."""
    if section is None:
        return data
    if section in data:
        return data[section] if data[section] is not None else {}
    if set(data) <= PIPELINE_KEYS:  # a pipeline file without this section: the defaults
        return {}
    return data


def load_section(
    model: type[M],
    path: str | os.PathLike[str] | None,
    section: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> M:
    """The one config loader every command uses: YAML (a pipeline file's ``section``, or a file holding just the
    section), then command-line overrides (dotted keys), validated by ``model`` with errors naming the key."""
    data: Any = section_of(load_yaml(path), section, path) if path else {}
    if not isinstance(data, dict):
        where = f"section '{section}' of {path}" if section else str(path)
        raise ConfigError(f"{where}: expected a mapping of keys to values (got {type(data).__name__})")
    data = apply_overrides(dict(data), overrides)
    source = (f"{path} (section {section})" if section and path else str(path)) if path else "options"
    return validate(model, data, source=source)


def load_config(model: type[M], path: str | os.PathLike[str] | None, overrides: dict[str, Any] | None = None) -> M:
    """Load ``model`` from the whole YAML file at ``path`` (optional), then apply non-None dotted ``overrides``."""
    return load_section(model, path, None, overrides)
