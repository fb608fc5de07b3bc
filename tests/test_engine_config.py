"""Engine configs from YAML-shaped dicts, the registry, and light imports."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import BaseModel

from naturalthoughts.config import validate
from naturalthoughts.engines import (
    ENGINES,
    EngineConfig,
    LlamaCppEngineConfig,
    OpenAIEngineConfig,
    TransformersEngineConfig,
    VllmEngineConfig,
)
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
    with pytest.raises(ConfigError, match=r"unknown key 'engine\.llamacpp\.n_paralel'"):
        validate(Holder, {"engine": {"engine": "llamacpp", "n_paralel": 8}})
    with pytest.raises(ConfigError, match="engine"):
        validate(Holder, {"engine": {"engine": "tgi"}})


def test_registry_covers_every_config() -> None:
    assert set(ENGINES) == {"llamacpp", "openai", "transformers", "vllm"}


def test_importing_engines_stays_light() -> None:
    code = (
        "import sys, naturalthoughts.engines\n"
        "print([m for m in ('torch', 'transformers', 'openai', 'xllamacpp', 'vllm') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
