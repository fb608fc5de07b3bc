"""CachedEngine: only misses reach the model, lazily; refresh, duplicates, should_stop and streaming."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from naturalthoughts.engines import (
    NOT_SENT,
    CachedEngine,
    ChatRequest,
    ChatResult,
    Engine,
    EngineConfig,
    LlamaCppEngineConfig,
    OpenAIEngineConfig,
    ResponseCache,
    SamplingParams,
    create_engine,
    engine_identity,
)


def questions(count: int, tag: str) -> list[ChatRequest]:
    return [
        ChatRequest(
            messages=({"role": "user", "content": f"{tag} {i}: say a word."},),
            params=SamplingParams(max_tokens=8, temperature=0.0),
        )
        for i in range(count)
    ]


def test_second_run_is_served_from_the_cache(llamacpp_openai_config: OpenAIEngineConfig, tmp_path: Path) -> None:
    requests = questions(5, "cache-rerun")
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        with CachedEngine(llamacpp_openai_config, cache) as first:
            fresh = first.generate(requests)
            assert first.stats.requests_sent == 5 and first.stats.cache_hits == 0
            assert first.stats.completion_tokens == sum(r.completion_tokens or 0 for r in fresh) > 0
            assert first.stats.prompt_tokens > 0 and first.stats.latency_s_total > 0
        streamed: dict[int, ChatResult] = {}
        with CachedEngine(llamacpp_openai_config, cache) as second:
            again = second.generate(requests, on_result=streamed.__setitem__)
            assert not second.started and second.stats.requests_sent == 0 and second.stats.cache_hits == 5
    assert [r.text for r in again] == [r.text for r in fresh]
    assert all(r.cached for r in again) and not any(r.cached for r in fresh)
    assert sorted(streamed) == list(range(5))


def test_fully_cached_llamacpp_run_starts_no_server(tmp_path: Path) -> None:
    """The inner engine is created on the first miss only: here there is none, so no server and no xllamacpp."""
    script = textwrap.dedent(
        """
        import sys
        from naturalthoughts.engines import *
        config = LlamaCppEngineConfig()
        requests = [ChatRequest(messages=({"role": "user", "content": f"q{i}"},)) for i in range(64)]
        with ResponseCache(sys.argv[1]) as cache:
            identity = engine_identity(config)
            for request in requests:
                cache.put(ResponseCache.key(identity, request), ChatResult(text="a", finish_reason="stop"))
            engine = CachedEngine(config, cache)
            results = engine.generate(requests)
        assert all(r.cached and r.text == "a" for r in results)
        assert not engine.started and engine.stats.cache_hits == 64
        heavy = [m for m in ("xllamacpp", "torch", "transformers", "openai", "vllm") if m in sys.modules]
        print("heavy:", heavy)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "c.sqlite")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "heavy: []"


def test_refresh_resends_and_overwrites(llamacpp_openai_config: OpenAIEngineConfig, tmp_path: Path) -> None:
    requests = questions(3, "refresh")
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        identity = engine_identity(llamacpp_openai_config)
        keys = [ResponseCache.key(identity, r) for r in requests]
        for key in keys:
            cache.put(key, ChatResult(text="stale", finish_reason="stop"))
        with CachedEngine(llamacpp_openai_config, cache, refresh={keys[1]}) as engine:
            results = engine.generate(requests)
            assert engine.stats.cache_hits == 2 and engine.stats.requests_sent == 1
        assert [r.text == "stale" for r in results] == [True, False, True]
        assert cache.get(keys[1]).text == results[1].text != "stale"  # type: ignore[union-attr]


def test_identical_requests_in_a_batch_are_sent_once(
    llamacpp_openai_config: OpenAIEngineConfig, tmp_path: Path
) -> None:
    [one] = questions(1, "duplicate")
    with ResponseCache(tmp_path / "c.sqlite") as cache, CachedEngine(llamacpp_openai_config, cache) as engine:
        seen: list[int] = []
        results = engine.generate([one, one, one], on_result=lambda i, _r: seen.append(i))
        assert engine.stats.requests_sent == 1
    assert sorted(seen) == [0, 1, 2]
    assert len({r.text for r in results}) == 1 and results[0] is not results[1]


def test_should_stop_leaves_requests_unsent_and_uncached(
    llamacpp_openai_config: OpenAIEngineConfig, tmp_path: Path
) -> None:
    config = llamacpp_openai_config.model_copy(update={"concurrency": 1})
    requests = questions(6, "stop")
    done: list[int] = []
    with ResponseCache(tmp_path / "c.sqlite") as cache, CachedEngine(config, cache) as engine:
        results = engine.generate(
            requests, on_result=lambda i, r: done.append(i) if r.ok else None, should_stop=lambda: len(done) >= 2
        )
        assert [r.error == NOT_SENT for r in results] == [False, False, True, True, True, True]
        assert engine.stats.requests_sent == 2 and engine.stats.not_sent == 4 and engine.stats.errors == 0
        assert len(cache) == 2


def test_engine_factory_builds_the_inner_engine_on_the_first_miss_only(
    llamacpp_openai_config: OpenAIEngineConfig, tmp_path: Path
) -> None:
    built: list[OpenAIEngineConfig] = []

    def factory(config: EngineConfig) -> Engine:
        built.append(config)  # type: ignore[arg-type]
        return create_engine(config)

    requests = questions(2, "factory")
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        with CachedEngine(llamacpp_openai_config, cache, engine_factory=factory) as engine:
            assert engine.generate(requests) and engine.generate(requests[:1] + questions(1, "factory-more"))
            assert built == [llamacpp_openai_config] and engine.started  # one engine for both calls
        rerun = CachedEngine(llamacpp_openai_config, cache, engine_factory=factory)
        assert all(r.cached for r in rerun.generate(requests)) and not rerun.started
    assert len(built) == 1


def test_model_identity_needs_no_engine(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        engine = CachedEngine(LlamaCppEngineConfig(), cache)
        assert engine.model_identity().startswith("llamacpp:SmolLM2-135M-Instruct.Q4_1.gguf@")
        assert not engine.started
