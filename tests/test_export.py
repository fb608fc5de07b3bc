"""nt export --gguf: the trained tiny student (LoRA) as a GGUF and a GGUF LoRA, served by the embedded llama.cpp."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from naturalthoughts.errors import MissingInputError
from naturalthoughts.export import ExportConfig, ExportStage
from naturalthoughts.export.gguf import find_converter
from naturalthoughts.rundir import RunDir
from test_sft_data import SELECTION, make_run
from test_train import _run, _stages

PROMPT = "<|im_start|>user\nWhat is 3 plus 3?<|im_end|>\n<|im_start|>assistant\n"
TOKENS = 8


def _converter_missing() -> bool:
    try:
        find_converter()
    except MissingInputError:
        return True
    return False


@contextlib.contextmanager
def _serve(model: Path, lora: Path | None = None) -> Iterator[str]:
    """llama.cpp's server (xllamacpp, in this process) for ``model`` (+ ``lora``); yields its root URL."""
    import xllamacpp

    from naturalthoughts.engines.llamacpp import wait_until_healthy

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.n_parallel, params.n_ctx = 1, 512
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 2
    params.hostnames, params.port, params.verbosity = ["127.0.0.1"], 0, -1
    if lora is not None:
        params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(lora), 1.0)]
    server = xllamacpp.Server(params)
    root = str(server.listening_address).rstrip("/")
    try:
        wait_until_healthy(root, 60)
        yield root
    finally:
        del server


def _hf_greedy(model, prompt_ids) -> list[int]:
    import torch

    # an explicit mask: the prompt holds <|im_end|>, which is also the pad token generate() would mask out
    with torch.no_grad():
        out = model.generate(prompt_ids, attention_mask=torch.ones_like(prompt_ids), max_new_tokens=TOKENS,
                             do_sample=False, eos_token_id=None)  # fmt: skip
    return out[0, prompt_ids.shape[1] :].tolist()


def _greedy_ids(root: str) -> list[int]:
    body = {"prompt": PROMPT, "n_predict": TOKENS, "temperature": 0, "top_k": 1, "return_tokens": True,
            "cache_prompt": False}  # fmt: skip
    reply = httpx.post(f"{root}/completion", json=body, timeout=60, trust_env=False).json()
    return reply["tokens"]


@pytest.mark.slow
@pytest.mark.skipif(_converter_missing(), reason="the GGUF converter (extra gguf-export) is not installed")
def test_exported_gguf_and_lora_run_in_llama_cpp_like_transformers(run_dir: RunDir, tiny_llama_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    make_run(run_dir.root, n=4)
    _run(run_dir, _stages(tiny_llama_dir, method="lora", learning_rate=5e-2, max_steps=3, lora_r=4, lora_alpha=8))
    from naturalthoughts.progress import quiet_reporter
    from naturalthoughts.runner import Runner

    with Runner(run_dir, reporter=quiet_reporter()) as runner:
        outcome = runner.run_stage(ExportStage(ExportConfig(outtype="f32"), model=SELECTION))
    folder = run_dir.root / "exports" / SELECTION
    files = json.loads((folder / "export.json").read_text())["files"]
    assert files == {
        "model": f"{SELECTION}.f32.gguf",
        "lora": f"{SELECTION}.lora.f32.gguf",
        "lora_base": "base.f32.gguf",
    }
    assert outcome.record["counts"]["gguf_files"] == 3

    model_dir = run_dir.models_dir / SELECTION
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    merged = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    prompt_ids = tokenizer(PROMPT, add_special_tokens=False, return_tensors="pt").input_ids
    expected_ids = _hf_greedy(merged, prompt_ids)
    base = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    assert _hf_greedy(base, prompt_ids) != expected_ids  # the fine-tuning shows in greedy output

    with _serve(folder / files["model"]) as root:
        assert _greedy_ids(root) == expected_ids  # the merged GGUF decodes like the merged HF model
    with _serve(folder / files["lora_base"], lora=folder / files["lora"]) as root:
        assert _greedy_ids(root) == expected_ids  # base GGUF + GGUF LoRA == merged


def test_export_without_a_trained_model_says_what_to_run(run_dir: RunDir) -> None:
    from naturalthoughts.progress import quiet_reporter
    from naturalthoughts.runner import Runner

    with pytest.raises(MissingInputError, match="run `train`"), Runner(run_dir, reporter=quiet_reporter()) as runner:
        runner.run_stage(ExportStage(model="absent"))
