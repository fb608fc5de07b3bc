"""The openai engine + response cache against a fault-injecting proxy in front of the real llama.cpp server."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from faultproxy import FaultProxy
from naturalthoughts.engines import (
    CachedEngine,
    ChatRequest,
    ChatResult,
    LlamaCppEngine,
    OpenAIEngineConfig,
    ResponseCache,
    SamplingParams,
    create_engine,
)
from naturalthoughts.engines.openai_compat import GIVE_UP_AFTER
from naturalthoughts.errors import ConfigError

# The timeout leaves real requests plenty of room on a busy shared machine (2 cores, many processes).
FAST_FAILURE = {"timeout_s": 120.0, "backoff_base_s": 0.01, "backoff_max_s": 0.05}
# A stall must outlast the client's timeout, and a real one-token answer must fit in it even under load.
STALL_TIMEOUT_S = 8.0
STALL_S = 30.0


def make_requests(count: int, max_tokens: int = 12, tag: str = "q") -> list[ChatRequest]:
    return [
        ChatRequest(
            messages=({"role": "user", "content": f"{tag}{i}: name a colour."},),
            params=SamplingParams(max_tokens=max_tokens, temperature=0.0, seed=i),
        )
        for i in range(count)
    ]


def through_proxy(
    engine: LlamaCppEngine,
    requests: list[ChatRequest],
    proxy_options: dict[str, Any],
    **config: object,
) -> tuple[list[ChatResult], FaultProxy]:
    """Send ``requests`` with a fresh openai engine through a proxy built with ``proxy_options``."""
    with (
        FaultProxy(engine.server_url, **proxy_options) as proxy,
        create_engine(proxied_config(proxy, engine, **config)) as client,
    ):
        return client.generate(requests), proxy


def proxied_config(proxy: FaultProxy, engine: LlamaCppEngine, **overrides: object) -> OpenAIEngineConfig:
    settings = {"base_url": proxy.base_url, "model": engine.model_path.name, "api_key_env": None, "concurrency": 3}
    return OpenAIEngineConfig(**(settings | FAST_FAILURE | overrides))


@pytest.mark.parametrize("fault", ["429", "500", "reset", "malformed", "truncated"])
def test_every_request_ends_once_and_a_rerun_sends_only_the_failures(
    fault: str, llamacpp_engine: LlamaCppEngine, tmp_path: Path
) -> None:
    requests = make_requests(6, max_tokens=6, tag=f"{fault}-")
    # The first three arrivals fail and there are no retries, so exactly three requests end in an error.
    with FaultProxy(llamacpp_engine.server_url, plan=[fault] * 3, retry_after=0.01) as proxy:
        config = proxied_config(proxy, llamacpp_engine, max_retries=0)
        with ResponseCache(tmp_path / "cache.sqlite") as cache:
            seen: list[int] = []
            first = CachedEngine(config, cache)
            results = first.generate(requests, on_result=lambda i, _r: seen.append(i))
            assert sorted(seen) == list(range(6))  # every request reported exactly once
            failed = [i for i, r in enumerate(results) if not r.ok]
            assert len(failed) == 3
            assert all(results[i].text for i in range(6) if i not in failed)
            assert len(proxy.forwarded) == 3  # only the passed ones reached the model, each once
            assert first.stats.requests_sent == 6 and first.stats.errors == 3
            assert len(cache) == 3  # errors are not cached

            rerun = CachedEngine(config, cache)
            again = rerun.generate(requests)
            assert all(r.ok for r in again)
            assert rerun.stats.cache_hits == 3 and rerun.stats.requests_sent == 3
            resent = {a.prompt for a in proxy.forwarded[3:]}
            assert resent == {requests[i].messages[-1]["content"] for i in failed}
            assert len(proxy.forwarded) == 6


@pytest.mark.parametrize("fault", ["429", "503", "reset", "malformed", "truncated"])
def test_retries_recover_without_duplicates(fault: str, llamacpp_engine: LlamaCppEngine) -> None:
    requests = make_requests(4, tag=f"retry-{fault}-")
    options = {"plan": [fault] * 4, "retry_after": 0.01}
    results, proxy = through_proxy(llamacpp_engine, requests, options, max_retries=3)
    assert all(r.ok and r.text for r in results), [r.error for r in results]
    assert len(proxy.arrivals) == 8  # four faults, four successful retries
    assert sorted(a.prompt for a in proxy.forwarded) == sorted(r.messages[-1]["content"] for r in requests)


@pytest.mark.slow  # two client timeouts of 8 s each
def test_stall_past_the_timeout_fails_then_is_retried(llamacpp_engine: LlamaCppEngine, tmp_path: Path) -> None:
    requests = make_requests(3, max_tokens=1, tag="stall-")
    with FaultProxy(llamacpp_engine.server_url, plan=["stall"], stall_s=STALL_S) as proxy:
        config = proxied_config(proxy, llamacpp_engine, max_retries=0, timeout_s=STALL_TIMEOUT_S)
        with ResponseCache(tmp_path / "cache.sqlite") as cache:
            first = CachedEngine(config, cache).generate(requests)
            [failed] = [i for i, r in enumerate(first) if not r.ok]
            assert "timed out" in (first[failed].error or "") and len(proxy.forwarded) == 2
            # The rerun sends only the timed-out request; it stalls again and its retry gets through.
            proxy.set_plan(["stall"])
            rerun = CachedEngine(config.model_copy(update={"max_retries": 1}), cache)
            again = rerun.generate(requests)
    assert all(r.ok for r in again) and rerun.stats.cache_hits == 2 and rerun.stats.requests_sent == 1
    assert [a.fault for a in proxy.arrivals] == ["stall", "pass", "pass", "stall", "pass"]
    assert proxy.forwarded[-1].prompt == requests[failed].messages[-1]["content"]


def test_retry_after_is_honoured(llamacpp_engine: LlamaCppEngine) -> None:
    # Backoff alone would wait at most 10 ms: a later retry can only come from the Retry-After header.
    options = {"plan": ["429"], "retry_after": 1.0}
    [result], proxy = through_proxy(llamacpp_engine, make_requests(1, tag="retry-after-"), options, max_retries=2)
    assert result.ok
    first, second = proxy.arrivals
    assert second.at - first.at >= 0.95


def test_exhausted_retries_give_an_error_that_says_so(llamacpp_engine: LlamaCppEngine) -> None:
    options = {"default": "500"}
    [result], proxy = through_proxy(llamacpp_engine, make_requests(1, tag="exhausted-"), options, max_retries=2)
    assert result.error is not None and "HTTP 500" in result.error and "3 attempts" in result.error
    assert len(proxy.arrivals) == 3


def test_reply_cut_at_max_tokens_is_a_result_not_retried(llamacpp_engine: LlamaCppEngine) -> None:
    requests = make_requests(1, max_tokens=3, tag="Write a long story about ")
    [result], proxy = through_proxy(llamacpp_engine, requests, {}, max_retries=3)
    assert result.ok and result.finish_reason == "length" and result.completion_tokens == 3
    assert len(proxy.arrivals) == 1


def test_requests_per_minute_spaces_request_starts(llamacpp_engine: LlamaCppEngine) -> None:
    requests = make_requests(5, max_tokens=2, tag="rpm-")
    began = time.monotonic()
    results, proxy = through_proxy(llamacpp_engine, requests, {}, requests_per_minute=300, concurrency=5)
    assert all(r.ok for r in results)
    arrivals = sorted(a.at for a in proxy.arrivals)
    assert len(arrivals) == 5
    # At 300 per minute the k-th request cannot start before began + k * 0.2 s. A lower bound only: a busy
    # machine can delay arrivals, never bring them forward. Without the limit all five start at once.
    assert all(at >= began + k * 0.2 for k, at in enumerate(arrivals))


def test_client_errors_are_not_retried_and_redirects_not_followed(llamacpp_engine: LlamaCppEngine) -> None:
    options = {"plan": ["redirect"]}
    [result], proxy = through_proxy(llamacpp_engine, make_requests(1, tag="redirect-"), options, max_retries=3)
    assert result.error is not None and result.error.startswith("HTTP 307")
    assert len(proxy.arrivals) == 1 and not proxy.forwarded


@pytest.mark.parametrize(("fault", "status"), [("echo_auth", 401), ("403", 403)])
def test_api_key_is_sent_but_never_shown(
    fault: str, status: int, llamacpp_engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-5e3b9c-do-not-leak"
    monkeypatch.setenv("NT_TEST_API_KEY", secret)
    with FaultProxy(llamacpp_engine.server_url, plan=[fault]) as proxy:
        config = proxied_config(proxy, llamacpp_engine, api_key_env="NT_TEST_API_KEY", max_retries=3)
        with create_engine(config) as engine:
            [result] = engine.generate(make_requests(1, tag=f"auth-{status}-"))
            assert secret not in repr(engine.__dict__.get("config"))
    assert proxy.arrivals[0].headers["authorization"] == f"Bearer {secret}"  # the key was really used
    assert len(proxy.arrivals) == 1  # an auth failure is not retried
    assert result.error is not None and result.error.startswith(f"HTTP {status}")
    assert "$NT_TEST_API_KEY is set" in result.error  # which variable to check, and that it is set
    assert secret not in result.error  # the 401 body echoes the header: the client scrubs it
    assert secret not in config.model_dump_json() and secret not in repr(config)
    assert os.environ["NT_TEST_API_KEY"] == secret


def refused_base_url() -> str:
    """A loopback port nothing listens on (bound then closed), so connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_refused_connection_gives_up_after_one_quick_retry() -> None:
    # With max_retries 6 and a 30 s backoff, the ordinary policy would spend minutes per request.
    base_url = refused_base_url()
    config = OpenAIEngineConfig(
        base_url=base_url, model="m", api_key_env=None, concurrency=1, max_retries=6, backoff_base_s=30.0
    )
    with create_engine(config) as engine:
        results = engine.generate(make_requests(8, tag="refused-"))
    assert all(r.error is not None and f"cannot connect to {base_url}" in r.error for r in results)
    tried, skipped = results[:GIVE_UP_AFTER], results[GIVE_UP_AFTER:]
    assert all("gave up after 2 attempts" in (r.error or "") for r in tried)  # one retry, not six
    assert all("not sent" in (r.error or "") for r in skipped)  # the endpoint is down: the rest fail at once


