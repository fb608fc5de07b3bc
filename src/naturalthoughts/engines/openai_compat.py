"""``engine: openai`` — any OpenAI-compatible chat endpoint (vLLM, SGLang, llama.cpp, DeepSeek, OpenAI).

A lean asyncio client on httpx (no SDK object layers, so it costs next to nothing beside the
server): bounded concurrency, optional request- and token-rate limits, a per-attempt timeout, and
retries with exponential backoff and jitter on 429, 5xx, timeouts, dropped connections and
malformed bodies, honouring ``Retry-After``. A reply cut at ``max_tokens`` is a normal result
(``finish_reason="length"``) and is never retried. Other 4xx answers fail at once; 401 and 403
name the API-key variable and whether it is set.

A refused or unreachable endpoint is retried once, quickly; once a few requests in a row found
the endpoint down (or their key rejected with 401), the rest of the call fails at once with the
same message instead of spending a minute of backoff per request.

Safety: requests go only to ``base_url`` (no environment proxies, no redirects followed), and the
API key is read from the environment variable named in the config, sent only in the
``Authorization`` header, and scrubbed from every error string.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import os
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from naturalthoughts.engines.base import AsyncEngine, ChatRequest, ChatResult, run_sync
from naturalthoughts.engines.config import OpenAIEngineConfig
from naturalthoughts.engines.identity import short_hash
from naturalthoughts.errors import ConfigError
from naturalthoughts.redact import clip, register_secret, scrub

__all__ = ["OpenAICompatEngine", "build_payload", "parse_completion", "retry_after_seconds", "run_sync"]

# 408 timeout, 409 conflict (transient on some gateways), 425 too early, 429 rate limit; all 5xx.
RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
_RETRY_AFTER_CAP_S = 600.0
ERROR_BODY_CHARS = 300  # an error reply's body is cut to this (after the key is scrubbed from it)
_CHARS_PER_TOKEN = 4  # rough prompt-size estimate for the token-rate limit, corrected by the real usage
CONNECT_RETRIES = 1  # a refused connection is retried once: a restarting server gets a second chance, no more
CONNECT_RETRY_WAIT_S = 0.5  # at most this long before that one retry
CONNECT_TIMEOUT_S = 30.0  # connecting to a healthy endpoint takes milliseconds; a silent host is down
GIVE_UP_AFTER = 3  # requests in a row that found the endpoint down before the rest are failed without sending


def build_payload(
    model: str, request: ChatRequest, extra_body: dict[str, Any], prefill: str = "assistant_message"
) -> dict[str, Any]:
    """The JSON body of ``POST /chat/completions`` for ``request`` (``prefill``: the config's prefill mode)."""
    params = request.params
    messages = [dict(message) for message in request.messages]
    payload: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
    }
    if params.seed is not None:
        payload["seed"] = params.seed
    if params.stop:
        payload["stop"] = list(params.stop)
    if request.prefill is not None:
        if prefill == "none":
            raise ConfigError("engine.prefill is 'none': this server cannot continue an assistant message")
        messages.append({"role": "assistant", "content": request.prefill})
        if prefill == "continue_final_message":  # vLLM and SGLang: render the last message open, no new turn
            payload["continue_final_message"] = True
            payload["add_generation_prompt"] = False
    if request.json_schema is not None:
        # The nested OpenAI form: llama.cpp silently ignores a flat {"type": "json_schema", "schema": ...}.
        payload["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": request.json_schema_name, "schema": request.json_schema},
        }
    elif request.json_mode:
        payload["response_format"] = {"type": "json_object"}
    if request.choices is not None:  # llama.cpp's GBNF grammar: the reply is exactly one of the strings
        payload["grammar"] = "root ::= " + " | ".join(json.dumps(choice) for choice in request.choices)
    payload.update(extra_body)
    return payload


