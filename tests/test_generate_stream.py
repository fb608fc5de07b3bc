"""The streamed generate stage without a model: a response cache filled for the test, real SQLite and Parquet.

The teacher is an OpenAI-compatible endpoint on a port nothing listens on, so any request that reached the model
would come back as a connection error: "nothing was sent" is observed, not assumed.
"""

from __future__ import annotations

import socket

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts.atomic import write_parquet
from naturalthoughts.cli import main
from naturalthoughts.engines import ChatResult, OpenAIEngineConfig, ResponseCache, engine_identity
from naturalthoughts.errors import ConfigError, EngineFailure
from naturalthoughts.generate import GenerateConfig, GenerateEstimateStage, GenerateStage
from naturalthoughts.generate.plan import Job, build_plan
from naturalthoughts.manifest import Manifest
from naturalthoughts.progress import Reporter
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner, StageOutcome
from naturalthoughts.tables import QUESTIONS, TRACES


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_questions(run: RunDir, count: int) -> None:
    rows = [{"id": f"q{i:03d}", "question": f"What is {i} + {i}?", "source": "test"} for i in range(count)]
    write_parquet(pa.Table.from_pylist(rows, schema=QUESTIONS), run.questions)


def reply(job: Job) -> ChatResult:
    return ChatResult(
        text=f"<think>\nadd {job.question_id}\n</think>\n\n{job.sample}",
        finish_reason="stop",
        prompt_tokens=20,
        completion_tokens=8,
        latency_s=0.5,
    )


def fill_cache(run: RunDir, config: GenerateConfig) -> int:
    plan = build_plan(run, config, engine_identity)
    with ResponseCache(run.cache_db) as cache:
        for job in plan.jobs:
            cache.put(ResponseCache.key(plan.teacher, job.request), reply(job))
    return plan.total


@pytest.fixture
def config() -> GenerateConfig:
    engine = OpenAIEngineConfig(
        base_url=f"http://127.0.0.1:{closed_port()}/v1", model="m", api_key_env=None, max_retries=0, concurrency=2
    )
    return GenerateConfig(engine=engine, samples=2, chunk_size=3, progress=False)


def run_stage(run: RunDir, stage: GenerateStage | GenerateEstimateStage, force: bool = False) -> StageOutcome:
    with Runner(run, force=force, reporter=Reporter(mode="off")) as runner:
        return runner.run_stage(stage)


def test_chunks_stream_into_row_groups_from_the_cache(run_dir: RunDir, config: GenerateConfig) -> None:
    write_questions(run_dir, 10)
    assert fill_cache(run_dir, config) == 20
    outcome = run_stage(run_dir, GenerateStage(config))
    assert outcome.record["usage"]["requests_sent"] == 0 and outcome.record["usage"]["cache_hits"] == 20
    file = pq.ParquetFile(run_dir.traces)
    assert file.metadata.num_row_groups == 7  # 20 jobs, 3 at a time: written chunk by chunk
    table = file.read()
    assert table.schema.equals(TRACES, check_metadata=False)
    rows = table.to_pylist()
    assert [(r["question_id"], r["sample"]) for r in rows] == [(f"q{i:03d}", s) for i in range(10) for s in (0, 1)]
    assert all(r["complete"] and r["answer"] == str(r["sample"]) and r["completion_tokens"] == 8 for r in rows)
    assert outcome.result.counts == {**outcome.result.counts, "rows": 20, "complete": 20, "errors": 0}
    assert len(run_dir.traces_fingerprint()) == 32


def test_retry_keeps_rows_across_chunks_and_old_files(run_dir: RunDir, config: GenerateConfig) -> None:
    write_questions(run_dir, 10)
    fill_cache(run_dir, config)
    run_stage(run_dir, GenerateStage(config))
    first = pq.read_table(run_dir.traces)
    # An older traces.parquet (written before completion_tokens, forced, ... existed), one row group for all.
    old_columns = [name for name in first.column_names if name not in ("completion_tokens", "forced", "response_hash")]
    write_parquet(first.select(old_columns), run_dir.traces)
    write_questions(run_dir, 12)  # two new questions: no row yet, answered from the cache as usual
    fill_cache(run_dir, config)
    retry = config.model_copy(update={"retry": ["incomplete"], "chunk_size": 4})
    outcome = run_stage(run_dir, GenerateStage(retry))
    assert outcome.record["usage"]["requests_sent"] == 0
    assert outcome.record["retried_rows"] == 0
    after = pq.read_table(run_dir.traces).to_pylist()
    assert len(after) == 24
    kept = {(r["question_id"], r["sample"]): r for r in after[:20]}
    for row in first.to_pylist():
        expected = {**row, "completion_tokens": None, "forced": None, "response_hash": None}  # copied as it was
        assert kept[(row["question_id"], row["sample"])] == expected
    assert all(r["response_hash"] and r["complete"] for r in after[20:])


