"""The generate stage against the real llama.cpp server (session fixture), through real SQLite and Parquet.

Requests are counted at a fault-injecting proxy in front of the server (``forwarded``), so "what was
sent" is observed on the wire, not taken from our own ledger.
"""

from __future__ import annotations

import json
import os
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
from naturalthoughts.engines import LlamaCppEngine, OpenAIEngineConfig
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
    # 24 tokens is too few for SmolLM2 to close its thinking, so replies are cut and recorded as incomplete.
    assert all(r["finish_reason"] in {"stop", "length"} for r in rows)
    assert all(r["complete"] == (r["finish_reason"] == "stop" and bool(r["answer"])) or not r["complete"] for r in rows)
    assert any(r["finish_reason"] == "length" and not r["complete"] for r in rows)
    assert len(proxy.forwarded) == 4
    assert {a.body["seed"] for a in proxy.forwarded} == {7, 8}  # sample i is sent seed + i
    record = Manifest(run_dir.manifest).latest("generate")
    assert record["status"] == "ok"
    assert record["counts"]["rows"] == 4 and record["counts"]["questions"] == 2
    assert record["usage"]["requests_sent"] == 4 and record["usage"]["cache_hits"] == 0
    assert record["usage"]["completion_tokens"] == sum(r["reasoning_tokens"] + r["answer_tokens"] for r in rows)

    again = generate(run_dir, config)
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
    generate(run_dir, config.model_copy(update={"retry": ["incomplete"], "max_tokens": 48}))
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
def test_budget_stop_then_resume(
    run_dir: RunDir, llamacpp_openai_config: OpenAIEngineConfig, proxy: FaultProxy
) -> None:
    write_questions(run_dir, 6)
    # ~95 prompt + 16 completion tokens a request: the budget is spent after the first two replies.
    config = config_for(proxied(llamacpp_openai_config, proxy, concurrency=2), max_tokens=16, max_total_tokens=150)
    stopped = generate(run_dir, config)
    assert stopped.stopped and "token budget" in stopped.stopped
    rows = traces(run_dir)
    assert len(rows) == 6  # every question has a row: a response or "not sent"
    unsent = [r for r in rows if r["error"]]
    assert unsent and all(r["error"].startswith("not sent: token budget reached") for r in unsent)
    assert stopped.usage["requests_sent"] == len(proxy.forwarded) == 6 - len(unsent)
    assert Manifest(run_dir.manifest).latest("generate")["status"] == "stopped"
    resumed = generate(run_dir, config.model_copy(update={"max_total_tokens": None}))
    assert resumed.stopped is None and resumed.usage["requests_sent"] == len(unsent)
    assert resumed.usage["cache_hits"] == 6 - len(unsent)
    assert all(r["error"] is None for r in traces(run_dir))


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


@pytest.mark.slow
def test_sigkill_mid_run_then_resume(run_dir: RunDir, llamacpp_openai_config: OpenAIEngineConfig) -> None:
    total = 6
    write_questions(run_dir, total)
    command = [
        sys.executable, "-c", "from naturalthoughts.cli import main; main()", "generate", "--run", str(run_dir.root),
        "--base-url", llamacpp_openai_config.base_url, "--model", llamacpp_openai_config.model,
        "--prompt-template", "think-tags", "--max-tokens", "24", "--concurrency", "2", "-q",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600  # generous: the CI machine may be busy
    while _cache_rows(run_dir.cache_db) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    finished = _cache_rows(run_dir.cache_db)
    assert 2 <= finished < total
    assert not run_dir.traces.exists()
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    record = Manifest(run_dir.manifest).latest("generate")
    assert record["usage"]["cache_hits"] >= finished  # nothing finished before the kill was lost
    assert record["usage"]["requests_sent"] == total - record["usage"]["cache_hits"] < total
    rows = traces(run_dir)
    assert len(rows) == total and all(r["error"] is None for r in rows)