def continuation(result: ChatResult, request: ChatRequest, prefill: str, base_url: str) -> ChatResult:
    """``result`` with only the text after the prefill (llama.cpp echoes the pre-filled text before it).

    In ``auto`` mode a reply that does not start with the prefill means the server answered a new
    turn instead of continuing: that is a configuration error, said before more is spent.
    """
    if request.prefill is None or result.text is None or prefill == "continue_final_message":
        return result
    if result.text.startswith(request.prefill):
        result.text = result.text[len(request.prefill) :]
    elif prefill == "auto":
        raise ConfigError(
            f"the server at {base_url} did not continue the pre-filled assistant message (its reply does not start "
            "with it). Set engine.prefill to continue_final_message for vLLM or SGLang, assistant_message for a "
            "server that continues without echoing, or none when the server cannot continue at all."
        )
    return result


class MalformedResponse(ValueError):
    """A 200 answer whose body is not a chat completion."""


def parse_completion(body: Any) -> ChatResult:
    """Map a chat-completion JSON body to a :class:`ChatResult` (latency is filled in by the caller)."""
    if not isinstance(body, dict):
        raise MalformedResponse(f"expected a JSON object, got {type(body).__name__}")
    if "error" in body and "choices" not in body:
        raise MalformedResponse(f"error object in a 200 reply: {clip(str(body['error']), ERROR_BODY_CHARS)}")
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
        cached_prompt_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens"),
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


@dataclass
class Failure:
    """One failed attempt: what to tell the user, whether another attempt may succeed, and the server's wait."""

    message: str
    retryable: bool = False
    wait_s: float | None = None
    endpoint_down: bool = False  # refused/unreachable or key rejected: every request would fail the same way


@dataclass
class Session:
    """What the requests of one ``generate`` call share: the HTTP client, the rate limiter, the give-up state."""

    client: httpx.AsyncClient
    limiter: RateLimiter
    down_streak: int = 0  # requests in a row that found the endpoint down
    gave_up: str | None = None  # set once GIVE_UP_AFTER requests in a row found it down: the rest are not sent


