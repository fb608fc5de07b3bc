"""The openai engine's pure parts: request bodies, reply parsing, Retry-After, and the token-rate limiter."""

from __future__ import annotations

import asyncio
import email.utils
import time

import httpx
import pytest

from naturalthoughts.engines import ChatRequest, SamplingParams
from naturalthoughts.engines.openai_compat import (
    MalformedResponse,
    RateLimiter,
    build_payload,
    parse_completion,
    retry_after_seconds,
)


def test_payload_carries_every_parameter() -> None:
    request = ChatRequest(
        messages=({"role": "user", "content": "hi"},),
        params=SamplingParams(temperature=0.2, top_p=0.8, max_tokens=64, seed=5, stop=("END",)),
        json_mode=True,
    )
    payload = build_payload("m", request, {"chat_template_kwargs": {"enable_thinking": True}})
    assert payload == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "top_p": 0.8,
        "max_tokens": 64,
        "seed": 5,
        "stop": ["END"],
        "response_format": {"type": "json_object"},
        "chat_template_kwargs": {"enable_thinking": True},
    }
    plain = build_payload("m", ChatRequest(messages=({"role": "user", "content": "hi"},)), {})
    assert not {"seed", "stop", "response_format"} & set(plain)


def test_reasoning_content_and_usage_are_read() -> None:
    body = {
        "choices": [
            {
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "4", "reasoning_content": "2 and 2 make 4"},
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9},
    }
    result = parse_completion(body)
    assert (result.text, result.reasoning, result.finish_reason) == ("4", "2 and 2 make 4", "stop")
    assert (result.prompt_tokens, result.completion_tokens) == (12, 9)
    vllm_style = {"choices": [{"finish_reason": "length", "message": {"content": "x", "reasoning": "hm"}}]}
    assert parse_completion(vllm_style).reasoning == "hm"


@pytest.mark.parametrize("body", [[], {"choices": []}, {"error": {"message": "overloaded"}}, {"choices": [{}]}])
def test_bodies_that_are_not_completions_are_malformed(body: object) -> None:
    with pytest.raises(MalformedResponse):
        parse_completion(body)


def test_retry_after_forms() -> None:
    assert retry_after_seconds(httpx.Headers({"Retry-After": "3"})) == 3.0
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after_seconds(httpx.Headers({"Retry-After": later})) or 0) <= 31
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after_seconds(httpx.Headers({})) is None


def test_token_bucket_makes_the_next_request_wait() -> None:
    async def scenario() -> float:
        limiter = RateLimiter(requests_per_minute=None, tokens_per_minute=6000)  # 100 tokens per second
        await limiter.acquire(100)
        limiter.settle(100, 6000)  # the reply used a whole minute of tokens
        began = time.monotonic()
        await limiter.acquire(50)  # must wait for the bucket to climb back from 0 to 50: >= 0.5 s
        return time.monotonic() - began

    assert asyncio.run(scenario()) >= 0.45
