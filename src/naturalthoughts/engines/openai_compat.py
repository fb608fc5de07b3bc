"""``engine: openai`` — any OpenAI-compatible chat endpoint (vLLM, SGLang, llama.cpp, DeepSeek, OpenAI).

A lean asyncio client on httpx (no SDK object layers, so it costs next to nothing beside the
server): bounded concurrency, optional request- and token-rate limits, a per-attempt timeout, and
retries with exponential backoff and jitter on 429, 5xx, timeouts, dropped connections and
malformed bodies, honouring ``Retry-After``. A reply cut at ``max_tokens`` is a normal result
(``finish_reason="length"``) and is never retried. Other 4xx answers fail at once.

Safety: requests go only to ``base_url`` (no environment proxies, no redirects followed), and the
API key is read from the environment variable named in the config, sent only in the
``Authorization`` header, and scrubbed from every error string.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import os
import random
import time
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import httpx

from naturalthoughts.engines.base import (
    NOT_SENT,
    ChatRequest,
    ChatResult,
    Engine,
    ResultCallback,
    StopCheck,
)
from naturalthoughts.engines.config import OpenAIEngineConfig
from naturalthoughts.engines.identity import short_hash

# 408 timeout, 409 conflict (transient on some gateways), 425 too early, 429 rate limit; all 5xx.
RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
_RETRY_AFTER_CAP_S = 600.0
_ERROR_BODY_CHARS = 300
_CHARS_PER_TOKEN = 4  # rough prompt-size estimate for the token-rate limit, corrected by the real usage

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code, even when called inside a running loop (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def build_payload(model: str, request: ChatRequest, extra_body: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of ``POST /chat/completions`` for ``request``."""
    params = request.params
    payload: dict[str, Any] = {
        "model": model,
        "messages": [dict(message) for message in request.messages],
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
    }
    if params.seed is not None:
        payload["seed"] = params.seed
    if params.stop:
        payload["stop"] = list(params.stop)
    if request.json_mode:
        payload["response_format"] = {"type": "json_object"}
    payload.update(extra_body)
    return payload


class MalformedResponse(ValueError):
    """A 200 answer whose body is not a chat completion."""


def parse_completion(body: Any) -> ChatResult:
    """Map a chat-completion JSON body to a :class:`ChatResult` (latency is filled in by the caller)."""
    if not isinstance(body, dict):
        raise MalformedResponse(f"expected a JSON object, got {type(body).__name__}")
    if "error" in body and "choices" not in body:
        raise MalformedResponse(f"error object in a 200 reply: {str(body['error'])[:_ERROR_BODY_CHARS]}")
    try:
        choice = body["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise MalformedResponse(f"no choices[0].message in the reply ({exc!r})") from None
    usage = body.get("usage") or {}
    # vLLM's and DeepSeek's reasoning parsers return the thinking apart from the answer.
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    return ChatResult(
        text=message.get("content"),
        reasoning=reasoning or None,
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
    )


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """The server's requested wait: ``retry-after-ms``, ``Retry-After`` in seconds, or an HTTP date."""
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return min(max(float(millis) / 1000.0, 0.0), _RETRY_AFTER_CAP_S)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), _RETRY_AFTER_CAP_S)


