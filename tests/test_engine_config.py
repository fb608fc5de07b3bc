"""Engine configs from YAML-shaped dicts, the registry, and light imports."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import BaseModel

from naturalthoughts.config import validate
from naturalthoughts.engines import (
    Engine,
    EngineConfig,
    LlamaCppEngine,
    LlamaCppEngineConfig,
    OpenAIEngineConfig,
    TransformersEngineConfig,
    VllmEngine,
    VllmEngineConfig,
    engine_class,
    engine_classes,
)
from naturalthoughts.engines.config import engine_configs, engine_names
from naturalthoughts.errors import ConfigError


class Holder(BaseModel):
    engine: EngineConfig = LlamaCppEngineConfig()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ({}, LlamaCppEngineConfig),
        ({"engine": {"engine": "llamacpp", "n_parallel": 8}}, LlamaCppEngineConfig),
        ({"engine": {"engine": "openai", "base_url": "http://h/v1", "model": "m"}}, OpenAIEngineConfig),
        ({"engine": {"engine": "transformers", "model": "/ckpt"}}, TransformersEngineConfig),
        ({"engine": {"engine": "vllm", "model": "m", "tensor_parallel_size": 2}}, VllmEngineConfig),
    ],
)
def test_the_engine_key_picks_the_config(data: dict, kind: type) -> None:
    assert isinstance(validate(Holder, data).engine, kind)


def test_unknown_keys_and_engines_are_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'engine\.n_paralel'"):
        validate(Holder, {"engine": {"engine": "llamacpp", "n_paralel": 8}})
    with pytest.raises(ConfigError, match="engine"):
        validate(Holder, {"engine": {"engine": "tgi"}})


def test_registry_is_read_from_the_registered_configs() -> None:
    assert engine_names() == ("llamacpp", "openai", "transformers", "vllm")
    classes = engine_classes()
    assert tuple(classes) == engine_names()
    configs = {config.model_fields["engine"].default: config for config in engine_configs()}
    assert set(configs) == set(engine_names())
    for name, engine in classes.items():
        assert issubclass(engine, Engine) and engine_class(configs[name]) is engine
    assert classes["llamacpp"] is LlamaCppEngine and classes["vllm"] is VllmEngine


def test_prefill_mode_is_validated() -> None:
    with pytest.raises(ConfigError, match="prefill"):
        validate(Holder, {"engine": {"engine": "openai", "base_url": "http://h/v1", "model": "m", "prefill": "vllm"}})
    config = validate(Holder, {"engine": {"engine": "openai", "base_url": "http://h/v1", "model": "m"}}).engine
    assert isinstance(config, OpenAIEngineConfig) and config.prefill == "auto"


def test_importing_engines_stays_light() -> None:
    code = (
        "import sys, naturalthoughts.engines\n"
        "print([m for m in ('torch', 'transformers', 'openai', 'xllamacpp', 'vllm') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
