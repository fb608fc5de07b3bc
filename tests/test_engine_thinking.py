"""The thinking budget (s1-style budget forcing): the phases it sends, and real runs on llama.cpp and transformers.

The phase-mapping tests use a small scripted engine that answers each phase with replies written for the
test (so every branch is reached on purpose); the real runs check the same contract on real models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from naturalthoughts.engines import (
    NOT_SENT,
    BatchedEngine,
    CachedEngine,
    ChatRequest,
    ChatResult,
    LlamaCppEngine,
    LlamaCppEngineConfig,
    OpenAIEngineConfig,
    ResponseCache,
    SamplingParams,
    ThinkingBudget,
    ThinkingEngine,
    TransformersEngineConfig,
    create_engine,
)
from naturalthoughts.errors import ConfigError
from naturalthoughts.text.think import parse_response

Reply = Callable[[ChatRequest], ChatResult]


class Scripted(BatchedEngine):
    """Answers each request with ``reply(request)`` and keeps every request it was sent."""

    name = "scripted"
    batch_size = 16

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.sent: list[ChatRequest] = []

    def model_identity(self) -> str:
        return "scripted"

    def answer_batch(self, requests: list[ChatRequest]) -> list[ChatResult]:
        self.sent.extend(requests)
        return [self.reply(request) for request in requests]


def question(text: str = "What is 2+2?", max_tokens: int = 100) -> ChatRequest:
    return ChatRequest(
        messages=({"role": "user", "content": text},), params=SamplingParams(max_tokens=max_tokens, temperature=0.0)
    )


def reasoning_phase(request: ChatRequest) -> bool:
    return request.params.stop == ("</think>",)


def result(text: str, finish: str = "stop", tokens: int = 5) -> ChatResult:
    return ChatResult(text=text, finish_reason=finish, prompt_tokens=10, completion_tokens=tokens)


def test_a_reasoning_cut_at_the_budget_is_closed_by_the_toolkit_with_the_cue() -> None:
    def reply(request: ChatRequest) -> ChatResult:
        return result("I add two and", "length", 8) if reasoning_phase(request) else result(" 4", tokens=2)

    inner = Scripted(reply)
    engine = ThinkingEngine(inner, ThinkingBudget(budget=8, answer_max_tokens=20))
    [answer] = engine.generate([question()])
    first, second = inner.sent
    assert first.prefill == "<think>\n" and first.params.max_tokens == 8 and first.params.stop == ("</think>",)
    assert second.prefill == "<think>\nI add two and\n</think>\n\nFinal Answer:"
    assert second.params.max_tokens == 20 and second.params.stop == ()
    assert answer.text == "<think>\nI add two and\n</think>\n\nFinal Answer: 4"
    assert answer.forced is True and answer.finish_reason == "stop"
    assert (answer.reasoning_tokens, answer.answer_tokens, answer.completion_tokens, answer.prompt_tokens) == (
        8,
        2,
        10,
        20,
    )
    parsed = parse_response(answer.text)
    assert parsed.complete(answer.finish_reason) and parsed.reasoning == "I add two and"
    assert parsed.answer == "Final Answer: 4"


def test_a_reasoning_the_model_closes_is_natural_and_gets_no_cue() -> None:
    def reply(request: ChatRequest) -> ChatResult:
        return result("Two and two make four.\n") if reasoning_phase(request) else result("4")

    engine = ThinkingEngine(Scripted(reply), ThinkingBudget(budget=64))
    [answer] = engine.generate([question(max_tokens=30)])
    assert answer.forced is False
    assert answer.text == "<think>\nTwo and two make four.\n</think>\n\n4"


def test_closing_before_the_minimum_continues_with_wait_within_the_budget() -> None:
    def reply(request: ChatRequest) -> ChatResult:
        if not reasoning_phase(request):
            return result("4")
        return result(" more thought", tokens=5) if request.prefill.endswith("Wait") else result("Quick.", tokens=3)

    inner = Scripted(reply)
    engine = ThinkingEngine(inner, ThinkingBudget(budget=20, min_tokens=10, max_continuations=2))
    [answer] = engine.generate([question()])
    reasoning = [r for r in inner.sent if reasoning_phase(r)]
    assert [r.prefill for r in reasoning] == [
        "<think>\n",
        "<think>\nQuick.\nWait",
        "<think>\nQuick.\nWait more thought\nWait",
    ]
    assert [r.params.max_tokens for r in reasoning] == [20, 17, 12]  # what is left of the budget
    assert answer.reasoning_tokens == 13 and answer.forced is False  # 3 + 5 + 5: stopped after two continuations
    assert answer.text == "<think>\nQuick.\nWait more thought\nWait more thought\n</think>\n\n4"


def test_an_empty_reasoning_is_always_extended() -> None:
    def reply(request: ChatRequest) -> ChatResult:
        if not reasoning_phase(request):
            return result("4")
        return result(" it is four.") if request.prefill.endswith("Wait") else result("", tokens=1)

    [answer] = ThinkingEngine(Scripted(reply), ThinkingBudget(budget=20)).generate([question()])
    assert parse_response(answer.text).reasoning == "Wait it is four."


def test_prefilled_schema_and_json_requests_pass_through_and_off_means_off() -> None:
    inner = Scripted(lambda request: result("as is"))
    engine = ThinkingEngine(inner, ThinkingBudget(budget=8))
    plain = question()
    passing = [
        ChatRequest(plain.messages, plain.params, prefill="<think>\n\n</think>\n\n"),
        ChatRequest(plain.messages, plain.params, json_schema={"type": "object"}),
        ChatRequest(plain.messages, plain.params, json_mode=True),
    ]
    results = engine.generate(passing)
    assert inner.sent == passing and [r.text for r in results] == ["as is"] * 3
    assert all(r.forced is None for r in results)
    off = Scripted(lambda request: result("as is"))
    [untouched] = ThinkingEngine(off, ThinkingBudget()).generate([plain])
    assert off.sent == [plain] and untouched.forced is None


def test_a_failed_phase_is_an_error_row_and_a_stop_leaves_the_rest_not_sent() -> None:
    def reply(request: ChatRequest) -> ChatResult:
        if reasoning_phase(request):
            return result("thinking", "length", 4)
        if "broken" in request.messages[-1]["content"]:
            return ChatResult(error="HTTP 500: boom")
        return result("fine")

    engine = ThinkingEngine(Scripted(reply), ThinkingBudget(budget=4))
    good, bad = engine.generate([question("ok"), question("broken")])
    assert good.ok and bad.error == "answer phase: HTTP 500: boom"
    counting = Scripted(reply)
    stopping = ThinkingEngine(counting, ThinkingBudget(budget=4))
    results = stopping.generate([question("a"), question("b")], should_stop=lambda: len(counting.sent) >= 2)
    assert [r.error for r in results] == [NOT_SENT, NOT_SENT]  # reasoned, but never answered: left for a rerun


def test_a_question_asked_twice_is_sent_once_per_phase_through_the_cache(tmp_path: Path) -> None:
    """Behind the response cache, identical requests under a budget are reasoned and answered once and both get
    the trace (so the batches an in-process engine forms do not depend on how many times an item repeats), and each
    copy's finished reasoning is reported."""
    scripted = Scripted(lambda request: result("thinking", "length", 4) if reasoning_phase(request) else result("4"))
    config = TransformersEngineConfig(model=str(tmp_path))
    reasoned: list[int] = []
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        cached = CachedEngine(config, cache, engine_factory=lambda _: scripted)
        engine = ThinkingEngine(cached, ThinkingBudget(budget=4), on_phase=lambda index, *_: reasoned.append(index))
        results = engine.generate([question("What is 2+2?"), question("What is 3+3?"), question("What is 2+2?")])
    assert len(scripted.sent) == 4  # two distinct questions, two phases each
    assert results[0].text == results[2].text and results[0] is not results[2] and all(r.ok for r in results)
    assert sorted(reasoned) == [0, 1, 2]


