"""How the embedded engine lays its work on the CPU (servers, slots, threads), the CPU budget it reads, and its
deterministic mode: two seeded embedded generations give identical traces, also after a resume."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts.atomic import write_parquet
from naturalthoughts.engines import ChatRequest, LlamaCppEngine, LlamaCppEngineConfig, SamplingParams
from naturalthoughts.engines.llamacpp import _Pool, conversation_key, plan_servers
from naturalthoughts.generate import GenerateConfig, generate
from naturalthoughts.manifest import Manifest
from naturalthoughts.resources import CpuBudget, cgroup_quota, cpu_budget
from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import QUESTIONS

TWO = CpuBudget(2, "test")

DETERMINISTIC = (
    "deterministic (one slot a server; no prompt cache but a trace's own reasoning, which its answer continues)"
)


@pytest.mark.parametrize(
    ("config", "budget", "slots", "threads"),
    [
        (LlamaCppEngineConfig(), TWO, (2, 2), 1),  # the default on a 2-core laptop: a single-threaded server a core
        (LlamaCppEngineConfig(), CpuBudget(1, "test"), (4,), 1),
        (LlamaCppEngineConfig(), CpuBudget(8, "test"), (1, 1, 1, 1), 1),  # never more servers than slots
        (LlamaCppEngineConfig(n_parallel=5), TWO, (3, 2), 1),
        (LlamaCppEngineConfig(n_threads=2), TWO, (4,), 2),  # the old layout, by hand
        (LlamaCppEngineConfig(servers=3), TWO, (2, 1, 1), 1),
        (LlamaCppEngineConfig(deterministic=True), TWO, (1, 1), 1),  # one slot a server
        (LlamaCppEngineConfig(deterministic=True, n_parallel=1), CpuBudget(4, "test"), (1,), 1),
    ],
)
def test_layout_from_the_cpu_budget(
    config: LlamaCppEngineConfig, budget: CpuBudget, slots: tuple, threads: int
) -> None:
    plan = plan_servers(config, budget)
    assert plan.slots == slots and plan.threads == threads
    assert plan.slot_ctx == config.n_ctx // config.n_parallel  # a request's context does not depend on the layout
    described = plan.describe()
    assert f"{plan.servers} server" in described and "no busy-wait" in described and "cores usable" in described
    assert ("no prompt cache" in described) == bool(config.deterministic)


def test_seed_turns_deterministic_mode_on_unless_the_config_says() -> None:
    assert LlamaCppEngineConfig().for_seed(7).deterministic is True
    assert LlamaCppEngineConfig().for_seed(None).deterministic is False
    assert LlamaCppEngineConfig(deterministic=False).for_seed(7).deterministic is False
    assert LlamaCppEngineConfig(deterministic=True).for_seed(None).deterministic is True


def test_doctor_says_the_layout_the_default_run_chooses_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from naturalthoughts.doctor import _cpu

    monkeypatch.setenv("NT_CPUS", "1")
    detail = _cpu().detail
    assert detail.startswith("the default run (seed 0): llama.cpp: 1 server x 1 thread, 1 slot each"), detail
    assert DETERMINISTIC in detail  # the default generation is seeded
    assert "1 cores usable (NT_CPUS" in detail and "one single-threaded server per core" in detail
    assert "torch" in detail


def test_requests_go_to_their_conversations_server_while_it_has_a_free_slot() -> None:
    pool = _Pool([None, None], (1, 1))  # type: ignore[list-item]  # routing only: no session is used
    request = ChatRequest(messages=({"role": "user", "content": "q"},), params=SamplingParams())
    answer_phase = ChatRequest(messages=request.messages, params=SamplingParams(), prefill="<think>\nr\n</think>")
    assert conversation_key(answer_phase) == conversation_key(request)
    home = pool.take(request)
    assert home == conversation_key(request) % 2
    assert pool.take(answer_phase) == 1 - home  # its home is full: the free server
    pool.release(home)
    assert pool.take(answer_phase) == home


def test_cgroup_quota_v1_v2_and_none(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("0::/job\n")
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / "cpu.max").write_text("150000 100000\n")
    assert cgroup_quota(tmp_path, proc) == 1.5
    (tmp_path / "job" / "cpu.max").write_text("max 100000\n")
    assert cgroup_quota(tmp_path, proc) is None
    proc.write_text("4:memory:/x\n2:cpu,cpuacct:/box\n")
    (tmp_path / "cpu" / "box").mkdir(parents=True)
    (tmp_path / "cpu" / "box" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "box" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_quota(tmp_path, proc) == 1.0
    (tmp_path / "cpu" / "box" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_quota(tmp_path, proc) is None
    assert cgroup_quota(tmp_path, tmp_path / "missing") is None


def test_cpu_budget_reads_the_affinity_mask_and_the_override(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.delenv("NT_CPUS", raising=False)
    budget = cpu_budget()
    assert 1 <= budget.cores <= len(os.sched_getaffinity(0)) and "affinity mask" in budget.why
    monkeypatch.setenv("NT_CPUS", "1")
    assert cpu_budget() == CpuBudget(1, "NT_CPUS=1")


# ---- deterministic mode ----------------------------------------------------------------------------------------

QUESTIONS_TEXT = ["Why is the sky blue?", "What is 17 times 3?", "Name a prime number above 50.", "Why do cats purr?"]


def _pool(root: Path) -> RunDir:
    run = RunDir(root).ensure()
    rows = [{"id": f"q{i}", "question": text, "source": "test"} for i, text in enumerate(QUESTIONS_TEXT)]
    write_parquet(pa.Table.from_pylist(rows, schema=QUESTIONS), run.questions)
    return run


def _trace_bytes(run: RunDir) -> list[dict]:
    """Every column a reader compares, the seconds each request took aside."""
    return [{k: v for k, v in row.items() if k != "latency_s"} for row in pq.read_table(run.traces).to_pylist()]


@pytest.mark.slow
def test_seeded_embedded_generations_are_identical_across_runs_and_after_a_resume(tmp_path: Path) -> None:
    # The embedded default (bundled model, default layout and thinking budget), sampled at temperature 1 with a seed.
    config = GenerateConfig(seed=11, temperature=1.0, progress=False)
    first, second, resumed = (_pool(tmp_path / name) for name in ("first", "second", "resumed"))
    generate(first, config)
    generate(second, config)  # its own cache: everything is generated again
    rows = _trace_bytes(first)
    assert len(rows) == len(QUESTIONS_TEXT) and all(row["error"] is None for row in rows)
    assert _trace_bytes(second) == rows
    # A run stopped by a token budget part way (some phases cached, the rest not sent), then resumed.
    stopped = generate(resumed, config.model_copy(update={"max_total_tokens": 900}))
    assert stopped.stopped, "the budget must stop the first attempt part way for this test to show a resume"
    generate(resumed, config)
    record = Manifest(resumed.manifest).latest("generate")
    assert record["usage"]["cache_hits"] > 0 and record["usage"]["requests_sent"] > 0
    assert _trace_bytes(resumed) == rows
    log = (first.root / "logs" / "nt.log").read_text()
    assert DETERMINISTIC in log and "cores usable" in log


def test_embedded_engine_serves_from_every_server(tmp_path: Path) -> None:
    engine = LlamaCppEngine(LlamaCppEngineConfig(servers=2, n_parallel=2, n_ctx=1024))
    try:
        assert len(engine.server_urls) == 2 and engine.plan.slots == (1, 1)
        requests = [
            ChatRequest(messages=({"role": "user", "content": f"Say {word}."},), params=SamplingParams(max_tokens=8))
            for word in ("one", "two", "three", "four")
        ]
        results = engine.generate(requests)
        assert all(result.ok and result.completion_tokens for result in results)
    finally:
        engine.close()
