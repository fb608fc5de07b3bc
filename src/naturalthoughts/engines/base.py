"""The engine interface: every model call in the project goes through it.

A batch of :class:`ChatRequest` goes in; a :class:`ChatResult` per request comes out, in order,
with the text, the separate reasoning text when the server returns one, the finish reason, token
counts, latency, and an error string when the request failed (engines never raise for one failed
request: the caller records the error row and a rerun retries it).

The dispatch loop lives here, once: :meth:`Engine.generate` checks ``should_stop`` before each
dispatch, marks what was never dispatched ``NOT_SENT``, calls ``on_result`` as each request
finishes and turns an exception of one request or batch into error results (a :class:`Dispatch`
holds that bookkeeping). An engine implements only how it answers:

- :class:`BatchedEngine` (in-process models): ``answer_batch(requests)``, with ``batches`` as the
  hook that groups requests (by default consecutive pieces of ``batch_size``);
- :class:`AsyncEngine` (HTTP endpoints): ``async answer_one(request, session)`` with ``concurrency``
  requests in flight, and ``agenerate`` for callers that already run an event loop;
- wrappers (the response cache, the thinking budget) implement :meth:`Engine.dispatch` and call
  another engine's ``generate``.

**Phases.** A request may be answered in dependent steps (:class:`Phases`: a thinking budget's reasoning, then its
answer). By default an engine runs them in rounds, every request's next step in one ``dispatch``
(:meth:`Engine.dispatch_phases`); an :class:`AsyncEngine` runs each request's steps one after another on one lane
instead (:meth:`AsyncEngine.lane`), so a server whose single slot still holds a step's prompt and reply continues
from it (the embedded llama.cpp engine: see its module docstring).
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from naturalthoughts.errors import ConfigError, NTError
from naturalthoughts.interrupts import requested, run_async
from naturalthoughts.redact import scrub


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 16384
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": list(self.stop),
        }


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion. ``sample`` distinguishes repeated samples of the same prompt.

    ``prefill`` is the text the assistant turn starts with: the engine continues it, and the
    result's ``text`` is the continuation only. ``json_schema`` constrains the reply to a JSON
    schema where the engine can (llama.cpp, OpenAI-compatible servers, vLLM); ``json_schema_name``
    is the name OpenAI-style APIs require beside it. ``choices`` constrains the reply to exactly one
    of a few strings (a llama.cpp grammar: a yes/no verdict in one token) for engines whose config
    says ``choice_constraint``; others answer unconstrained, so callers validate the reply either way.
    """

    messages: tuple[dict[str, str], ...]
    params: SamplingParams = field(default_factory=SamplingParams)
    sample: int = 0
    json_mode: bool = False  # ask the server for a JSON object (response_format) where supported
    prefill: str | None = None
    json_schema: dict[str, Any] | None = None
    json_schema_name: str = "response"
    choices: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able form (the cache key hashes it; :meth:`from_dict` reads it back).

        The newer fields appear only when set, so the keys of requests that do not use them stay
        what they were before those fields existed (existing caches keep working).
        """
        data: dict[str, Any] = {
            "messages": [dict(message) for message in self.messages],
            "params": self.params.as_dict(),
            "sample": self.sample,
            "json_mode": self.json_mode,
        }
        if self.prefill is not None:
            data["prefill"] = self.prefill
        if self.json_schema is not None:
            data["json_schema"] = self.json_schema
            data["json_schema_name"] = self.json_schema_name
        if self.choices is not None:
            data["choices"] = list(self.choices)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatRequest:
        params = dict(data.get("params") or {})
        params["stop"] = tuple(params.get("stop") or ())
        return cls(
            messages=tuple(dict(message) for message in data["messages"]),
            params=SamplingParams(**params),
            sample=data.get("sample", 0),
            json_mode=data.get("json_mode", False),
            prefill=data.get("prefill"),
            json_schema=data.get("json_schema"),
            json_schema_name=data.get("json_schema_name", "response"),
            choices=tuple(data["choices"]) if data.get("choices") is not None else None,
        )


@dataclass
class ChatResult:
    text: str | None = None
    reasoning: str | None = None  # the server's separate reasoning field (vLLM/DeepSeek), if any
    finish_reason: str | None = None  # "stop", "length", ...
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_prompt_tokens: int | None = None  # prompt tokens the server took from its cache (OpenAI's usage)
    latency_s: float = 0.0
    error: str | None = None
    cached: bool = False
    # Set by the thinking budget (engines/thinking.py) only; None for a plain request.
    forced: bool | None = None  # the toolkit closed a reasoning cut at the budget
    reasoning_tokens: int | None = None  # tokens generated in the reasoning phase(s)
    answer_tokens: int | None = None  # tokens generated in the answer phase

    def __post_init__(self) -> None:
        if self.error is not None:  # every engine error passes here: no key fragment reaches a row, log or file
            self.error = scrub(self.error)

    @property
    def ok(self) -> bool:
        return self.error is None


ResultCallback = Callable[[int, ChatResult], None]
StopCheck = Callable[[], bool]
SendCallback = Callable[[Sequence[int]], None]  # the indices about to be sent to the model (the spend ledger)
NOT_SENT = "not sent: stopped before dispatch"

T = TypeVar("T")


class Phases(Protocol):
    """How the requests of one ``generate`` call are answered in dependent steps. Both methods must answer the
    same for the same arguments, and a side effect (a progress report) must bear being called again: a response
    cache calls them for cached steps of a request it then sends again from its first step."""

    def next(self, index: int, results: Sequence[ChatResult]) -> ChatRequest | None:
        """The next step of request ``index`` given the results of its steps so far (the last one may be an error
        or ``NOT_SENT``); None once it is done."""

    def combine(self, index: int, results: Sequence[ChatResult]) -> ChatResult:
        """Request ``index``'s result from the results of all its steps."""


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code, even when called inside a running loop (notebooks).

    SIGINT and SIGTERM cancel it through its event loop (:func:`naturalthoughts.interrupts.run_async`), so its
    requests are closed cleanly before the signal is raised as an exception.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_async(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run_async, coro).result()


