"""``engine: vllm`` — vLLM's offline engine (``LLM.chat``) on local GPUs.

Thin by design: the request -> ``SamplingParams`` and ``RequestOutput`` -> :class:`ChatResult`
mappings are pure functions (tested without vLLM); the engine only feeds vLLM chunks of requests
so ``should_stop`` can take effect and results stream out chunk by chunk. Needs
``pip install 'naturalthoughts[vllm]'`` and a CUDA GPU. To run vLLM as a server instead, use
``engine: openai`` against ``vllm serve`` (which also parses reasoning into its own field).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from naturalthoughts.engines.base import (
    NOT_SENT,
    ChatRequest,
    ChatResult,
    Engine,
    ResultCallback,
    StopCheck,
)
from naturalthoughts.engines.config import VllmEngineConfig
from naturalthoughts.engines.identity import checkpoint_identity
from naturalthoughts.errors import ConfigError

CHUNK_SIZE = 256  # requests handed to vLLM at once: large enough to keep the GPU full, small enough to stop soon


def sampling_kwargs(request: ChatRequest) -> dict[str, Any]:
    """Keyword arguments for ``vllm.SamplingParams`` (``json_object`` is applied by the engine, see below)."""
    params = request.params
    kwargs: dict[str, Any] = {
        "n": 1,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
    }
    if params.seed is not None:
        kwargs["seed"] = params.seed
    if params.stop:
        kwargs["stop"] = list(params.stop)
    if request.json_mode:
        kwargs["json_object"] = True
    return kwargs


def chat_messages(request: ChatRequest) -> list[dict[str, str]]:
    return [dict(message) for message in request.messages]


def to_chat_result(output: Any, latency_s: float) -> ChatResult:
    """Map a vLLM ``RequestOutput`` (first completion) to a :class:`ChatResult`."""
    if not output.outputs:
        return ChatResult(error="vLLM returned no completion", latency_s=latency_s)
    completion = output.outputs[0]
    prompt_ids = output.prompt_token_ids
    return ChatResult(
        text=completion.text,
        finish_reason=completion.finish_reason,
        prompt_tokens=len(prompt_ids) if prompt_ids is not None else None,
        completion_tokens=len(completion.token_ids),
        latency_s=latency_s,
    )


def _make_sampling_params(vllm: Any, kwargs: dict[str, Any]) -> Any:
    """Build ``vllm.SamplingParams``, turning ``json_object`` into whichever structured-output API this vLLM has."""
    kwargs = dict(kwargs)
    if kwargs.pop("json_object", False):
        sampling_module = vllm.sampling_params
        if hasattr(sampling_module, "StructuredOutputsParams"):  # vLLM >= 0.10.2
            kwargs["structured_outputs"] = sampling_module.StructuredOutputsParams(json_object=True)
        else:
            kwargs["guided_decoding"] = sampling_module.GuidedDecodingParams(json_object=True)
    return vllm.SamplingParams(**kwargs)


class VllmEngine(Engine):
    name = "vllm"

    def __init__(self, config: VllmEngineConfig) -> None:
        try:
            import vllm
        except ImportError:
            raise ConfigError(
                "engine 'vllm' needs vLLM and a CUDA GPU: pip install 'naturalthoughts[vllm]'. "
                "Without a GPU use engine 'llamacpp' or 'transformers'."
            ) from None
        self._vllm = vllm
        self.config = config
        self._identity = self.identity(config)
        self.llm = vllm.LLM(
            model=config.model,
            revision=config.revision,
            tensor_parallel_size=config.tensor_parallel_size,
            gpu_memory_utilization=config.gpu_memory_utilization,
            max_model_len=config.max_model_len,
            dtype=config.dtype,
            seed=config.seed,
            enable_prefix_caching=config.enable_prefix_caching,
            **config.extra_llm_args,
        )

    @staticmethod
    def identity(config: VllmEngineConfig) -> str:
        return f"vllm:{checkpoint_identity(config.model, config.revision)}:{config.dtype}"

    def model_identity(self) -> str:
        return self._identity

    def generate(
        self,
        requests: Sequence[ChatRequest],
        on_result: ResultCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> list[ChatResult]:
        results: list[ChatResult] = []
        for start in range(0, len(requests), CHUNK_SIZE):
            chunk = requests[start : start + CHUNK_SIZE]
            if should_stop and should_stop():
                answers = [ChatResult(error=NOT_SENT) for _ in chunk]
            else:
                began = time.monotonic()
                outputs = self.llm.chat(
                    [chat_messages(request) for request in chunk],
                    sampling_params=[_make_sampling_params(self._vllm, sampling_kwargs(r)) for r in chunk],
                    use_tqdm=False,
                )
                latency = time.monotonic() - began
                answers = [to_chat_result(output, latency) for output in outputs]
            for offset, result in enumerate(answers):
                results.append(result)
                if on_result is not None:
                    on_result(start + offset, result)
        return results

    def close(self) -> None:
        self.__dict__.pop("llm", None)
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
