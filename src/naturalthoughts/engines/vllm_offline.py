"""``engine: vllm`` — vLLM's offline engine on local GPUs.

Thin by design: the request -> prompt and ``SamplingParams`` mappings and the ``RequestOutput`` ->
:class:`ChatResult` mapping are pure functions (tested without vLLM); the base class feeds vLLM
chunks of requests so ``should_stop`` can take effect, results stream out chunk by chunk, and a
chunk that fails becomes error results. Prompts are rendered here with the model's chat template
(``chat_template.render_prompt``: a prefill is continued as is) and given to ``LLM.generate`` as
token ids. ``json_schema`` and ``json_mode`` use vLLM's structured outputs. Needs
``pip install 'naturalthoughts[vllm]'`` and a CUDA GPU. To run vLLM as a server instead, use
``engine: openai`` against ``vllm serve`` (which also parses reasoning into its own field).
"""

from __future__ import annotations

import time
from typing import Any

from naturalthoughts.engines.base import BatchedEngine, ChatRequest, ChatResult
from naturalthoughts.engines.chat_template import render_prompt
from naturalthoughts.engines.config import VllmEngineConfig
from naturalthoughts.engines.identity import checkpoint_identity
from naturalthoughts.errors import ConfigError

CHUNK_SIZE = 256  # requests handed to vLLM at once: large enough to keep the GPU full, small enough to stop soon


def sampling_kwargs(request: ChatRequest) -> dict[str, Any]:
    """Keyword arguments for ``vllm.SamplingParams`` (``json_object`` / ``json_schema`` are applied by the engine)."""
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
    if request.json_schema is not None:
        kwargs["json_schema"] = request.json_schema
    elif request.json_mode:
        kwargs["json_object"] = True
    return kwargs


def chat_messages(request: ChatRequest) -> list[dict[str, str]]:
    return [dict(message) for message in request.messages]


def vllm_prompt(tokenizer: Any, request: ChatRequest) -> dict[str, list[int]]:
    """The prompt as token ids (a vLLM ``TokensPrompt``): the template adds its own special tokens, so none here."""
    return {"prompt_token_ids": tokenizer.encode(render_prompt(tokenizer, request), add_special_tokens=False)}


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


def structured_output_kwargs(sampling_module: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with ``json_object`` / ``json_schema`` turned into whichever structured-output API this vLLM has."""
    kwargs = dict(kwargs)
    schema = kwargs.pop("json_schema", None)
    json_object = kwargs.pop("json_object", False)
    if schema is None and not json_object:
        return kwargs
    constraint = {"json": schema} if schema is not None else {"json_object": True}
    if hasattr(sampling_module, "StructuredOutputsParams"):  # vLLM >= 0.10.2
        kwargs["structured_outputs"] = sampling_module.StructuredOutputsParams(**constraint)
    else:
        kwargs["guided_decoding"] = sampling_module.GuidedDecodingParams(**constraint)
    return kwargs


class VllmEngine(BatchedEngine):
    name = "vllm"
    batch_size = CHUNK_SIZE

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
        self.tokenizer = self.llm.get_tokenizer()

    @staticmethod
    def identity(config: VllmEngineConfig) -> str:
        return f"vllm:{checkpoint_identity(config.model, config.revision)}:{config.dtype}"

    def model_identity(self) -> str:
        return self._identity

    def answer_batch(self, requests: list[ChatRequest]) -> list[ChatResult]:
        sampling = self._vllm.sampling_params
        began = time.monotonic()
        outputs = self.llm.generate(
            [vllm_prompt(self.tokenizer, request) for request in requests],
            sampling_params=[
                self._vllm.SamplingParams(**structured_output_kwargs(sampling, sampling_kwargs(r))) for r in requests
            ],
            use_tqdm=False,
        )
        latency = time.monotonic() - began
        return [to_chat_result(output, latency) for output in outputs]

    def close(self) -> None:
        self.__dict__.pop("llm", None)
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
