"""Engine fixtures shared by every test module (a pytest plugin loaded by conftest.py).

- ``llamacpp_engine``: the real embedded llama.cpp server (SmolLM2-135M-Instruct, 4 slots, n_ctx 4096, both cores),
  started once per session.
- ``llamacpp_base_url``: its OpenAI-compatible root (``http://127.0.0.1:PORT/v1``), for clients of your own.
- ``llamacpp_openai_config``: an ``engine: openai`` config pointing at that server (no API key).
- ``tiny_llama_dir``: a saved tiny random Llama (2 layers, hidden 64) with the SmolLM2 tokenizer and chat template,
  for transformers-based tests (generation, training, evaluation).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from naturalthoughts.engines import LlamaCppEngine, LlamaCppEngineConfig, OpenAIEngineConfig
from naturalthoughts.engines.llamacpp import bundled_model_path


@pytest.fixture(scope="session")
def llamacpp_engine() -> Iterator[LlamaCppEngine]:
    engine = LlamaCppEngine(LlamaCppEngineConfig(n_parallel=4, n_ctx=4096, n_threads=2, timeout_s=120))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def llamacpp_base_url(llamacpp_engine: LlamaCppEngine) -> str:
    return llamacpp_engine.base_url


@pytest.fixture(scope="session")
def llamacpp_openai_config(llamacpp_engine: LlamaCppEngine) -> OpenAIEngineConfig:
    return OpenAIEngineConfig(
        base_url=llamacpp_engine.base_url,
        model=llamacpp_engine.model_path.name,
        api_key_env=None,
        concurrency=4,
        timeout_s=120,
    )


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, hidden-64 random Llama saved with the SmolLM2 tokenizer (read from the bundled GGUF)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    gguf = bundled_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=0.2,  # wide enough that greedy output depends on the prompt (0.02 repeats one token)
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
