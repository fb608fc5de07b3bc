"""An evaluation resumes per sample: each sample's record is kept the moment it finishes, and a rerun after a kill
does only the samples that are missing. On a real tiny transformers student, through real SQLite and Parquet."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from naturalthoughts.engines import CachedEngine, ChatRequest, ChatResult, ResponseCache, SamplingParams
from naturalthoughts.engines.chat_template import render_prompt
from naturalthoughts.engines.config import TransformersEngineConfig
from naturalthoughts.engines.transformers_local import TransformersEngine
from naturalthoughts.eval.resume import PARTIAL

NT = [sys.executable, "-m", "naturalthoughts"]
ENV = {**os.environ, "COLUMNS": "200", "NT_PROGRESS": "lines"}
MAX_TOKENS = 24


def _requests() -> list[ChatRequest]:
    greedy = SamplingParams(temperature=0.0, max_tokens=MAX_TOKENS)
    topics = ("the sea", "prime numbers", "a red bicycle", "the moon landing")
    return [ChatRequest(messages=({"role": "user", "content": f"Tell me about {t}."},), params=greedy) for t in topics]


def _an_early_end(engine: TransformersEngine, requests: list[ChatRequest]) -> tuple[int, int]:
    """A token that one sequence generates early and another never does, and that sequence's row: made the end
    token, it ends one sequence of the batch while another runs to max_tokens."""
    import torch

    prompts = [render_prompt(engine.tokenizer, request) for request in requests]
    inputs = engine.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        output = engine.model.generate(
            **inputs, max_new_tokens=MAX_TOKENS, do_sample=False, pad_token_id=engine.tokenizer.pad_token_id
        )
    rows = output[:, inputs["input_ids"].shape[1] :].tolist()
    for row, tokens in enumerate(rows):
        for token in tokens[2:8]:
            if any(token not in other for other in rows) and token not in tokens[:2]:
                return token, row
    raise AssertionError(f"no token ends one sequence early but not all: {rows}")


def test_a_batch_hands_over_each_sequence_the_step_it_ends(tiny_llama_dir: Path, tmp_path: Path) -> None:
    engine = TransformersEngine(TransformersEngineConfig(model=str(tiny_llama_dir), batch_size=4, dtype="float32"))
    requests = _requests()
    end, early_row = _an_early_end(engine, requests)
    engine.model.generation_config.eos_token_id = end
    engine._end_ids = {end, engine.tokenizer.pad_token_id}
    uninterrupted = engine.answer_batch(requests)
    assert uninterrupted[early_row].finish_reason == "stop"
    assert any(result.finish_reason == "length" for result in uninterrupted)

    # A kill right after the first sequence ended (here: the first result's callback raises): its reply is in the
    # cache already, the rest of the batch is not.
    class Killed(BaseException):
        pass

    def kill(index: int, result: ChatResult) -> None:
        raise Killed

    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        cached = CachedEngine(TransformersEngineConfig(model=str(tiny_llama_dir), batch_size=4), cache)
        cached._inner = engine  # the engine loaded above, with its end token
        with pytest.raises(Killed):
            cached.generate(requests, on_result=kill)
        assert len(cache) == 1
        rerun = CachedEngine(cached.config, cache)
        rerun._inner = engine
        results = rerun.generate(requests)
    assert (rerun.stats.cache_hits, rerun.stats.requests_sent) == (1, len(requests) - 1)
    assert [(r.text, r.finish_reason, r.completion_tokens) for r in results] == [
        (r.text, r.finish_reason, r.completion_tokens) for r in uninterrupted
    ]
    assert results[early_row].cached


def _eval(run: Path, model: Path, config: Path) -> list[str]:
    return [*NT, "eval", "--model", str(model), "--name", "student", "--run", str(run), "--config", str(config),
            "--bench", "gsm8k", "--limit", "6", "--max-tokens", "48", "--mode", "no-think", "-q"]  # fmt: skip


def _kept(folder: Path) -> int:
    path = folder / PARTIAL
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _rows(folder: Path) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k != "latency_s"}
        for row in pq.read_table(folder / "samples.parquet").to_pylist()
    ]


@pytest.mark.slow
def test_a_killed_evaluation_keeps_finished_samples_and_the_rerun_does_only_the_rest(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text("concurrency: 1\n")  # one sample at a time: each finishes on its own
    reference = tmp_path / "reference"
    assert subprocess.run(_eval(reference, tiny_llama_dir, config), env=ENV, timeout=900).returncode == 0

    run = tmp_path / "run"
    folder = run / "eval" / "student"
    proc = subprocess.Popen(_eval(run, tiny_llama_dir, config), env=ENV, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while _kept(folder) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the evaluation finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    kept = _kept(folder)
    assert 2 <= kept < 6 and not (folder / "samples.parquet").exists()

    rerun = subprocess.run(_eval(run, tiny_llama_dir, config), env=ENV, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    killed, record = json.loads((run / "manifest.json").read_text())["stages"]["eval:student"][-2:]
    # The killed run's requests are on record (the spend ledger), in flight included.
    assert killed["status"] == "killed" and killed["usage"]["requests_sent"] >= kept
    assert record["counts"]["resumed"] == kept  # the kept records were not done again...
    usage = record["usage"]
    # ...and only the rest reached the model (a reply cached in the instant before the kill is a cache hit).
    assert usage["requests_sent"] + usage["cache_hits"] == 6 - kept and usage["cache_hits"] <= 1
    assert not (folder / PARTIAL).exists()  # samples.parquet holds every record now
    assert _rows(folder) == _rows(reference / "eval" / "student")


def test_kept_records_belong_to_one_model_config_and_question(tmp_path: Path) -> None:
    """A kept record is reused only by the same evaluation of the same model: a retrained student (a new engine
    identity), another judge, or an edited item (same id, another question or gold answer) is done again."""
    from dataclasses import replace

    from naturalthoughts.eval.config import EvalConfig
    from naturalthoughts.eval.plan import build_plan
    from naturalthoughts.eval.resume import FinishedRecords

    samples = build_plan(EvalConfig(benchmarks=["gsm8k"], limit=2, modes=["no-think"])).samples
    row = {"correct": True}
    records = FinishedRecords(tmp_path, "config", ("model@1", None))
    for sample in samples:
        records.put(sample, row)
    records.close()
    assert all(FinishedRecords(tmp_path, "config", ("model@1", None)).finished(s) == row for s in samples)
    edited = replace(samples[0], item=replace(samples[0].item, answer="another answer"))
    assert FinishedRecords(tmp_path, "config", ("model@1", None)).finished(edited) is None
    asked = replace(samples[1].request, messages=({"role": "user", "content": "another question"},))
    assert FinishedRecords(tmp_path, "config", ("model@1", None)).finished(replace(samples[1], request=asked)) is None
    assert FinishedRecords(tmp_path, "config", ("model@2", None)).finished(samples[0]) is None  # retrained
    assert FinishedRecords(tmp_path, "config", ("model@1", "judge")).finished(samples[0]) is None
