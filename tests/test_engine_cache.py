"""The SQLite response cache: keys, what is stored, threads, processes and SIGKILL."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from naturalthoughts.engines import ChatRequest, ChatResult, ResponseCache, SamplingParams

BASE = ChatRequest(messages=({"role": "user", "content": "What is 2+2?"},), params=SamplingParams(max_tokens=32))


def answer(text: str = "4", finish: str = "stop") -> ChatResult:
    return ChatResult(text=text, reasoning="adding", finish_reason=finish, prompt_tokens=9, completion_tokens=2)


@pytest.mark.parametrize(
    "changed",
    [
        ChatRequest(messages=({"role": "user", "content": "What is 2+3?"},), params=BASE.params),
        ChatRequest(messages=({"role": "system", "content": "Be brief."}, *BASE.messages), params=BASE.params),
        ChatRequest(messages=BASE.messages, params=SamplingParams(max_tokens=33)),
        ChatRequest(messages=BASE.messages, params=SamplingParams(max_tokens=32, temperature=0.7)),
        ChatRequest(messages=BASE.messages, params=SamplingParams(max_tokens=32, top_p=0.9)),
        ChatRequest(messages=BASE.messages, params=SamplingParams(max_tokens=32, seed=1)),
        ChatRequest(messages=BASE.messages, params=SamplingParams(max_tokens=32, stop=("\n",))),
        ChatRequest(messages=BASE.messages, params=BASE.params, sample=1),
        ChatRequest(messages=BASE.messages, params=BASE.params, json_mode=True),
        ChatRequest(messages=BASE.messages, params=BASE.params, prefill="<think>\n"),
        ChatRequest(messages=BASE.messages, params=BASE.params, prefill=""),
        ChatRequest(messages=BASE.messages, params=BASE.params, json_schema={"type": "object"}),
    ],
    ids=[
        "content",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "seed",
        "stop",
        "sample",
        "json_mode",
        "prefill",
        "empty_prefill",
        "json_schema",
    ],
)
def test_key_changes_with_every_input(changed: ChatRequest) -> None:
    assert ResponseCache.key("m", changed) != ResponseCache.key("m", BASE)


def test_schema_name_and_schema_content_are_in_the_key() -> None:
    schema = ChatRequest(messages=BASE.messages, json_schema={"type": "object"})
    renamed = ChatRequest(messages=BASE.messages, json_schema={"type": "object"}, json_schema_name="x")
    other = ChatRequest(messages=BASE.messages, json_schema={"type": "array"})
    assert len({ResponseCache.key("m", r) for r in (schema, renamed, other)}) == 3


def test_keys_of_requests_without_the_newer_fields_are_unchanged() -> None:
    """A cache filled before prefill and json_schema existed must still answer the same requests."""
    before = {
        "identity": "m",
        "messages": [{"role": "user", "content": "What is 2+2?"}],
        "params": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 32, "seed": None, "stop": []},
        "sample": 0,
        "json_mode": False,
    }
    canonical = json.dumps(before, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert ResponseCache.key("m", BASE) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_thinking_fields_round_trip(tmp_path: Path) -> None:
    forced = ChatResult(text="<think>\nx\n</think>\n\ny", finish_reason="stop", forced=True, reasoning_tokens=8)
    forced.answer_tokens = 2
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        cache.put("forced", forced)
        cache.put("plain", answer())
        got, plain = cache.get("forced"), cache.get("plain")
    assert got is not None and (got.forced, got.reasoning_tokens, got.answer_tokens) == (True, 8, 2)
    assert plain is not None and plain.forced is None and plain.reasoning == "adding"


def test_request_dict_round_trip() -> None:
    request = ChatRequest(
        messages=BASE.messages,
        params=SamplingParams(max_tokens=8, stop=("</think>",), seed=2),
        sample=3,
        prefill="<think>\n",
        json_schema={"type": "object"},
        json_schema_name="verdict",
    )
    assert ChatRequest.from_dict(json.loads(json.dumps(request.as_dict()))) == request
    assert ChatRequest.from_dict(BASE.as_dict()) == BASE and "prefill" not in BASE.as_dict()


def test_key_is_stable_and_depends_on_the_model() -> None:
    same = ChatRequest(messages=({"content": "What is 2+2?", "role": "user"},), params=SamplingParams(max_tokens=32))
    assert ResponseCache.key("m", same) == ResponseCache.key("m", BASE)
    assert ResponseCache.key("llamacpp:a.gguf@1", BASE) != ResponseCache.key("llamacpp:a.gguf@2", BASE)
    assert len(ResponseCache.key("m", BASE)) == 64


def test_results_round_trip_and_errors_are_never_stored(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "sub" / "cache.sqlite") as cache:
        assert cache.put("ok", answer()) is True
        assert cache.put("cut", answer("partial", finish="length")) is True  # cut at max_tokens: a normal result
        assert cache.put("bad", ChatResult(error="HTTP 500: boom")) is False
        got = cache.get("ok")
        assert got is not None and got.cached and got.text == "4" and got.reasoning == "adding"
        assert (got.prompt_tokens, got.completion_tokens, got.finish_reason) == (9, 2, "stop")
        assert cache.get("cut") is not None and cache.get("cut").finish_reason == "length"  # type: ignore[union-attr]
        assert cache.get("bad") is None and cache.get("never") is None
        cache.put("ok", answer("four"))  # a refresh overwrites
        assert cache.get("ok").text == "four"  # type: ignore[union-attr]
        assert cache.delete(["ok", "never"]) == 1 and cache.get("ok") is None
        assert len(cache) == 1


def test_get_many_beyond_sqlite_parameter_limits(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        for i in range(1200):
            cache.put(f"k{i}", answer(str(i)))
        found = cache.get_many([f"k{i}" for i in range(0, 1300)])
    assert len(found) == 1200 and found["k1199"].text == "1199"


def test_threads_share_one_cache(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")

    def fill(worker: int) -> None:
        for i in range(100):
            cache.put(f"{worker}-{i}", answer(f"{worker}-{i}"))
            cache.get(f"{worker}-{i // 2}")

    threads = [threading.Thread(target=fill, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 600
    cache.close()


WRITER = textwrap.dedent(
    """
    import sys
    from naturalthoughts.engines import ChatResult, ResponseCache
    cache = ResponseCache(sys.argv[1])
    for i in range(int(sys.argv[3])):
        cache.put(f"{sys.argv[2]}-{i}", ChatResult(text="x" * 200, finish_reason="stop"))
        print(i, flush=True)  # printed only after the put returned, i.e. after its commit
    """
)


def test_processes_write_one_cache_at_once(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"p{n}", "150"], stdout=subprocess.DEVNULL)
        for n in range(3)
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0, 0]
    with ResponseCache(path) as cache:
        assert len(cache) == 450


def test_sigkill_loses_no_committed_entry(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "k", "1000000"], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    committed = -1
    for line in writer.stdout:
        committed = int(line)
        if committed >= 300:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    with ResponseCache(path) as cache:
        found = cache.get_many([f"k-{i}" for i in range(committed + 1)])
        assert len(found) == committed + 1
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()