class OpenAICompatEngine(AsyncEngine):
    """Chat completions over HTTP against one OpenAI-compatible endpoint."""

    name = "openai"

    def __init__(self, config: OpenAIEngineConfig, identity: str | None = None) -> None:
        self.config: Any = config
        self.http = config  # the endpoint's settings (for the embedded llama.cpp engine they differ from .config)
        self._identity = identity or self.identity(config)
        # Read once and kept only in memory: never logged, stored or put in an error message.
        self._api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
        register_secret(self._api_key)

    @staticmethod
    def identity(config: OpenAIEngineConfig) -> str:
        identity = f"openai:{config.base_url.rstrip('/')}:{config.model}"
        # extra_body can change the answers (e.g. chat_template_kwargs), so it is part of the identity.
        return f"{identity}+{short_hash(config.extra_body, 8)}" if config.extra_body else identity

    def model_identity(self) -> str:
        return self._identity

    @property
    def concurrency(self) -> int:
        return self.http.concurrency

    def continuation_problem(self) -> str | None:
        return self.http.continuation_problem()

    def _client(self, base_url: str | None = None) -> httpx.AsyncClient:
        """The HTTP client of one ``generate`` call, for ``base_url`` (default: the configured endpoint)."""
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        concurrency = self.http.concurrency
        timeout_s = self.http.timeout_s
        return httpx.AsyncClient(
            base_url=(base_url or self.http.base_url).rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S)),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            trust_env=False,  # no proxy from the environment: requests go to base_url and nowhere else
            follow_redirects=False,
        )

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        async with self._client() as client:
            yield Session(client, RateLimiter(self.http.requests_per_minute, self.http.tokens_per_minute))

    async def answer_one(
        self, request: ChatRequest, session: Session, extra_body: dict[str, Any] | None = None
    ) -> ChatResult:
        """One request with the retry policy; never raises for a failed request. ``extra_body``: fields added to
        the config's own for this request only."""
        if session.gave_up is not None:
            return ChatResult(error=f"{session.gave_up} (not sent: {GIVE_UP_AFTER} requests in a row failed this way)")
        result, failure = await self._complete(session, request, extra_body or {})
        if failure is not None and failure.endpoint_down:
            session.down_streak += 1
            if session.down_streak >= GIVE_UP_AFTER and session.gave_up is None:
                session.gave_up = scrub(failure.message)
        else:
            session.down_streak = 0
        return continuation(result, request, self.http.prefill, self.http.base_url)

    async def _complete(
        self, session: Session, request: ChatRequest, extra_body: dict[str, Any]
    ) -> tuple[ChatResult, Failure | None]:
        """The result, and the last failure when it is an error."""
        payload = build_payload(self.http.model, request, {**self.http.extra_body, **extra_body}, self.http.prefill)
        estimate = sum(len(m.get("content") or "") for m in payload["messages"]) // _CHARS_PER_TOKEN + 1
        limiter = session.limiter
        started = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            if limiter.active:
                await limiter.acquire(estimate)
            outcome = await self._attempt(session.client, payload)
            if isinstance(outcome, ChatResult):
                outcome.latency_s = time.monotonic() - started
                used = (outcome.prompt_tokens or estimate) + (outcome.completion_tokens or 0)
                limiter.settle(estimate, used)
                return outcome, None
            retries = min(self.http.max_retries, CONNECT_RETRIES) if outcome.endpoint_down else self.http.max_retries
            if not outcome.retryable or attempts > retries:
                tail = f" (gave up after {attempts} attempts)" if outcome.retryable else ""
                error = scrub(outcome.message + tail)
                return ChatResult(error=error, latency_s=time.monotonic() - started), outcome
            wait = outcome.wait_s if outcome.wait_s is not None else self._backoff(attempts)
            await asyncio.sleep(min(wait, CONNECT_RETRY_WAIT_S) if outcome.endpoint_down else wait)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter in [50%, 100%] of the step, so clients that failed together spread out."""
        step = min(self.http.backoff_max_s, self.http.backoff_base_s * 2 ** (attempt - 1))
        return step * random.uniform(0.5, 1.0)

    async def _attempt(self, client: httpx.AsyncClient, payload: dict[str, Any]) -> ChatResult | Failure:
        try:
            response = await client.post("chat/completions", json=payload)
        except httpx.ConnectTimeout:
            connect_s = min(self.http.timeout_s, CONNECT_TIMEOUT_S)
            message = f"cannot connect to {self.http.base_url}: no answer within {connect_s:g} s"
            return Failure(message, retryable=True, endpoint_down=True)
        except httpx.TimeoutException:
            return Failure(f"timed out after {self.http.timeout_s:g} s", retryable=True)
        except httpx.ConnectError as exc:  # refused, unreachable, unknown host
            message = f"cannot connect to {self.http.base_url} ({exc}): is the server running?"
            return Failure(message, retryable=True, endpoint_down=True)
        except httpx.TransportError as exc:
            return Failure(f"connection error: {type(exc).__name__}: {exc}", retryable=True)
        if response.status_code != 200:
            return self._http_failure(response, payload)
        try:
            return parse_completion(response.json())
        except ValueError as exc:  # JSONDecodeError and MalformedResponse: a broken reply, worth another try
            return Failure(f"malformed response: {exc}", retryable=True)

    def _http_failure(self, response: httpx.Response, payload: dict[str, Any]) -> Failure:
        status = response.status_code
        body = clip(response.text, ERROR_BODY_CHARS).strip()
        hint = ""
        if status in (401, 403):
            hint = self._auth_hint()
        elif status == 400 and payload["messages"] and payload["messages"][-1]["role"] == "assistant":
            hint = " (a pre-filled assistant message was refused: see engine.prefill in docs/engines.md)"
        retryable = status in RETRYABLE_STATUS or status >= 500
        # A rejected key (401) fails every request alike, like an endpoint that is down.
        wait = retry_after_seconds(response.headers)
        return Failure(f"HTTP {status}{hint}: {body}", retryable, wait, endpoint_down=status == 401)

    def _auth_hint(self) -> str:
        """Which variable the key comes from and whether it is set (never its value)."""
        variable = self.http.api_key_env
        if variable is None:
            return " (no API key is sent: set engine.api_key_env to the environment variable that holds it)"
        if self._api_key:
            return f" (${variable} is set, but the server refused that key: check its value and its access)"
        state = "is set but empty" if variable in os.environ else "is not set"
        return f" (${variable} {state}: export it with your API key)"
