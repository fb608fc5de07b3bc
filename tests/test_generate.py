"""The generate stage against the real llama.cpp server (session fixture), through real SQLite and Parquet.

Requests are counted at a fault-injecting proxy in front of the server (``forwarded``), so "what was
sent" is observed on the wire, not taken from our own ledger.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from faultproxy import FaultProxy
from naturalthoughts.atomic import write_parquet
from naturalthoughts.cli import main
from naturalthoughts.engines import LlamaCppEngine, LlamaCppEngineConfig, OpenAIEngineConfig
from naturalthoughts.generate import GenerateConfig, estimate, generate
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import QUESTIONS, TRACES

QUESTIONS_TEXT = [
    "What is 2 + 3?",
    "Name the capital of France.",
    "Is 17 a prime number?",
    "At what temperature in Celsius does water boil at sea level?",
    "What is the square root of 81?",
    "How many legs does a spider have?",
    "What gas do plants absorb from the air?",
    "What is 12 times 12?",
]


def write_questions(run: RunDir, count: int) -> list[str]:
    rows = [
        {"id": f"q{i:03d}", "question": QUESTIONS_TEXT[i % len(QUESTIONS_TEXT)] + f" (#{i})", "source": "test"}
        for i in range(count)
    ]
    write_parquet(pa.Table.from_pylist(rows, schema=QUESTIONS), run.questions)
    return [row["id"] for row in rows]


@pytest.fixture
def proxy(llamacpp_engine: LlamaCppEngine) -> Iterator[FaultProxy]:
    with FaultProxy(llamacpp_engine.server_url) as fault_proxy:
        yield fault_proxy


def proxied(engine: OpenAIEngineConfig, proxy: FaultProxy, **changes: object) -> OpenAIEngineConfig:
    # The model identity includes the base URL: keep the real one so every proxy port shares the cache keys...
    return engine.model_copy(update={"base_url": proxy.base_url, "max_retries": 0, **changes})


def config_for(engine: OpenAIEngineConfig, **changes: object) -> GenerateConfig:
    settings = {"prompt_template": "think-tags", "max_tokens": 24, "progress": False, **changes}
    return GenerateConfig(engine=engine, **settings)


def traces(run: RunDir) -> list[dict]:
    return pq.read_table(run.traces).to_pylist()


@pytest.mark.slow
def test_rows_per_question_and_sample_then_cached_rerun(
    run_dir: RunDir, llamacpp_openai_config: OpenAIEngineConfig, proxy: FaultProxy
) -> None:
    ids = write_questions(run_dir, 2)
    config = config_for(proxied(llamacpp_openai_config, proxy), samples=2, seed=7)
    result = generate(run_dir, config)
    rows = traces(run_dir)
    assert pq.read_schema(run_dir.traces).names == TRACES.names
    assert [(r["question_id"], r["sample"]) for r in rows] == [(q, s) for q in ids for s in range(2)]
    assert len({r["trace_id"] for r in rows}) == 4
    assert all(r["error"] is None and r["teacher"] == result.teacher for r in rows)
    # No thinking budget for a teacher other than the bundled model: one request per trace, no phases.
    assert all(not r["forced"] and r["reasoning_phase_tokens"] is None for r in rows)
    assert all(r["completion_tokens"] == r["reasoning_tokens"] + r["answer_tokens"] for r in rows)
    # The hash addresses the content: equal hashes only for equal replies (two samples may coincide).
    contents = {r["response_hash"]: (r["reasoning"], r["answer"], r["finish_reason"]) for r in rows}
    assert len(contents) == len({(r["reasoning"], r["answer"], r["finish_reason"]) for r in rows})
    # 24 tokens is too few for SmolLM2 to close its thinking, so replies are cut and recorded as incomplete.
    assert all(r["finish_reason"] in {"stop", "length"} for r in rows)
    assert all(r["complete"] == (r["finish_reason"] == "stop" and bool(r["answer"])) or not r["complete"] for r in rows)
    assert any(r["finish_reason"] == "length" and not r["complete"] for r in rows)
    assert len(proxy.forwarded) == 4
    assert {a.body["seed"] for a in proxy.forwarded} == {7, 8}  # sample i is sent seed + i
    record = Manifest(run_dir.manifest).latest("generate")
    assert record["status"] == "done"
    assert record["counts"]["rows"] == 4 and record["counts"]["questions"] == 2
    assert record["usage"]["requests_sent"] == 4 and record["usage"]["cache_hits"] == 0
    assert record["usage"]["completion_tokens"] == sum(r["completion_tokens"] for r in rows)

    assert generate(run_dir, config).status == "up-to-date"  # same questions and config: nothing runs
    again = generate(run_dir, config, force=True)
    assert len(proxy.forwarded) == 4  # nothing new reached the server
    assert again.usage["cache_hits"] == 4 and again.usage["requests_sent"] == 0
    assert traces(run_dir) == rows
    assert Manifest(run_dir.manifest).latest("generate")["usage"]["cache_hits"] == 4

    # Length-cut replies are never resent by a plain rerun; a new temperature misses the cache.
    generate(run_dir, config.model_copy(update={"temperature": 0.9}))
    assert len(proxy.forwarded) == 8
    assert traces(run_dir)[0]["trace_id"] == rows[0]["trace_id"]  # same teacher, question, sample


@pytest.mark.slow
def test_retry_incomplete_resends_only_incomplete_rows(
    run_dir: RunDir, llamacpp_openai_config: OpenAIEngineConfig, proxy: FaultProxy
) -> None:
    write_questions(run_dir, 3)
    config = config_for(proxied(llamacpp_openai_config, proxy), max_tokens=40, temperature=0.0)
    generate(run_dir, config)
    first = traces(run_dir)
    incomplete = [r for r in first if not r["complete"]]
    assert incomplete, "SmolLM2 at 40 tokens leaves some replies incomplete"
    sent_before = len(proxy.forwarded)
    # Raising max_tokens would miss the cache for every row; --retry incomplete resends only the incomplete ones.
    retried = generate(run_dir, config.model_copy(update={"retry": ["incomplete"], "max_tokens": 48}))
    assert len(proxy.forwarded) - sent_before == len(incomplete)
    assert {a.prompt for a in proxy.forwarded[sent_before:]} <= {a.prompt for a in proxy.forwarded[:sent_before]}
    after = {r["question_id"]: r for r in traces(run_dir)}
    for row in first:
        if row["complete"]:
            assert after[row["question_id"]] == row  # kept as it was
    assert retried.usage["requests_sent"] == len(incomplete)
    # Same settings again: the cached incomplete replies are bypassed (refreshed), not served.
    still = [r for r in traces(run_dir) if not r["complete"]]
    sent_before = len(proxy.forwarded)
    generate(run_dir, config.model_copy(update={"retry": ["incomplete"], "max_tokens": 48}), force=True)
    assert len(proxy.forwarded) - sent_before == len(still)


def test_failures_become_error_rows_and_are_retried(
    run_dir: RunDir, llamacpp_openai_config: OpenAIEngineConfig, proxy: FaultProxy
) -> None:
    write_questions(run_dir, 4)
    config = config_for(proxied(llamacpp_openai_config, proxy), max_tokens=16)
    proxy.set_plan(["pass", "500", "pass", "500"])
    result = generate(run_dir, config)
    rows = traces(run_dir)
    assert len(rows) == 4 and result.counts["errors"] == 2
    failed = [r["question_id"] for r in rows if r["error"]]
    assert len(failed) == 2 and all("500" in r["error"] for r in rows if r["error"])
    sent_before = len(proxy.forwarded)
    retried = generate(run_dir, config.model_copy(update={"retry": ["failed"]}))
    assert len(proxy.forwarded) - sent_before == 2
    assert {a.prompt.split("\n")[0] for a in proxy.forwarded[sent_before:]} == {
        r["question_id"] and _question(run_dir, r["question_id"]) for r in rows if r["error"]
    }
    assert retried.counts["errors"] == 0 and all(r["error"] is None for r in traces(run_dir))


def _question(run: RunDir, question_id: str) -> str:
    table = pq.read_table(run.questions).to_pylist()
    return next(row["question"] for row in table if row["id"] == question_id)


@pytest.mark.slow
def test_budget_stop_then_same_budget_sends_nothing_then_resume(
    run_dir: RunDir, llamacpp_openai_config: OpenAIEngineConfig, proxy: FaultProxy
) -> None:
    write_questions(run_dir, 6)
    # ~95 prompt + 16 completion tokens a request: the budget is spent after the first two replies.
    config = config_for(proxied(llamacpp_openai_config, proxy, concurrency=2), max_tokens=16, max_total_tokens=150)
    stopped = generate(run_dir, config)
    assert stopped.stopped and "token budget" in stopped.stopped
    assert "request(s) in flight finished past the budget" in stopped.stopped  # it says what it overshot by
    rows = traces(run_dir)
    assert len(rows) == 6  # every question has a row: a response or "not sent"
    unsent = [r for r in rows if r["error"]]
    assert unsent and all(r["error"].startswith("not sent: token budget reached") for r in unsent)
    # At most the requests in flight when the budget was reached (2) went past it.
    sent = stopped.usage["requests_sent"]
    assert sent == len(proxy.forwarded) == 6 - len(unsent) and sent <= 2 + 2
    assert Manifest(run_dir.manifest).latest("generate")["status"] == "stopped"

    # The same budget again: the spend recorded by the stopped run counts, so nothing more is sent.
    again = generate(run_dir, config)
    assert len(proxy.forwarded) == sent and again.usage["requests_sent"] == 0
    assert again.stopped and "earlier runs included" in again.stopped
    assert again.usage["cache_hits"] == sent
    # Finished responses are kept as they were; unsent rows stay unsent (their note names this run's spend).
    rows_again = traces(run_dir)
    assert [r for r in rows_again if not r["error"]] == [r for r in rows if not r["error"]]
    assert [r["trace_id"] for r in rows_again if r["error"]] == [r["trace_id"] for r in unsent]

    resumed = generate(run_dir, config.model_copy(update={"max_total_tokens": None}))
    assert resumed.stopped is None and resumed.usage["requests_sent"] == len(unsent)
    assert resumed.usage["cache_hits"] == 6 - len(unsent)
    assert all(r["error"] is None for r in traces(run_dir))
    statuses = [r["status"] for r in Manifest(run_dir.manifest).records("generate")]
    assert statuses == ["stopped", "stopped", "done"]


@pytest.mark.slow
def test_estimate_then_cli_run(
    run_dir: RunDir, llamacpp_openai_config: OpenAIEngineConfig, proxy: FaultProxy, capsys: pytest.CaptureFixture
) -> None:
    write_questions(run_dir, 4)
    engine = proxied(llamacpp_openai_config, proxy)
    priced = config_for(engine, max_tokens=16, price_input_per_million=1.0, price_output_per_million=2.0)
    projection = estimate(run_dir, priced, sample_size=1, quiet=True)
    assert projection.sample_sent == 1 and projection.requests_to_send == 3
    assert projection.projected_completion_tokens > 0 and projection.projected_cost_usd > 0
    assert projection.projected_seconds > 0
    options = [
        "generate", "--run", str(run_dir.root), "--base-url", engine.base_url, "--model", engine.model,
        "--api-key-env", "NT_TEST_NO_KEY", "--prompt-template", "think-tags", "--max-tokens", "16",
        "--price-input", "1", "--price-output", "2", "-q",
    ]  # fmt: skip
    main([*options, "--estimate", "--estimate-size", "1"])
    printed = capsys.readouterr().out
    assert "projected completion tokens" in printed and "projected cost" in printed
    assert len(proxy.forwarded) == 2  # the second sample was drawn from requests not yet cached
    assert len(Manifest(run_dir.manifest).records("generate-estimate")) == 2
    main(options)
    printed = capsys.readouterr().out
    assert "4 rows for 4 questions" in printed
    assert len(proxy.forwarded) == 4  # the estimates' replies were reused
    record = Manifest(run_dir.manifest).latest("generate")
    assert record["usage"]["cache_hits"] == 2 and record["usage"]["requests_sent"] == 2
    assert record["usage"]["cost_usd"] > 0
    assert "NT_TEST_NO_KEY" in json.dumps(record["config"])


@pytest.mark.slow
def test_thinking_budget_default_closes_traces_on_the_embedded_engine(run_dir: RunDir) -> None:
    write_questions(run_dir, 4)
    # The bundled model with no thinking settings: the default budget applies (SmolLM2 never closes </think>).
    config = GenerateConfig(engine=LlamaCppEngineConfig(n_parallel=4, n_ctx=2048, n_threads=2), progress=False)
    budget = config.thinking_budget()
    assert budget.enabled and budget.budget and budget.answer_max_tokens
    result = generate(run_dir, config)
    rows = traces(run_dir)
    assert len(rows) == 4 and all(r["error"] is None for r in rows)
    # Every reasoning is closed (by the model or by the toolkit) and followed by an answer.
    assert all(r["reasoning"] and r["answer"] for r in rows), rows
    assert all(r["reasoning_phase_tokens"] <= budget.budget for r in rows)
    assert all(r["answer_phase_tokens"] <= budget.answer_max_tokens for r in rows)
    assert all(r["completion_tokens"] == r["reasoning_phase_tokens"] + r["answer_phase_tokens"] for r in rows)
    assert all(r["answer"].startswith(budget.answer_cue) for r in rows if r["forced"])
    assert sum(r["complete"] for r in rows) >= 2, [(r["finish_reason"], r["answer"]) for r in rows]
    assert result.counts["forced"] == sum(r["forced"] for r in rows)
    record = Manifest(run_dir.manifest).latest("generate")
    assert record["config"]["thinking"]["budget"] == budget.budget  # the resolved default is recorded
    assert record["usage"]["requests_sent"] >= 8  # two phases a trace (more when an empty reasoning was extended)
    # Each phase was cached: a forced rerun sends nothing and rebuilds the same rows.
    again = generate(run_dir, config, force=True)
    assert again.usage["requests_sent"] == 0 and again.usage["cache_hits"] == 4
    assert traces(run_dir) == rows


def test_cli_help_and_bad_options(run_dir: RunDir, capsys: pytest.CaptureFixture) -> None:
    main(["generate", "--help"])
    help_text = capsys.readouterr().out
    for option in ("--max-tokens", "--retry", "--estimate", "--executor", "--max-cost"):
        assert option in help_text
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--run", str(run_dir.root)])
    assert exit_info.value.code == 3  # questions.parquet missing
    assert "nt ingest" in capsys.readouterr().err
    write_questions(run_dir, 1)
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--run", str(run_dir.root), "--engine", "llamacpp", "--base-url", "http://x/v1"])
    assert exit_info.value.code == 2


def _cache_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=30) as connection:
        try:
            return connection.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        except sqlite3.OperationalError:  # table not created yet
            return 0


def _stage_temporaries(run: RunDir) -> list[Path]:
    return sorted(run.root.glob(".traces.parquet.*.tmp"))


@pytest.mark.slow
def test_sigkill_mid_stream_loses_nothing_and_prints_progress_lines(
    run_dir: RunDir, llamacpp_openai_config: OpenAIEngineConfig
) -> None:
    total = 8
    write_questions(run_dir, total)
    config = run_dir.root / "generate.yaml"
    config.write_text("chunk_size: 2\n", encoding="utf-8")  # four chunks, each written as soon as it is answered
    command = [
        sys.executable, "-c", "from naturalthoughts.cli import main; main()", "generate", "--run", str(run_dir.root),
        "--config", str(config), "--base-url", llamacpp_openai_config.base_url,
        "--model", llamacpp_openai_config.model, "--prompt-template", "think-tags", "--max-tokens", "24",
        "--concurrency", "2",
    ]  # fmt: skip
    # stderr is a pipe, not a terminal: progress comes as plain lines, here every 0.2 s.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NT_PROGRESS_INTERVAL": "0.2"}
    env.pop("NT_PROGRESS", None)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600  # generous: the CI machine may be busy
    while _cache_rows(run_dir.cache_db) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read() if process.stderr else ""
    (partial,) = _stage_temporaries(run_dir)
    assert partial.stat().st_size > 4, "the first chunk's rows are already in the file (more than Parquet's magic)"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    progress = process.stderr.read() if process.stderr else ""
    assert "generate: started, 8 traces" in progress
    assert re.search(r"generate: \d/8 traces \(\d+\.\d%\) · .*tok/s · .*\d+ cached · 0 errors", progress), progress
    finished = _cache_rows(run_dir.cache_db)
    assert 3 <= finished < total
    assert not run_dir.traces.exists()  # "the file exists" still means "it is complete"

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert re.search(r"generate: 8/8 traces .* done in", rerun.stderr), rerun.stderr
    record = Manifest(run_dir.manifest).latest("generate")
    assert record["usage"]["cache_hits"] >= finished  # nothing finished before the kill was lost
    assert record["usage"]["requests_sent"] == total - record["usage"]["cache_hits"] < total
    rows = traces(run_dir)
    assert len(rows) == total and all(r["error"] is None for r in rows)
    assert [r["question_id"] for r in rows] == [f"q{i:03d}" for i in range(total)]
    assert pq.ParquetFile(run_dir.traces).metadata.num_row_groups == 4
    assert not _stage_temporaries(run_dir)  # the killed run's temporary file was cleaned up


@pytest.mark.slow
def test_cli_think_budget_turns_budget_forcing_on_for_any_teacher(
    run_dir: RunDir, llamacpp_openai_config: OpenAIEngineConfig, proxy: FaultProxy, capsys: pytest.CaptureFixture
) -> None:
    write_questions(run_dir, 3)
    engine = proxied(llamacpp_openai_config, proxy)
    options = [
        "generate", "--run", str(run_dir.root), "--base-url", engine.base_url, "--model", engine.model,
        "--api-key-env", "NT_TEST_NO_KEY", "--max-tokens", "64", "-q",
    ]  # fmt: skip
    # Off by default for a teacher behind an endpoint: one request per trace, nothing forced.
    with pytest.raises(SystemExit) as conflict:
        main([*options, "--think-budget", "8", "--no-think-budget"])
    assert conflict.value.code == 2 and "--no-think-budget" in capsys.readouterr().err
    main([*options, "--think-budget", "8", "--answer-max-tokens", "8"])
    rows = traces(run_dir)
    assert all(r["error"] is None for r in rows)
    # 8 reasoning tokens: a reasoning the model did not close itself was cut and closed by the toolkit; every trace
    # took a reasoning request and an answer request (an empty reasoning is extended with "Wait" up to twice).
    forced = [r for r in rows if r["forced"]]
    assert forced and all(r["reasoning_phase_tokens"] <= 8 and r["answer_phase_tokens"] <= 8 for r in forced)
    assert 2 * len(rows) <= len(proxy.forwarded) <= 4 * len(rows)
    assert all(a.body["messages"][-1]["role"] == "assistant" for a in proxy.forwarded)  # the <think> prefill
    assert Manifest(run_dir.manifest).latest("generate")["config"]["thinking"]["budget"] == 8