class RateLimiter:
    """Spaces request starts evenly (requests per minute) and keeps a token bucket (tokens per minute).

    The token bucket holds one minute of tokens; each request reserves its estimated prompt size
    before it starts and is charged its real usage when it ends, so the bucket may go negative and
    later requests wait for it to refill.
    """

    def __init__(self, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        self._interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._next_start = 0.0
        self._tpm = tokens_per_minute
        self._tokens = tokens_per_minute or 0.0
        self._refilled_at = time.monotonic()
        self._lock = asyncio.Lock()

    @property
    def active(self) -> bool:
        return bool(self._interval or self._tpm)

    def _refill(self) -> None:
        now = time.monotonic()
        if self._tpm:
            self._tokens = min(self._tpm, self._tokens + (now - self._refilled_at) * self._tpm / 60.0)
        self._refilled_at = now

    async def acquire(self, estimated_tokens: int) -> None:
        async with self._lock:  # one waiter at a time keeps starts in order
            if self._interval:
                now = time.monotonic()
                start = max(now, self._next_start)
                self._next_start = start + self._interval
                if start > now:
                    await asyncio.sleep(start - now)
            if self._tpm:
                needed = min(float(estimated_tokens), self._tpm)
                self._refill()
                while self._tokens < needed:
                    await asyncio.sleep((needed - self._tokens) * 60.0 / self._tpm)
                    self._refill()
                self._tokens -= needed

    def settle(self, estimated_tokens: int, used_tokens: int) -> None:
        """Charge the difference between the real usage and the reservation."""
        if self._tpm:
            self._refill()
            self._tokens -= used_tokens - estimated_tokens


class OpenAICompatEngine(Engine):
    """Chat completions over HTTP against one OpenAI-compatible endpoint."""

    name = "openai"

    def __init__(self, config: OpenAIEngineConfig, identity: str | None = None) -> None:
        self.config = config
        self._identity = identity or self.identity(config)
        # Read once and kept only in memory: never logged, stored or put in an error message.
        self._api_key = os.environ.get(config.api_key_env) if config.api_key_env else None

    @staticmethod
    def identity(config: OpenAIEngineConfig) -> str:
        identity = f"openai:{config.base_url.rstrip('/')}:{config.model}"
        # extra_body can change the answers (e.g. chat_template_kwargs), so it is part of the identity.
        return f"{identity}+{short_hash(config.extra_body, 8)}" if config.extra_body else identity

    def model_identity(self) -> str:
        return self._identity

    def _scrub(self, message: str) -> str:
        return message.replace(self._api_key, "***") if self._api_key else message

    def _client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        concurrency = self.config.concurrency
        return httpx.AsyncClient(
            base_url=self.config.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(self.config.timeout_s),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            trust_env=False,  # no proxy from the environment: requests go to base_url and nowhere else
            follow_redirects=False,
        )

    def generate(
        self,
        requests: Sequence[ChatRequest],
        on_result: ResultCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> list[ChatResult]:
        return run_sync(self.agenerate(requests, on_result, should_stop))

    async def agenerate(
        self,
        requests: Sequence[ChatRequest],
        on_result: ResultCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> list[ChatResult]:
        """The asyncio form of :meth:`generate`: ``on_result`` is called once per request, NOT_SENT ones too."""
        results: list[ChatResult | None] = [None] * len(requests)
        pending = iter(range(len(requests)))  # shared by the workers: each index is taken exactly once
        limiter = RateLimiter(self.config.requests_per_minute, self.config.tokens_per_minute)
        stopped = False

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal stopped
            for index in pending:
                stopped = stopped or bool(should_stop and should_stop())
                if stopped:
                    result = ChatResult(error=NOT_SENT)
                else:
                    result = await self._complete(client, limiter, requests[index])
                results[index] = result
                if on_result is not None:
                    on_result(index, result)

        async with self._client() as client:
            workers = min(self.config.concurrency, len(requests))
            await asyncio.gather(*(worker(client) for _ in range(workers)))
        return [result if result is not None else ChatResult(error=NOT_SENT) for result in results]

    async def _complete(self, client: httpx.AsyncClient, limiter: RateLimiter, request: ChatRequest) -> ChatResult:
        """One request with the retry policy; never raises for a failed request."""
        payload = build_payload(self.config.model, request, self.config.extra_body)
        estimate = sum(len(m.get("content") or "") for m in request.messages) // _CHARS_PER_TOKEN + 1
        started = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            if limiter.active:
                await limiter.acquire(estimate)
            outcome = await self._attempt(client, payload)
            if isinstance(outcome, ChatResult):
                outcome.latency_s = time.monotonic() - started
                used = (outcome.prompt_tokens or estimate) + (outcome.completion_tokens or 0)
                limiter.settle(estimate, used)
                return outcome
            failure, retryable, server_wait = outcome
            if not retryable or attempts > self.config.max_retries:
                tail = f" (gave up after {attempts} attempts)" if retryable else ""
                return ChatResult(error=self._scrub(failure + tail), latency_s=time.monotonic() - started)
            await asyncio.sleep(server_wait if server_wait is not None else self._backoff(attempts))

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter in [50%, 100%] of the step, so clients that failed together spread out."""
        step = min(self.config.backoff_max_s, self.config.backoff_base_s * 2 ** (attempt - 1))
        return step * random.uniform(0.5, 1.0)

    async def _attempt(
        self, client: httpx.AsyncClient, payload: dict[str, Any]
    ) -> ChatResult | tuple[str, bool, float | None]:
        """A result, or ``(failure, retryable, server-requested wait)``."""
        try:
            response = await client.post("chat/completions", json=payload)
        except httpx.TimeoutException:
            return f"timed out after {self.config.timeout_s:g} s", True, None
        except httpx.TransportError as exc:
            return f"connection error: {type(exc).__name__}: {exc}", True, None
        if response.status_code != 200:
            status = response.status_code
            body = response.text[:_ERROR_BODY_CHARS].strip()
            hint = f" (is ${self.config.api_key_env} set?)" if status == 401 and self.config.api_key_env else ""
            retryable = status in RETRYABLE_STATUS or status >= 500
            return f"HTTP {status}{hint}: {body}", retryable, retry_after_seconds(response.headers)
        try:
            return parse_completion(response.json())
        except ValueError as exc:  # JSONDecodeError and MalformedResponse: a broken reply, worth another try
            return f"malformed response: {exc}", True, None
