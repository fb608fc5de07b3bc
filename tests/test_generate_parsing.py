"""Pure parts of the generate stage: response parsing, token split, prompt templates, config, ledger, rows,
budgets and failure thresholds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts.atomic import write_parquet
from naturalthoughts.engines import (
    NOT_SENT,
    ChatRequest,
    ChatResult,
    LlamaCppEngineConfig,
    OpenAIEngineConfig,
    ResponseCache,
    SamplingParams,
    engine_identity,
)
from naturalthoughts.engines.cache import Spent, recorded_spend
from naturalthoughts.engines.thinking import ThinkingBudget
from naturalthoughts.errors import ConfigError
from naturalthoughts.generate.config import EMBEDDED_THINKING, GenerateConfig
from naturalthoughts.generate.ledger import Ledger, Prices, Spend
from naturalthoughts.generate.plan import (
    Job,
    build_plan,
    effective_max_tokens,
    request_from_json,
    request_to_json,
    trace_id,
)
from naturalthoughts.generate.prompts import load_template
from naturalthoughts.generate.stage import GenerateStage
from naturalthoughts.generate.traces import count_rows, row_tables, rows_to_table, trace_row, write_traces
from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import QUESTIONS, TRACES
from naturalthoughts.text.think import parse_response, split_tokens


@pytest.mark.parametrize(
    ("text", "reasoning", "answer", "closed"),
    [
        ("<think>\nadd them\n</think>\n\n5", "add them", "5", True),
        ("add them</think>5", "add them", "5", True),  # R1's template opens <think> itself
        ("<THINK>a</ Think >b", "a", "b", True),  # case and spaces
        ("<think>a</think>mid<think>b</think>final", "a</think>mid<think>b", "final", True),  # last close wins
        ("<think>cut off mid-thought", "cut off mid-thought", "", False),  # no closing tag
        ("just an answer", "", "just an answer", False),  # no tags at all
        ("<think>all thought</think>   ", "all thought", "", True),  # empty answer
        ("", "", "", False),
        (None, "", "", False),
    ],
)
def test_parse_think_variants(text: str | None, reasoning: str, answer: str, closed: bool) -> None:
    parsed = parse_response(text)
    assert (parsed.reasoning, parsed.answer, parsed.closed) == (reasoning, answer, closed)


def test_parse_server_reasoning_field() -> None:
    parsed = parse_response("The answer is 5.", server_reasoning="2 + 3 = 5")
    assert (parsed.reasoning, parsed.answer, parsed.closed) == ("2 + 3 = 5", "The answer is 5.", True)
    assert parsed.complete("stop")
    assert not parsed.complete("length")
    # Reasoning field present but no content yet (cut while thinking): not closed, not complete.
    cut = parse_response("", server_reasoning="still thinking")
    assert (cut.reasoning, cut.closed, cut.complete("stop")) == ("still thinking", False, False)
    # A stray closing tag left in the content is not part of the answer.
    assert parse_response("</think>\n42", server_reasoning="r").answer == "42"


def test_complete_needs_close_stop_and_answer() -> None:
    assert parse_response("<think>r</think>a").complete("stop")
    assert not parse_response("<think>r</think>a").complete("length")
    assert not parse_response("<think>r</think>").complete("stop")
    assert not parse_response("a without tags").complete("stop")


def test_split_tokens_is_proportional_and_sums() -> None:
    assert split_tokens(100, "x" * 75, "y" * 25) == (75, 25)
    assert split_tokens(7, "abc", "") == (7, 0)
    assert split_tokens(9, "", "") == (9, 0)
    assert split_tokens(None, "a", "b") == (None, None)
    reasoning_tokens, answer_tokens = split_tokens(101, "x" * 33, "y" * 67)
    assert reasoning_tokens + answer_tokens == 101


def test_templates(tmp_path: Path) -> None:
    r1 = load_template("r1")
    assert r1.messages("What is {x}?") == ({"role": "user", "content": "What is {x}?"},)  # braces kept
    think = load_template("auto", LlamaCppEngineConfig(), system_prompt="Be brief.")
    assert think.name == "think-tags"
    messages = think.messages("Q?")
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[1]["content"].startswith("Q?") and "</think>" in messages[1]["content"]
    assert load_template("auto", OpenAIEngineConfig(base_url="http://x/v1", model="m")).name == "r1"
    custom = tmp_path / "t.txt"
    custom.write_text('Solve: {question}\nJSON like {"a": 1}', encoding="utf-8")
    assert load_template(str(custom)).messages("1+1")[0]["content"] == 'Solve: 1+1\nJSON like {"a": 1}'
    bad = tmp_path / "bad.txt"
    bad.write_text("no placeholder", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.txt.*\{question\}"):
        load_template(str(bad))
    with pytest.raises(ConfigError, match="not a built-in template"):
        load_template("nonexistent-template")


def test_thinking_budget_default_follows_the_teacher() -> None:
    embedded = GenerateConfig()
    assert embedded.thinking_budget(2048) == EMBEDDED_THINKING and EMBEDDED_THINKING.enabled
    assert embedded.stop_sequences() == ("\n\n",)  # its answer is its first paragraph
    small = embedded.thinking_budget(100)  # fitted into the completion cap, both phases in proportion
    assert (small.budget, small.answer_max_tokens) == (50, 50)
    own_gguf = GenerateConfig(engine=LlamaCppEngineConfig(model_path="/models/r1-distill.gguf"))
    remote = GenerateConfig(engine=OpenAIEngineConfig(base_url="http://h/v1", model="m"))
    assert not own_gguf.thinking_budget().enabled and not remote.thinking_budget().enabled
    assert own_gguf.stop_sequences() == remote.stop_sequences() == ()
    assert GenerateConfig(stop=["END"]).stop_sequences() == ("END",)
    assert not GenerateConfig.model_validate({"thinking": {}}).thinking_budget().enabled  # turned off
    chosen = GenerateConfig.model_validate({"engine": remote.engine.model_dump(), "thinking": {"budget": 900}})
    assert chosen.thinking_budget().budget == 900


def test_stage_fingerprint_ignores_what_cannot_change_traces() -> None:
    base = GenerateStage(GenerateConfig(engine=OpenAIEngineConfig(base_url="http://h/v1", model="m")))
    same = [
        {"concurrency": 64, "chunk_size": 8, "max_cost": 5.0, "progress": False, "failure_share": 0.9},
        {"engine": OpenAIEngineConfig(base_url="http://h/v1", model="m", concurrency=3, timeout_s=5)},
    ]
    for change in same:
        assert GenerateStage(base.cfg.model_copy(update=change)).config_fingerprint() == base.config_fingerprint()
    for change in ({"temperature": 0.1}, {"thinking": ThinkingBudget(budget=64)}, {"retry": ["failed"]}):
        assert GenerateStage(base.cfg.model_copy(update=change)).config_fingerprint() != base.config_fingerprint()
    embedded = GenerateStage(GenerateConfig(max_tokens=100))
    recorded = embedded.recorded_config()  # the resolved budget and stop sequences are what is recorded
    assert (recorded["thinking"]["budget"], recorded["stop"]) == (50, ["\n\n"])


def test_config_defaults_and_unknown_keys() -> None:
    config = GenerateConfig()
    assert (config.temperature, config.top_p, config.max_tokens) == (0.6, 0.95, 16384)
    assert config.engine.engine == "llamacpp"
    with pytest.raises(ValueError, match="bogus"):
        GenerateConfig.model_validate({"bogus": 1})
    openai = GenerateConfig.model_validate({"engine": {"engine": "openai", "base_url": "http://h/v1", "model": "m"}})
    assert openai.engine.engine == "openai"


def test_max_tokens_clamped_to_llamacpp_slot() -> None:
    tokens, note = effective_max_tokens(GenerateConfig(engine=LlamaCppEngineConfig(n_ctx=8192, n_parallel=4)))
    assert tokens == 2048 and note and "2,048" in note
    assert effective_max_tokens(GenerateConfig(max_tokens=64)) == (64, None)
    remote = GenerateConfig(engine=OpenAIEngineConfig(base_url="http://h/v1", model="m"))
    assert effective_max_tokens(remote) == (16384, None)


def test_request_json_round_trip() -> None:
    request = ChatRequest(messages=({"role": "user", "content": "hé {x}"},), sample=3)
    assert request_from_json(request_to_json(request)) == request
    phase = ChatRequest(messages=request.messages, prefill="<think>\n", params=SamplingParams(stop=("</think>",)))
    assert request_from_json(request_to_json(phase)) == phase  # a thinking phase reaches Ray workers whole


def test_ledger_budget_and_cost() -> None:
    ledger = Ledger(Prices(1.0, 2.0), max_cost=0.003)
    sent = ChatResult(text="x", prompt_tokens=1000, completion_tokens=500)
    ledger.record_sent(sent)  # the model answered it...
    ledger.record(sent)  # ...and it became a trace
    ledger.record(ChatResult(text="x", prompt_tokens=10**6, completion_tokens=10**6, cached=True))  # free
    ledger.record(ChatResult(error=NOT_SENT))
    ledger.record_sent(ChatResult(error=NOT_SENT))  # never reached the model: no spend, no request
    assert (ledger.requests_sent, ledger.cache_hits, ledger.not_sent, ledger.done) == (1, 1, 1, 2)
    assert ledger.cost_usd == pytest.approx(0.002)
    assert ledger.budget_reached() is None and ledger.overshoot() is None
    ledger.record_sent(ChatResult(text="y", prompt_tokens=1000, completion_tokens=0))
    assert "cost budget" in (ledger.budget_reached() or "")
    ledger.record_sent(ChatResult(text="z", prompt_tokens=10, completion_tokens=20))  # was in flight
    assert ledger.overshoot() == "1 request(s) in flight finished past the budget (+30 tokens, $0.0001)"
    tokens = Ledger(max_total_tokens=10)
    tokens.record_sent(ChatResult(error="HTTP 500", prompt_tokens=None))
    assert tokens.errors == 1 and tokens.budget_reached() is None


def test_ledger_counts_spend_carried_from_earlier_runs() -> None:
    ledger = Ledger(max_total_tokens=100, carried=Spend(prompt_tokens=60, completion_tokens=40, requests=2))
    assert ledger.budget_reached() == "token budget reached (100 of 100 tokens (earlier runs included))"
    assert Ledger(max_total_tokens=101, carried=Spend(60, 40, 0.0, 2)).budget_reached() is None


def test_failure_threshold() -> None:
    def ledger(sent: int, failed: int) -> Ledger:
        out = Ledger()
        for i in range(sent):
            out.record_sent(ChatResult(error=f"HTTP 401 #{i % 2}") if i < failed else ChatResult(text="ok"))
        return out

    assert not ledger(0, 0).failing(0.5, 5)
    assert ledger(3, 3).failing(0.5, 5)  # every one failed
    assert not ledger(3, 2).failing(0.5, 5)  # a few sent: only "all of them" counts
    assert not ledger(6, 3).failing(0.5, 5)  # half is not more than half
    assert ledger(6, 4).failing(0.5, 5)
    assert not ledger(6, 4).failing(0.7, 5)  # the share is configurable
    assert ledger(6, 4).commonest_error() == ("HTTP 401 #0", 2)


def test_the_spend_ledger_reserves_settles_and_counts_since_the_work_last_finished(tmp_path: Path) -> None:
    """Real SQLite: a reservation counts at its worst case until it is settled with the response, in one
    transaction; what a dead run left reserved stays counted; a finished run closes the count."""
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        first = cache.reserve("generate", "run-1", "k1", 100, 1000, 1.0)
        in_flight = cache.reserve("generate", "run-1", "k2", 100, 1000, 1.0)  # its run dies before the reply
        assert cache.spent("generate") == Spent(2, 2, 0, 200, 2000, 2.0)
        cache.settle(first, "k1", ChatResult(text="a", prompt_tokens=90, completion_tokens=10), 0.1)
        assert cache.get("k1") is not None and cache.get("k2") is None  # the response came with its spend
        # A request that was never reserved is still on record once it returns.
        cache.settle(None, "k3", ChatResult(error="HTTP 500"), 0.0, "generate", "run-2")
        assert cache.get("k3") is None
        assert cache.spent("generate") == Spent(3, 1, 1, 190, 1010, 1.1)
        assert cache.spent(attempt="run-1") == Spent(2, 1, 0, 190, 1010, 1.1)
        assert in_flight and recorded_spend(tmp_path / "cache.sqlite", "run-2") == Spent(1, 0, 1, 0, 0, 0.0)
        assert recorded_spend(tmp_path / "cache.sqlite", "no such run") is None
        cache.close_budget("generate", "run-2")  # the work finished: the next budget starts at zero
        assert cache.spent("generate") == Spent()
        assert cache.spent("generate", whole_history=True).requests == 3
        assert cache.spent("annotate") == Spent()


def test_rows_table_and_counts(tmp_path: Path) -> None:
    teacher = "engine:model"
    jobs = [Job(trace_id(f"q{i}", 0, teacher), f"q{i}", 0, ChatRequest(messages=())) for i in range(4)]
    results = [
        ChatResult(text="<think>r</think>a", finish_reason="stop", prompt_tokens=5, completion_tokens=10),
        ChatResult(text="<think>r r r", finish_reason="length", prompt_tokens=5, completion_tokens=10),
        ChatResult(error="HTTP 500: boom"),
        ChatResult(error=NOT_SENT),
    ]
    rows = [trace_row(job, teacher, result, "token budget reached") for job, result in zip(jobs, results, strict=True)]
    assert rows[0]["complete"] and rows[0]["reasoning_tokens"] + rows[0]["answer_tokens"] == 10
    assert rows[1]["finish_reason"] == "length" and not rows[1]["complete"]
    assert rows[2]["error"] == "HTTP 500: boom" and rows[2]["finish_reason"] == "error"
    assert rows[3]["error"] == "not sent: token budget reached"
    assert count_rows(rows, 4).as_dict() == {
        "questions": 4,
        "rows": 4,
        "complete": 1,
        "incomplete": 1,
        "errors": 1,
        "not_sent": 1,
        "forced": 0,
    }
    assert rows[0]["completion_tokens"] == 10 and rows[0]["reasoning_phase_tokens"] is None
    assert rows[0]["response_hash"] == hashlib.sha256(b'["<think>r</think>a",null,"stop",null]').hexdigest()[:16]
    assert len({row["response_hash"] for row in rows}) == 4
    path = write_traces(rows, tmp_path / "traces.parquet")
    table = pq.read_table(path)
    assert table.schema.equals(TRACES, check_metadata=False)
    assert table.column("trace_id").to_pylist() == [job.trace_id for job in jobs]
    assert trace_id("q0", 0, teacher) != trace_id("q0", 1, teacher) != trace_id("q0", 0, "other")


def test_rows_become_arrow_columns_exactly() -> None:
    job = Job(trace_id("q0", 0, "t"), "q0", 0, ChatRequest(messages=()))
    rows = [
        trace_row(job, "t", ChatResult(text="<think>çà → 数</think>ok ✓", finish_reason="stop", completion_tokens=3)),
        trace_row(job, "t", ChatResult(error="HTTP 401: key ✗", latency_s=0.25)),
    ] * 600
    tables = list(row_tables(rows))
    assert [t.num_rows for t in tables] == [1024, 176]  # one Parquet row group each
    assert [row for table in tables for row in table.to_pylist()] == rows
    assert rows_to_table([]).schema.equals(TRACES)


def test_thinking_budget_row_uses_the_phase_counts() -> None:
    job = Job(trace_id("q0", 0, "t"), "q0", 0, ChatRequest(messages=()))
    result = ChatResult(
        text="<think>\nlong musing\n</think>\n\nFinal Answer: 4",
        finish_reason="stop",
        prompt_tokens=300,
        completion_tokens=170,
        forced=True,
        reasoning_tokens=160,
        answer_tokens=10,
    )
    row = trace_row(job, "t", result)
    assert row["complete"] and row["forced"] and row["answer"] == "Final Answer: 4"
    assert (row["reasoning_tokens"], row["answer_tokens"], row["completion_tokens"]) == (160, 10, 170)
    assert (row["reasoning_phase_tokens"], row["answer_phase_tokens"]) == (160, 10)
    assert count_rows([row], 1).forced == 1


def test_cache_keys_change_with_model_prompt_and_sampling(run_dir: RunDir) -> None:
    write_parquet(pa.Table.from_pylist([{"id": "q1", "question": "Why?"}], schema=QUESTIONS), run_dir.questions)
    base = GenerateConfig(engine=OpenAIEngineConfig(base_url="http://h/v1", model="m"), max_tokens=64)

    def keys(config: GenerateConfig) -> set[str]:
        plan = build_plan(run_dir, config, engine_identity)
        return {ResponseCache.key(plan.teacher, job.request) for job in plan.jobs}

    reference = keys(base)
    assert keys(base) == reference  # deterministic
    assert keys(base.model_copy(update={"concurrency": 64})) == reference  # throughput knobs are not identity
    for change in (
        {"engine": OpenAIEngineConfig(base_url="http://h/v1", model="other")},
        {"prompt_template": "think-tags"},
        {"system_prompt": "Be brief."},
        {"temperature": 0.7},
        {"top_p": 0.9},
        {"max_tokens": 128},
        {"seed": 1},
    ):
        assert keys(base.model_copy(update=change)).isdisjoint(reference), change
