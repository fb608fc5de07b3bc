"""The one dispatch loop in the Engine base class: streaming, stopping, NOT_SENT, and failures as error rows.

The engines here answer from the request text (no model): they are the smallest implementations of the
two engine kinds (``answer_batch`` / ``answer_one``), so what is tested is the base class's loop itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from naturalthoughts.engines import NOT_SENT, AsyncEngine, BatchedEngine, ChatRequest, ChatResult, SamplingParams
from naturalthoughts.errors import ConfigError


def ask(text: str) -> ChatRequest:
    return ChatRequest(messages=({"role": "user", "content": text},), params=SamplingParams(max_tokens=4))


def shout(request: ChatRequest) -> ChatResult:
    """The answer both test engines give: the question in capitals, or a failure the question asks for."""
    text = request.messages[-1]["content"]
    if "config" in text:
        raise ConfigError("bad engine setting")
    if "boom" in text:
        raise RuntimeError("the model fell over")
    return ChatResult(text=text.upper(), finish_reason="stop", completion_tokens=1)


class Shouter(BatchedEngine):
    name = "shouter"

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.batches_answered: list[list[str]] = []

    def model_identity(self) -> str:
        return "shouter"

    def answer_batch(self, requests: list[ChatRequest]) -> list[ChatResult]:
        self.batches_answered.append([r.messages[-1]["content"] for r in requests])
        return [shout(request) for request in requests]


class AsyncShouter(AsyncEngine):
    name = "async-shouter"

    def __init__(self, concurrency: int) -> None:
        self._concurrency = concurrency
        self.in_flight = 0
        self.most_in_flight = 0
        self.started: list[str] = []

    @property
    def concurrency(self) -> int:
        return self._concurrency

    def model_identity(self) -> str:
        return "async-shouter"

    async def answer_one(self, request: ChatRequest, session: Any) -> ChatResult:
        self.started.append(request.messages[-1]["content"])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            return shout(request)
        finally:
            self.in_flight -= 1


def test_a_failing_batch_becomes_error_rows_and_the_others_are_answered() -> None:
    engine = Shouter(batch_size=2)
    seen: list[int] = []
    results = engine.generate([ask("a"), ask("b"), ask("boom"), ask("c"), ask("d")], lambda i, _r: seen.append(i))
    assert sorted(seen) == [0, 1, 2, 3, 4]  # every request reported exactly once
    assert [r.text for r in results] == ["A", "B", None, None, "D"]
    assert results[2].error == results[3].error == "shouter failed: RuntimeError: the model fell over"
    assert engine.batches_answered == [["a", "b"], ["boom", "c"], ["d"]]


def test_should_stop_is_checked_before_each_batch_and_the_rest_is_not_sent() -> None:
    engine = Shouter(batch_size=2)
    seen: list[tuple[int, str | None]] = []
    results = engine.generate(
        [ask(x) for x in "abcde"], lambda i, r: seen.append((i, r.error)), should_stop=lambda: len(seen) >= 2
    )
    assert [r.error == NOT_SENT for r in results] == [False, False, True, True, True]
    assert engine.batches_answered == [["a", "b"]]  # nothing was dispatched after the stop
    assert sorted(i for i, _ in seen) == [0, 1, 2, 3, 4]  # NOT_SENT ones are reported too


def test_a_configuration_error_is_raised_not_turned_into_rows() -> None:
    with pytest.raises(ConfigError, match="bad engine setting"):
        Shouter(batch_size=1).generate([ask("a"), ask("config")])


def test_async_engine_keeps_its_concurrency_and_turns_an_exception_into_one_error_row() -> None:
    engine = AsyncShouter(concurrency=3)
    requests = [ask(f"q{i}") for i in range(9)] + [ask("boom")]
    seen: list[int] = []
    results = engine.generate(requests, lambda i, _r: seen.append(i))
    assert sorted(seen) == list(range(10))
    assert engine.most_in_flight == 3
    assert [r.text for r in results[:9]] == [f"Q{i}" for i in range(9)]
    assert results[9].error == "async-shouter failed: RuntimeError: the model fell over"


def test_async_engine_stops_dispatching_and_reports_the_rest_not_sent() -> None:
    engine = AsyncShouter(concurrency=1)
    done: list[int] = []
    results = engine.generate([ask(f"q{i}") for i in range(5)], lambda i, _r: done.append(i), lambda: len(done) >= 2)
    assert [r.error == NOT_SENT for r in results] == [False, False, True, True, True]
    assert engine.started == ["q0", "q1"]


def test_async_configuration_error_stops_every_worker() -> None:
    engine = AsyncShouter(concurrency=2)
    delivered: list[int] = []
    requests = [ask("config")] + [ask(f"q{i}") for i in range(20)]
    with pytest.raises(ConfigError):
        engine.generate(requests, lambda i, _r: delivered.append(i))
    assert len(engine.started) < len(requests)  # the other worker was cancelled, not left to run everything


def test_agenerate_inside_a_running_loop() -> None:
    async def cell() -> list[str | None]:
        return [r.text for r in await AsyncShouter(concurrency=2).agenerate([ask("x"), ask("y")])]

    assert asyncio.run(cell()) == ["X", "Y"]
