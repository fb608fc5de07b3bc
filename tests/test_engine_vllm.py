"""vLLM engine: the pure request/response mappings (vLLM itself cannot run without a CUDA GPU)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

import pytest

from naturalthoughts.engines import ChatRequest, SamplingParams, VllmEngineConfig, create_engine, engine_identity
from naturalthoughts.engines.vllm_offline import chat_messages, sampling_kwargs, to_chat_result
from naturalthoughts.errors import ConfigError


@dataclass
class CompletionOutput:  # shaped like vllm.outputs.CompletionOutput
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None = None
    logprobs: None = None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:  # shaped like vllm.outputs.RequestOutput
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int] | None
    outputs: list[CompletionOutput] = field(default_factory=list)
    finished: bool = True


def test_sampling_kwargs_map_every_parameter() -> None:
    request = ChatRequest(
        messages=({"role": "user", "content": "hi"},),
        params=SamplingParams(temperature=0.7, top_p=0.9, max_tokens=128, seed=3, stop=("</answer>",)),
        json_mode=True,
    )
    assert sampling_kwargs(request) == {
        "n": 1,
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 128,
        "seed": 3,
        "stop": ["</answer>"],
        "json_object": True,
    }
    plain = sampling_kwargs(ChatRequest(messages=({"role": "user", "content": "hi"},)))
    assert "seed" not in plain and "stop" not in plain and "json_object" not in plain
    assert chat_messages(request) == [{"role": "user", "content": "hi"}]


def test_request_output_maps_to_chat_result() -> None:
    output = RequestOutput(
        "0", None, [1, 2, 3, 4], [CompletionOutput(0, "The answer is 4.", [7, 8, 9], finish_reason="stop")]
    )
    result = to_chat_result(output, latency_s=1.5)
    assert (result.text, result.finish_reason, result.prompt_tokens, result.completion_tokens) == (
        "The answer is 4.",
        "stop",
        4,
        3,
    )
    assert result.ok and result.latency_s == 1.5
    cut = to_chat_result(
        RequestOutput("1", None, [1], [CompletionOutput(0, "abc", [5] * 16, finish_reason="length")]), 0
    )
    assert cut.finish_reason == "length" and cut.completion_tokens == 16
    assert to_chat_result(RequestOutput("2", None, [1], []), 0).error


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_missing_vllm_says_how_to_install() -> None:
    with pytest.raises(ConfigError, match=r"pip install 'naturalthoughts\[vllm\]'"):
        create_engine(VllmEngineConfig(model="Qwen/Qwen3-8B"))


def test_identity_without_vllm() -> None:
    assert engine_identity(VllmEngineConfig(model="Qwen/Qwen3-8B", revision="abc")) == "vllm:Qwen/Qwen3-8B@abc:auto"