def test_every_phase_sent_is_settled_in_the_spend_ledger(tmp_path: Path) -> None:
    """Each phase of a trace is reserved before it is sent and settled with its tokens when it is stored, so the
    ledger counts every request the model answered (two per trace here), none left in flight."""
    from naturalthoughts.engines.cached import SpendRecorder

    scripted = Scripted(lambda request: result("thinking", "length", 4) if reasoning_phase(request) else result("4"))
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        spend = SpendRecorder(cache, scope="generate", attempt="a1")
        cached = CachedEngine(TransformersEngineConfig(model=str(tmp_path)), cache, engine_factory=lambda _: scripted,
                              spend=spend)  # fmt: skip
        results = ThinkingEngine(cached, ThinkingBudget(budget=4)).generate([question("a"), question("b")])
        spent = cache.spent("generate")
    assert all(r.ok for r in results) and len(scripted.sent) == 4
    assert (spent.requests, spent.reserved, spent.failed) == (4, 0, 0)
    assert (spent.prompt_tokens, spent.completion_tokens) == (40, 2 * 4 + 2 * 5)
    assert cached.stats.requests_sent == 4 and cached.stats.completion_tokens == 18


def test_the_budget_is_part_of_the_identity() -> None:
    inner = Scripted(lambda request: result("x"))
    small = ThinkingEngine(inner, ThinkingBudget(budget=8)).model_identity()
    large = ThinkingEngine(inner, ThinkingBudget(budget=16)).model_identity()
    assert small != large and small.startswith("scripted+thinking:")
    assert ThinkingEngine(inner, ThinkingBudget()).model_identity() == "scripted"