def failure_text(engine: str, exc: Exception) -> str:
    return f"{engine} failed: {type(exc).__name__}: {exc}"


class Dispatch:
    """The bookkeeping of one ``generate`` call: results in request order, streaming, stopping.

    ``stopped()`` asks ``should_stop`` before a dispatch and stays True once it said so;
    ``sending(indices)`` tells ``on_send`` which requests are about to leave (engines call it right before they
    send, so a spend ledger can reserve them);
    ``deliver`` records a result and calls ``on_result`` (exactly once per request);
    ``finish`` gives every request never delivered ``error=NOT_SENT`` (reporting it too).
    With ``phases``, ``requests`` are each request's first step and ``deliver`` takes the combined result.
    """

    def __init__(
        self,
        requests: Sequence[ChatRequest],
        on_result: ResultCallback | None,
        should_stop: StopCheck | None,
        on_send: SendCallback | None = None,
        phases: Phases | None = None,
    ) -> None:
        self.requests = requests
        self.should_stop = should_stop
        self.on_send = on_send
        self.phases = phases
        self._on_result = on_result
        self._results: list[ChatResult | None] = [None] * len(requests)
        self._stopped = False

    def stopped(self) -> bool:
        """Whether to send nothing more: ``should_stop`` said so, or SIGINT/SIGTERM arrived (threads stop too)."""
        self._stopped = self._stopped or requested() or bool(self.should_stop and self.should_stop())
        return self._stopped

    def sending(self, indices: Sequence[int]) -> None:
        if self.on_send is not None:
            self.on_send(indices)

    def deliver(self, index: int, result: ChatResult) -> None:
        if self._results[index] is not None:
            raise RuntimeError(f"request {index} was answered twice")  # an engine bug, never a user problem
        self._results[index] = result
        if self._on_result is not None:
            self._on_result(index, result)

    def delivered(self, index: int) -> bool:
        return self._results[index] is not None

    def deliver_batch(self, indices: Sequence[int], answer: Callable[[], list[ChatResult]], engine: str) -> None:
        """Deliver ``answer()`` for ``indices``; an exception becomes an error result for each of them. Indices
        already delivered (a batch that handed out finished requests early) are left as they are."""
        try:
            results = answer()
            if len(results) != len(indices):
                raise RuntimeError(f"{len(results)} results for {len(indices)} requests")
        except NTError:
            raise  # a configuration problem stops the stage with its message, it is not one failed request
        except Exception as exc:
            results = [ChatResult(error=failure_text(engine, exc)) for _ in indices]
        for index, result in zip(indices, results, strict=True):
            if not self.delivered(index):
                self.deliver(index, result)

    def finish(self) -> list[ChatResult]:
        for index, result in enumerate(self._results):
            if result is None:
                self.deliver(index, ChatResult(error=NOT_SENT))
        return self._results  # type: ignore[return-value]  # every slot is filled now


