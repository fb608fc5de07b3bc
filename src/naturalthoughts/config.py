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


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    return data


def load_config(model: type[M], path: str | os.PathLike[str] | None, overrides: dict[str, Any] | None = None) -> M:
    """Load ``model`` from YAML at ``path`` (optional), then apply non-None ``overrides``.

    Overrides use dotted keys (``{"generate.temperature": 0.7}``) so CLI options can reach nested sections.
    """
    data: dict[str, Any] = load_yaml(path) if path else {}
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return validate(model, data, source=str(path) if path else "options")