def test_an_engine_that_cannot_continue_is_refused_without_starting_it(tmp_path: Path) -> None:
    config = OpenAIEngineConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key_env=None, prefill="none")
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        cached = CachedEngine(config, cache)
        with pytest.raises(ConfigError, match="thinking budget needs an engine that continues"):
            ThinkingEngine(cached, ThinkingBudget(budget=8))
        assert not cached.started
        ThinkingEngine(cached, ThinkingBudget())  # no budget: nothing to continue, nothing to refuse


# -- real models ---------------------------------------------------------------------------------------------------

QUESTIONS = ["What is 17 times 3?", "Name three prime numbers.", "Why is the sky blue?", "Solve x + 2 = 5."]


def sampled(texts: list[str]) -> list[ChatRequest]:
    return [
        ChatRequest(
            messages=({"role": "user", "content": text},),
            params=SamplingParams(max_tokens=256, temperature=0.7, seed=3),
        )
        for text in texts
    ]


def test_llamacpp_small_budget_gives_closed_traces_with_reasoning(llamacpp_engine: LlamaCppEngine) -> None:
    budget = ThinkingBudget(budget=24, answer_max_tokens=24)
    results = ThinkingEngine(llamacpp_engine, budget).generate(sampled(QUESTIONS))
    for answer in results:
        assert answer.ok and answer.text is not None and answer.text.startswith("<think>\n")
        parsed = parse_response(answer.text)
        assert parsed.closed and parsed.reasoning and parsed.answer
        assert answer.reasoning_tokens is not None and 0 < answer.reasoning_tokens <= 24
        assert answer.completion_tokens == answer.reasoning_tokens + (answer.answer_tokens or 0)
        assert answer.finish_reason in ("stop", "length")
        if answer.forced:  # cut at the budget (a model may also end by itself on exactly the 24th token)
            assert answer.reasoning_tokens == 24 and "</think>\n\nFinal Answer:" in answer.text
    assert any(answer.forced for answer in results)  # SmolLM2 reasons past 24 tokens at least once


def test_cached_phases_make_a_rerun_free_and_a_new_budget_new_work(
    llamacpp_openai_config: OpenAIEngineConfig, tmp_path: Path
) -> None:
    requests = sampled(QUESTIONS[:2])
    budget = ThinkingBudget(budget=16, answer_max_tokens=12)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        first_cache = CachedEngine(llamacpp_openai_config, cache)
        with ThinkingEngine(first_cache, budget) as first:
            fresh = first.generate(requests)
        assert first_cache.stats.requests_sent >= 4  # at least a reasoning and an answer phase per request
        rerun_cache = CachedEngine(llamacpp_openai_config, cache)
        again = ThinkingEngine(rerun_cache, budget).generate(requests)
        assert not rerun_cache.started and rerun_cache.stats.requests_sent == 0
        assert [r.text for r in again] == [r.text for r in fresh] and all(r.cached for r in again)
        assert [r.forced for r in again] == [r.forced for r in fresh]
        longer_cache = CachedEngine(llamacpp_openai_config, cache)
        with ThinkingEngine(longer_cache, budget.model_copy(update={"budget": 20})) as longer:
            longer.generate(requests)
        assert longer_cache.stats.requests_sent >= 2  # the budget is in the phase requests, so in their keys


def test_transformers_budget_forcing_continues_the_rendered_prompt(tiny_llama_dir: Path) -> None:
    engine = create_engine(TransformersEngineConfig(model=str(tiny_llama_dir), device="cpu", batch_size=4))
    with ThinkingEngine(engine, ThinkingBudget(budget=6, answer_max_tokens=4)) as thinking:
        results = thinking.generate(sampled(QUESTIONS[:2]))
    for answer in results:
        parsed = parse_response(answer.text)
        assert answer.ok and parsed.closed and parsed.reasoning
        assert answer.reasoning_tokens is not None and answer.reasoning_tokens <= 6
        assert answer.answer_tokens is not None and 0 < answer.answer_tokens <= 4