class Engine(abc.ABC):
    """One model behind one interface. Use as a context manager so resources are released."""

    name: str = "engine"

    @abc.abstractmethod
    def model_identity(self) -> str:
        """A string that changes whenever the model would answer differently (part of cache keys)."""

    @abc.abstractmethod
    def dispatch(self, job: Dispatch) -> None:
        """Answer ``job.requests``, handing each result to ``job.deliver``; check ``job.stopped()`` before each
        dispatch. Requests left undelivered become ``NOT_SENT``."""

    def continuation_problem(self) -> str | None:
        """Why this engine cannot continue an assistant message (``ChatRequest.prefill``); None when it can."""
        return None

    def check_request(self, request: ChatRequest) -> None:
        """Raise :class:`ConfigError` when this engine cannot honour ``request`` at all (checked before any is sent)."""
        if request.prefill is not None and (problem := self.continuation_problem()):
            raise ConfigError(problem)

    def generate(
        self,
        requests: Sequence[ChatRequest],
        on_result: ResultCallback | None = None,
        should_stop: StopCheck | None = None,
        on_send: SendCallback | None = None,
        phases: Phases | None = None,
    ) -> list[ChatResult]:
        """Answer every request; call ``on_result(index, result)`` as each one finishes.

        ``should_stop`` is checked before each dispatch (budgets, Ctrl-C); requests not dispatched
        come back with ``error=NOT_SENT`` so the caller can leave them for a rerun. ``on_send(indices)`` is
        called right before requests are sent to the model (before each step, with ``phases``). ``phases``: each
        request is its first step, and what comes back is :meth:`Phases.combine` of all its steps.
        """
        for request in requests:
            self.check_request(request)
        job = Dispatch(requests, on_result, should_stop, on_send, phases)
        if phases is None:
            self.dispatch(job)
        else:
            self.dispatch_phases(job)
        return job.finish()

    def dispatch_phases(self, job: Dispatch) -> None:
        """``job``'s requests step by step (``job.phases``), in rounds: one :meth:`dispatch` for the next step of
        every request still going. Latest first from the second round on: a server's prompt cache (least
        recently used out) still holds the freshest steps."""
        history: list[list[ChatResult]] = [[] for _ in job.requests]
        going = list(enumerate(job.requests))
        while going and not job.stopped():
            going = self._round(job, going, history)[::-1]

    def _round(
        self, job: Dispatch, going: list[tuple[int, ChatRequest]], history: list[list[ChatResult]]
    ) -> list[tuple[int, ChatRequest]]:
        """One :meth:`dispatch` of the steps in ``going`` (request index, step); returns the steps that follow."""
        phases = job.phases
        assert phases is not None
        following: list[tuple[int, ChatRequest]] = []

        def finished(position: int, result: ChatResult) -> None:
            index = going[position][0]
            history[index].append(result)
            step = phases.next(index, history[index])
            if step is None:
                job.deliver(index, phases.combine(index, history[index]))
            else:
                following.append((index, step))

        def sending(positions: Sequence[int]) -> None:
            job.sending([going[position][0] for position in positions])

        round_job = Dispatch([step for _, step in going], finished, job.should_stop, sending)
        self.dispatch(round_job)
        round_job.finish()  # what was never sent ends its request as NOT_SENT
        return following

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release servers, sockets, GPU memory."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BatchedEngine(Engine):
    """An in-process model: implements :meth:`answer_batch`; the base feeds it batches and streams results."""

    batch_size: int = 1

    @abc.abstractmethod
    def answer_batch(self, requests: list[ChatRequest]) -> list[ChatResult]:
        """One result per request, in order. May raise: the whole batch then becomes error results."""

    def answer_batch_as_finished(
        self, requests: list[ChatRequest], finished: Callable[[int, ChatResult], None]
    ) -> list[ChatResult]:
        """As :meth:`answer_batch`, handing each request's result to ``finished(position, result)`` the moment it
        is final, so a caller can keep it before the rest of the batch is done (an engine that can tell
        overrides this; by default every result comes at the end)."""
        return self.answer_batch(requests)

    def batches(self, requests: Sequence[ChatRequest]) -> Iterable[list[int]]:
        """Request indices grouped into batches (each index exactly once); consecutive pieces by default."""
        size = max(1, self.batch_size)
        return (list(range(start, min(start + size, len(requests)))) for start in range(0, len(requests), size))

    def dispatch(self, job: Dispatch) -> None:
        for batch in self.batches(job.requests):
            if job.stopped():
                return
            job.sending(batch)

            def early(position: int, result: ChatResult, batch: list[int] = batch) -> None:
                job.deliver(batch[position], result)  # kept (cached) now: a kill loses only what is still running

            requests = [job.requests[i] for i in batch]
            job.deliver_batch(batch, lambda r=requests, e=early: self.answer_batch_as_finished(r, e), self.name)


