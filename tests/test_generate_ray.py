"""``executor: ray`` on a local Ray instance with the embedded llama.cpp engine (one server per Ray actor)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts.atomic import write_parquet
from naturalthoughts.engines import LlamaCppEngineConfig
from naturalthoughts.generate import GenerateConfig, RayOptions, generate
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import QUESTIONS

ray = pytest.importorskip("ray", reason="ray[data] is an optional extra")


@pytest.mark.slow
def test_ray_executor_matches_local_cache_semantics(run_dir: RunDir) -> None:
    questions = ["What is 1 + 1?", "Name a primary colour.", "Is 9 odd?", "What is 10 / 2?"]
    rows = [{"id": f"q{i}", "question": q, "source": "test"} for i, q in enumerate(questions)]
    write_parquet(pa.Table.from_pylist(rows, schema=QUESTIONS), run_dir.questions)
    engine = LlamaCppEngineConfig(n_parallel=2, n_ctx=1024, n_threads=1, timeout_s=120)
    config = GenerateConfig(
        engine=engine,
        max_tokens=16,
        progress=False,
        executor="ray",
        ray=RayOptions(workers=2, batch_size=2, num_cpus_per_worker=1, num_cpus_local=2),
    )
    result = generate(run_dir, config, quiet=True)
    assert not ray.is_initialized()  # the executor shut down the local instance it started
    traces = pq.read_table(run_dir.traces).to_pylist()
    assert [t["question_id"] for t in traces] == ["q0", "q1", "q2", "q3"]
    assert all(t["error"] is None and t["prompt_tokens"] for t in traces)
    # The bundled model runs under its default thinking budget: every trace took a reasoning request and an answer
    # request pre-filled with that reasoning (so the prefill survived the trip through Ray); an empty reasoning is
    # extended with "Wait" up to twice.
    assert any(t["forced"] for t in traces) and all(t["answer_phase_tokens"] is not None for t in traces)
    assert 2 * 4 <= result.usage["requests_sent"] <= 4 * 4 and result.usage["cache_hits"] == 0

    # The executor cannot change the traces, so the stage is up to date; forced, the local executor answers
    # everything from the cache the driver filled, without starting an engine.
    assert generate(run_dir, config.model_copy(update={"executor": "local"}), quiet=True).status == "up-to-date"
    local = generate(run_dir, config.model_copy(update={"executor": "local"}), quiet=True, force=True)
    assert local.usage == {**local.usage, "requests_sent": 0, "cache_hits": 4}
    assert pq.read_table(run_dir.traces).to_pylist() == traces
    records = Manifest(run_dir.manifest).records("generate")
    assert [(r["config"]["executor"], r["status"]) for r in records] == [("ray", "done"), ("local", "done")]
