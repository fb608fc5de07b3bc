"""The embedded llama.cpp engine (a real server in process) and the shared OpenAI-compatible client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import pytest

from naturalthoughts.engines import (
    ChatRequest,
    LlamaCppEngine,
    LlamaCppEngineConfig,
    OpenAIEngineConfig,
    SamplingParams,
    create_engine,
    engine_identity,
)
from naturalthoughts.errors import ConfigError


def ask(content: str, **params: object) -> ChatRequest:
    return ChatRequest(
        messages=({"role": "user", "content": content},), params=SamplingParams(**{"max_tokens": 24, **params})
    )


def test_answers_with_text_finish_reason_and_token_counts(llamacpp_engine: LlamaCppEngine) -> None:
    [result] = llamacpp_engine.generate([ask("What is the capital of France? Answer in one word.", temperature=0.0)])
    assert result.ok and result.text and result.text.strip()
    assert result.finish_reason in ("stop", "length")
    assert result.prompt_tokens and result.prompt_tokens > 5
    assert result.completion_tokens and 0 < result.completion_tokens <= 24
    assert result.latency_s > 0 and not result.cached


def test_small_max_tokens_ends_with_length(llamacpp_engine: LlamaCppEngine) -> None:
    [result] = llamacpp_engine.generate([ask("Write a long poem about the sea.", max_tokens=5)])
    assert result.ok and result.finish_reason == "length" and result.completion_tokens == 5


def test_greedy_is_deterministic_and_order_is_kept(llamacpp_engine: LlamaCppEngine) -> None:
    prompts = [f"Give one word that rhymes with {word}." for word in ("cat", "sun", "tree", "day")]
    requests = [ask(p, temperature=0.0, max_tokens=8) for p in prompts]
    first = llamacpp_engine.generate(requests)
    second = llamacpp_engine.generate(list(reversed(requests)))
    assert [r.text for r in first] == [r.text for r in reversed(second)]


def test_stop_strings_and_json_mode(llamacpp_engine: LlamaCppEngine) -> None:
    counting = ask("Count from 1 to 10, separated by commas.", temperature=0.0, max_tokens=40, stop=("5",))
    as_json = ChatRequest(
        messages=({"role": "user", "content": 'Return a JSON object with key "colour".'},),
        params=SamplingParams(max_tokens=40, temperature=0.0),
        json_mode=True,
    )
    stopped, structured = llamacpp_engine.generate([counting, as_json])
    assert stopped.ok and "5" not in (stopped.text or "") and stopped.finish_reason == "stop"
    assert structured.ok and (structured.text or "").lstrip().startswith("{")
    if structured.finish_reason == "stop":
        assert isinstance(json.loads(structured.text or ""), dict)


def test_generate_works_inside_a_running_event_loop(llamacpp_engine: LlamaCppEngine) -> None:
    async def notebook_cell() -> list[str | None]:
        return [r.text for r in llamacpp_engine.generate([ask("Say hi.", max_tokens=4)])]

    assert asyncio.run(notebook_cell())[0]


def test_identity_is_computed_without_a_server() -> None:
    identity = engine_identity(LlamaCppEngineConfig())
    assert identity.startswith("llamacpp:SmolLM2-135M-Instruct.Q4_1.gguf@") and len(identity.split("@")[1]) == 12
    config = OpenAIEngineConfig(base_url="http://127.0.0.1:8000/v1/", model="Qwen/Qwen3-8B")
    assert engine_identity(config) == "openai:http://127.0.0.1:8000/v1:Qwen/Qwen3-8B"
    thinking = config.model_copy(update={"extra_body": {"chat_template_kwargs": {"enable_thinking": True}}})
    assert engine_identity(thinking) != engine_identity(config)


def test_missing_model_file_is_a_config_error(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="model file not found"):
        create_engine(LlamaCppEngineConfig(model_path="/nonexistent/model.gguf"))


def test_close_stops_the_server() -> None:
    engine = LlamaCppEngine(LlamaCppEngineConfig(n_parallel=1, n_ctx=512, n_threads=1))
    health = f"{engine.server_url}/health"
    assert httpx.get(health, timeout=10).status_code == 200
    engine.close()
    with pytest.raises(httpx.TransportError):
        httpx.get(health, timeout=2)
    engine.close()  # closing twice is harmless


def test_server_stops_when_the_process_exits() -> None:
    script = (
        "from naturalthoughts.engines import *\n"
        "engine = create_engine(LlamaCppEngineConfig(n_parallel=1, n_ctx=512, n_threads=1))\n"
        "print(engine.server_url, flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{done.stdout.strip()}/health", timeout=2)


def test_ctrl_c_during_generate_stops_the_server() -> None:
    script = (
        "import os, signal, httpx\n"
        # A child inherits ignored/blocked signals from the test runner's state; Ctrl-C must reach this one.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})\n"
        "from naturalthoughts.engines import *\n"
        "config = LlamaCppEngineConfig(n_parallel=1, n_ctx=1024, n_threads=1)\n"
        "long = ChatRequest(messages=({'role': 'user', 'content': 'Write a very long story.'},),\n"
        "                   params=SamplingParams(max_tokens=900))\n"
        "try:\n"
        "    with create_engine(config) as engine:\n"
        "        url = engine.server_url\n"
        # Ctrl-C once the first reply is in, i.e. while the second request is in flight (a fixed
        # timer raced the server under load).
        "        interrupt = lambda index, result: os.kill(os.getpid(), signal.SIGINT)\n"
        "        short = ChatRequest(messages=long.messages, params=SamplingParams(max_tokens=4))\n"
        "        results = engine.generate([short] + [long] * 3, on_result=interrupt)\n"
        "    sigign = [l.strip() for l in open('/proc/self/status') if l.startswith(('SigIgn', 'SigBlk'))]\n"
        "    print('finished', [r.error for r in results], sigign)\n"
        "except KeyboardInterrupt:\n"
        "    try:\n"
        "        httpx.get(url + '/health', timeout=2)\n"
        "        print('still up')\n"
        "    except httpx.TransportError:\n"
        "        print('stopped')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "stopped", done.stderr[-2000:]