class AsyncEngine(Engine):
    """An endpoint answered one request at a time with ``concurrency`` in flight (asyncio)."""

    @property
    @abc.abstractmethod
    def concurrency(self) -> int:
        """Requests in flight at once."""

    def session(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """What one ``generate`` call shares between its requests (an HTTP client, a rate limiter)."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    async def answer_one(self, request: ChatRequest, session: Any) -> ChatResult:
        """The result of one request. Should not raise for a failed request (if it does, that request errors)."""

    def dispatch(self, job: Dispatch) -> None:
        run_sync(self.adispatch(job))

    async def agenerate(
        self,
        requests: Sequence[ChatRequest],
        on_result: ResultCallback | None = None,
        should_stop: StopCheck | None = None,
        on_send: SendCallback | None = None,
        phases: Phases | None = None,
    ) -> list[ChatResult]:
        """The asyncio form of :meth:`generate`, for callers inside an event loop."""
        for request in requests:
            self.check_request(request)
        job = Dispatch(requests, on_result, should_stop, on_send, phases)
        await self.adispatch(job)
        return job.finish()

    def dispatch_phases(self, job: Dispatch) -> None:
        run_sync(self.adispatch(job))

    def lane(self, session: Any, request: ChatRequest) -> contextlib.AbstractAsyncContextManager[Any]:
        """Where every step of ``request`` is answered (:meth:`answer_step`): by default the session itself; an
        engine with several servers holds one of them for the request's steps."""
        return contextlib.nullcontext(session)

    async def answer_step(self, request: ChatRequest, lane: Any, follows: bool) -> ChatResult:
        """One step of a request answered in phases; ``follows``: the lane answered this request's previous step
        just before (its prompt and reply may still be in the server's cache)."""
        return await self.answer_one(request, lane)

    async def answer_phases(self, index: int, job: Dispatch, session: Any) -> ChatResult:
        """Every step of request ``index``, one after another on one lane; a stop between steps ends it NOT_SENT."""
        phases = job.phases
        assert phases is not None
        results: list[ChatResult] = []
        step: ChatRequest | None = job.requests[index]
        async with self.lane(session, job.requests[index]) as lane:
            while step is not None:
                if results and job.stopped():
                    result = ChatResult(error=NOT_SENT)
                else:
                    job.sending((index,))
                    result = await self._guarded(self.answer_step(step, lane, follows=bool(results)))
                results.append(result)
                step = phases.next(index, results)
        return phases.combine(index, results)

    async def adispatch(self, job: Dispatch) -> None:
        pending = iter(range(len(job.requests)))  # shared by the workers: each index is taken exactly once

        async def worker(session: Any) -> None:
            for index in pending:
                if job.stopped():
                    return
                if job.phases is not None:
                    job.deliver(index, await self.answer_phases(index, job, session))
                    continue
                job.sending((index,))
                job.deliver(index, await self._guarded(self.answer_one(job.requests[index], session)))

        async with self.session() as session:
            workers = [asyncio.ensure_future(worker(session)) for _ in range(min(self.concurrency, len(job.requests)))]
            if not workers:
                return
            try:
                done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                for task in workers:  # one worker raised (a ConfigError) or we were cancelled: stop the others
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]

    async def _guarded(self, answer: Awaitable[ChatResult]) -> ChatResult:
        try:
            return await answer
        except NTError:
            raise
        except Exception as exc:
            return ChatResult(error=failure_text(self.name, exc))