# -- phases on a deterministic llama.cpp: a trace's answer continues from the reasoning its server holds ------------


@pytest.fixture(scope="module")
def deterministic_llamacpp() -> Iterator[LlamaCppEngine]:
    engine = LlamaCppEngine(LlamaCppEngineConfig(n_parallel=2, servers=2, deterministic=True, timeout_s=120))
    yield engine
    engine.close()


class Continued:
    """Two steps per request: its reply, then that reply continued (each step's result is kept)."""

    def __init__(self, requests: list[ChatRequest]) -> None:
        self.requests = requests
        self.steps: dict[int, list[ChatResult]] = {}

    def next(self, index: int, results: Sequence[ChatResult]) -> ChatRequest | None:
        self.steps[index] = list(results)
        if len(results) == 2 or not results[-1].ok:
            return None
        request = self.requests[index]
        return replace(request, prefill=(request.prefill or "") + (results[0].text or ""))

    def combine(self, index: int, results: Sequence[ChatResult]) -> ChatResult:
        return results[-1]


def test_a_deterministic_server_reads_only_what_a_step_adds_to_the_one_before(
    deterministic_llamacpp: LlamaCppEngine,
) -> None:
    """The second step of a request goes to the server that answered its first, right after it, and reuses that
    step's prompt and reply from the server's one slot; a request on its own reuses nothing (computed from
    scratch), and the same steps give the same replies again."""
    assert deterministic_llamacpp.continues_steps
    requests = [replace(request, prefill="Let me think.") for request in sampled(QUESTIONS)]
    runs = []
    for _ in range(2):
        phases = Continued(requests)
        deterministic_llamacpp.generate(requests, phases=phases)
        runs.append(phases.steps)
    for steps in runs[0].values():
        first, second = steps
        assert first.ok and second.ok and first.cached_prompt_tokens == 0
        assert second.cached_prompt_tokens is not None and second.prompt_tokens is not None
        assert second.cached_prompt_tokens >= first.prompt_tokens  # the question's prompt was not read again
        assert second.prompt_tokens - second.cached_prompt_tokens < (first.completion_tokens or 0) + 8
    texts = [[[step.text for step in runs[n][index]] for index in range(len(requests))] for n in (0, 1)]
    assert texts[0] == texts[1]
    alone = deterministic_llamacpp.generate([replace(requests[0], prefill="Let me think." + texts[0][0][0])])
    assert alone[0].cached_prompt_tokens == 0


def test_a_trace_stopped_between_its_phases_is_generated_again_from_its_reasoning(
    deterministic_llamacpp: LlamaCppEngine, tmp_path: Path
) -> None:
    """Stopped after its reasoning, a trace's answer is not sent; the rerun sends that trace again from its first
    phase (its reasoning served from the cache would leave the server without it), so every trace comes out as in
    a run that was never stopped, and the rerun after that sends nothing."""
    requests = sampled(QUESTIONS)
    budget = ThinkingBudget(budget=16, answer_max_tokens=12)

    def run(cache: ResponseCache, stop_after_a_reasoning: bool = False) -> tuple[list[ChatResult], CachedEngine]:
        cached = CachedEngine(deterministic_llamacpp.config, cache, engine_factory=lambda _: deterministic_llamacpp)
        reasoned: list[int] = []
        thinking = ThinkingEngine(cached, budget, on_phase=lambda index, *_: reasoned.append(index))
        stop = (lambda: bool(reasoned)) if stop_after_a_reasoning else None
        return thinking.generate(requests, should_stop=stop), cached

    with ResponseCache(tmp_path / "whole.sqlite") as cache:
        whole, _ = run(cache)
    assert all(result.ok for result in whole)
    with ResponseCache(tmp_path / "stopped.sqlite") as cache:
        stopped, _ = run(cache, stop_after_a_reasoning=True)
        cut = [i for i, result in enumerate(stopped) if result.error == NOT_SENT]
        assert cut  # at least the trace whose reasoning ended first was stopped before its answer
        resumed, engine = run(cache)
        assert [result.text for result in resumed] == [result.text for result in whole]
        assert engine.stats.requests_sent == 2 * len(cut)  # each cut trace: its reasoning again, then its answer
        done_before = len(requests) - len(cut)
        assert engine.stats.cache_hits == 2 * done_before  # finished traces: both phases from the cache
        again, engine = run(cache)
        assert engine.stats.requests_sent == 0 and [r.text for r in again] == [r.text for r in whole]