def test_missing_key_is_named_and_said_unset_and_the_rest_are_not_sent(
    llamacpp_engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NT_TEST_MISSING_KEY", raising=False)
    with FaultProxy(llamacpp_engine.server_url, default="echo_auth") as proxy:
        config = proxied_config(proxy, llamacpp_engine, api_key_env="NT_TEST_MISSING_KEY", concurrency=1)
        with create_engine(config) as engine:
            results = engine.generate(make_requests(6, tag="no-key-"))
    assert all((r.error or "").startswith("HTTP 401") for r in results)
    assert "$NT_TEST_MISSING_KEY is not set" in (results[0].error or "")
    assert len(proxy.arrivals) == GIVE_UP_AFTER  # every request would be refused alike: the rest were not sent
    assert "authorization" not in proxy.arrivals[0].headers


def test_prefill_on_a_server_that_cannot_continue_is_a_config_error_before_sending(
    llamacpp_engine: LlamaCppEngine,
) -> None:
    [request] = make_requests(1, tag="prefill-none-")
    prefilled = ChatRequest(request.messages, prefill="<think>\n")
    with (
        FaultProxy(llamacpp_engine.server_url) as proxy,
        create_engine(proxied_config(proxy, llamacpp_engine, prefill="none")) as engine,
        pytest.raises(ConfigError, match="unable to continue an assistant message"),
    ):
        engine.generate([make_requests(1, tag="fine-")[0], prefilled])
    assert proxy.arrivals == []  # checked before anything was sent, the plain request included


def test_auto_prefill_says_so_when_the_server_answers_a_new_turn(llamacpp_engine: LlamaCppEngine) -> None:
    [request] = make_requests(1, tag="new-turn-")
    prefilled = ChatRequest(request.messages, request.params, prefill="<think>\n")
    with FaultProxy(llamacpp_engine.server_url, default="canned", canned_text="A fresh answer.") as proxy:
        with (
            create_engine(proxied_config(proxy, llamacpp_engine)) as auto,
            pytest.raises(ConfigError, match="did not continue the pre-filled assistant message"),
        ):
            auto.generate([prefilled])
        # Told explicitly that the server continues without echoing, the client trusts the text as it is.
        with create_engine(proxied_config(proxy, llamacpp_engine, prefill="assistant_message")) as explicit:
            [result] = explicit.generate([prefilled])
    assert result.text == "A fresh answer."


def test_continue_final_message_mode_sends_what_vllm_reads(llamacpp_engine: LlamaCppEngine) -> None:
    [request] = make_requests(1, tag="vllm-style-")
    prefilled = ChatRequest(request.messages, request.params, prefill="<think>\n")
    with (
        FaultProxy(llamacpp_engine.server_url, default="canned", canned_text="reasoning goes on") as proxy,
        create_engine(proxied_config(proxy, llamacpp_engine, prefill="continue_final_message")) as engine,
    ):
        [result] = engine.generate([prefilled])
    body = proxy.arrivals[0].body
    assert body["messages"][-1] == {"role": "assistant", "content": "<think>\n"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert result.text == "reasoning goes on"  # vLLM returns the continuation only: nothing is stripped
