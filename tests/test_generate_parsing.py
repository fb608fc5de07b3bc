"""Pure parts of the generate stage: response parsing, token split, prompt templates, config, ledger, rows."""

from __future__ import annotations

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
    engine_identity,
)
from naturalthoughts.errors import ConfigError
from naturalthoughts.generate.config import GenerateConfig
from naturalthoughts.generate.ledger import Ledger, Prices
from naturalthoughts.generate.parsing import parse_response, split_tokens
from naturalthoughts.generate.plan import (
    Job,
    build_plan,
    effective_max_tokens,
    request_from_json,
    request_to_json,
    trace_id,
)
from naturalthoughts.generate.prompts import load_template
from naturalthoughts.generate.traces import count_rows, trace_row, write_traces
from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import QUESTIONS, TRACES


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


def test_ledger_budget_and_cost() -> None:
    ledger = Ledger(Prices(1.0, 2.0), max_cost=0.003)
    ledger.record(ChatResult(text="x", prompt_tokens=1000, completion_tokens=500))
    ledger.record(ChatResult(text="x", prompt_tokens=10**6, completion_tokens=10**6, cached=True))  # free
    ledger.record(ChatResult(error=NOT_SENT))
    assert (ledger.requests_sent, ledger.cache_hits, ledger.not_sent) == (1, 1, 1)
    assert ledger.cost_usd == pytest.approx(0.002)
    assert ledger.budget_reached() is None
    ledger.record(ChatResult(text="y", prompt_tokens=1000, completion_tokens=0))
    assert "cost budget" in (ledger.budget_reached() or "")
    tokens = Ledger(max_total_tokens=10)
    tokens.record(ChatResult(error="HTTP 500", prompt_tokens=None))
    assert tokens.errors == 1 and tokens.budget_reached() is None


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
    }
    path = write_traces(rows, tmp_path / "traces.parquet")
    table = pq.read_table(path)
    assert table.schema.equals(TRACES, check_metadata=False)
    assert table.column("trace_id").to_pylist() == [job.trace_id for job in jobs]
    assert trace_id("q0", 0, teacher) != trace_id("q0", 1, teacher) != trace_id("q0", 0, "other")


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