def test_total_failure_writes_the_rows_then_raises(run_dir: RunDir, config: GenerateConfig) -> None:
    write_questions(run_dir, 12)
    engine = config.engine.model_copy(update={"api_key_env": "NT_TEST_UNSET_KEY"})
    failing = config.model_copy(update={"engine": engine, "samples": 1, "chunk_size": 64})
    with pytest.raises(EngineFailure) as failure:
        run_stage(run_dir, GenerateStage(failing))
    message = str(failure.value)
    assert engine.base_url in message and "NT_TEST_UNSET_KEY is not set" in message
    assert "connect" in message.lower()  # the commonest error, as the client reported it
    rows = pq.read_table(run_dir.traces).to_pylist()
    assert len(rows) == 12 and all(r["error"] for r in rows)
    # Once 8 requests had all failed, nothing more was sent: the rest say why.
    unsent = [r for r in rows if r["finish_reason"] == "not_sent"]
    assert unsent and all("requests failed" in r["error"] for r in unsent)
    record = Manifest(run_dir.manifest).latest("generate")
    assert record["status"] == "failed" and engine.base_url in record["error"]


def test_total_failure_through_the_cli(run_dir: RunDir, config: GenerateConfig, capsys: pytest.CaptureFixture) -> None:
    write_questions(run_dir, 3)
    options = ["generate", "--run", str(run_dir.root), "--base-url", config.engine.base_url, "--model", "m", "-q"]
    with pytest.raises(SystemExit) as exit_info:
        main([*options, "--api-key-env", "NT_TEST_UNSET_KEY"])
    assert exit_info.value.code == 7
    err = capsys.readouterr().err
    assert "3 of 3 requests" in err and config.engine.base_url in err and "NT_TEST_UNSET_KEY" in err
    assert "Traceback" not in err
    assert pq.read_metadata(run_dir.traces).num_rows == 3  # written before the stage failed


def test_estimate_refusals(run_dir: RunDir, config: GenerateConfig) -> None:
    write_questions(run_dir, 4)
    with pytest.raises(ConfigError, match="at least 1 request"):
        run_stage(run_dir, GenerateEstimateStage(config, sample_size=0))
    with pytest.raises(EngineFailure, match="nothing to project from"):
        run_stage(run_dir, GenerateEstimateStage(config, sample_size=2))
    assert not run_dir.traces.exists()


def test_estimate_from_a_cached_pool_sends_nothing(run_dir: RunDir, config: GenerateConfig) -> None:
    write_questions(run_dir, 4)
    fill_cache(run_dir, config)
    estimate = run_stage(run_dir, GenerateEstimateStage(config, sample_size=3)).result.value
    assert (estimate.requests_total, estimate.requests_cached, estimate.sample_sent) == (8, 8, 0)
    assert estimate.requests_to_send == 0 and estimate.projected_cost_usd == 0
    assert estimate.mean_completion_tokens == 8 and estimate.sample_incomplete == 0
    assert len(Manifest(run_dir.manifest).records("generate-estimate")) == 1


def test_up_to_date_unless_something_that_changes_traces_changed(run_dir: RunDir, config: GenerateConfig) -> None:
    write_questions(run_dir, 2)
    fill_cache(run_dir, config)
    assert run_stage(run_dir, GenerateStage(config)).status == "done"
    assert run_stage(run_dir, GenerateStage(config.model_copy(update={"concurrency": 9}))).status == "up-to-date"
    seeded = config.model_copy(update={"seed": 3})
    fill_cache(run_dir, seeded)
    outcome = run_stage(run_dir, GenerateStage(seeded))
    assert (outcome.status, outcome.reason) == ("done", "config changed: seed")
