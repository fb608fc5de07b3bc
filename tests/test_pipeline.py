"""`nt run`: every built stage in order, end to end, on the real embedded engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from naturalthoughts.config import load_config
from naturalthoughts.errors import ConfigError
from naturalthoughts.pipeline import PipelineConfig, default_config_path, load_pipeline_config

PIPELINE_YAML = """
sources:
  - {questions}
generate:
  engine: {{engine: llamacpp, n_parallel: 4, n_ctx: 2048}}
  max_tokens: 24
annotate:
  annotators: [length, domain, strategies, verbosity, correctness, embeddings]
  correctness: {{use_judge: false}}
  length: {{tokenizer: approx}}
select:
  - {{method: random, size: 4, name: rand4, allow_smaller: true}}
  - {{method: "filter:all>length(mode=longest)", size: 3, name: longest3}}
"""


def _write_questions(path: Path) -> None:
    rows = [
        {"question": "What is 17 multiplied by 3?", "reference_answer": "51"},
        {"question": "Name the capital city of France.", "reference_answer": "Paris"},
        {"question": "Why does ice float on liquid water? Explain briefly.", "reference_answer": ""},
        {"question": "A train covers 120 km in 1.5 hours. What is its average speed in km/h?",
         "reference_answer": "80"},
        {"question": "Is 91 a prime number? Justify.", "reference_answer": "No"},
        {"question": "Convert 3/8 to a decimal.", "reference_answer": "0.375"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.slow
def test_nt_run_runs_every_built_stage(tmp_path: Path) -> None:
    questions = tmp_path / "pool.jsonl"
    _write_questions(questions)
    config = tmp_path / "pipeline.yaml"
    config.write_text(PIPELINE_YAML.format(questions=questions), encoding="utf-8")
    run = tmp_path / "run"
    env = {**os.environ, "COLUMNS": "160"}
    proc = subprocess.run(
        [sys.executable, "-m", "naturalthoughts", "run", str(config), "--run", str(run)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "not built yet" in proc.stdout

    traces = pd.read_parquet(run / "traces.parquet")
    assert len(traces) == 6 and traces["question_id"].nunique() == 6
    annotations = pd.read_parquet(run / "annotations.parquet")
    assert set(annotations["trace_id"]) == set(traces["trace_id"])
    assert annotations["domain"].notna().all()
    assert len(pd.read_parquet(run / "embeddings.parquet")) == 6
    complete = int(traces["complete"].sum())
    assert len(pd.read_parquet(run / "selections" / "rand4.parquet")) == min(4, complete)
    longest = pd.read_parquet(run / "selections" / "longest3.parquet")
    assert len(longest) == 3

    manifest = json.loads((run / "manifest.json").read_text())
    stages = manifest["stages"]
    for stage in ("ingest", "generate", "annotate", "select:rand4", "select:longest3"):
        assert stages[stage][-1]["status"] == "ok", stage
    assert stages["generate"][-1]["usage"]["requests_sent"] == 6

    # A second run resumes: every model response comes from the cache.
    again = subprocess.run(
        [sys.executable, "-m", "naturalthoughts", "run", str(config), "--run", str(run)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    usage = json.loads((run / "manifest.json").read_text())["stages"]["generate"][-1]["usage"]
    assert usage["requests_sent"] == 0 and usage["cache_hits"] == 6


def test_default_config_is_valid() -> None:
    cfg = load_pipeline_config(None, run_dir="somewhere")
    assert cfg.run_dir == "somewhere"
    assert cfg.sources == ["builtin:sample"]
    assert cfg.generate.engine.engine == "llamacpp"
    assert cfg.select, "the default run writes selections"
    assert default_config_path().exists()


def test_pipeline_config_rejects_unknown_stage_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("generate:\n  temprature: 0.2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"generate\.temprature"):
        load_config(PipelineConfig, bad)
