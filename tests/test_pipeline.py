"""`nt run` through the stage runner, end to end on the real embedded engine: every stage's output and manifest
record, a second run that does no work, and reruns of exactly the stages a change touches."""

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
  - {{method: "filter:all>random", size: 4, name: rand4, allow_smaller: true}}
  - {{method: "filter:all>length(mode=longest)", size: 3, name: longest3}}
"""
ENV = {**os.environ, "COLUMNS": "200", "NT_PROGRESS": "lines"}


def _write_questions(path: Path) -> None:
    rows = [
        {"question": "What is 17 multiplied by 3?", "reference_answer": "51"},
        {"question": "Name the capital city of France.", "reference_answer": "Paris"},
        {"question": "Why does ice float on liquid water? Explain briefly.", "reference_answer": ""},
        {
            "question": "A train covers 120 km in 1.5 hours. What is its average speed in km/h?",
            "reference_answer": "80",
        },
        {"question": "Is 91 a prime number? Justify.", "reference_answer": "No"},
        {"question": "Convert 3/8 to a decimal.", "reference_answer": "0.375"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _nt_run(config: Path, run: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "naturalthoughts", "run", str(config), "--run", str(run), *extra],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _records(run: Path) -> dict[str, list[dict]]:
    return json.loads((run / "manifest.json").read_text())["stages"]


def _ran(before: dict[str, list[dict]], after: dict[str, list[dict]]) -> set[str]:
    """The stage keys that got a new record between two manifests."""
    return {key for key, records in after.items() if len(records) > len(before.get(key, []))}


@pytest.fixture
def pipeline(tmp_path: Path) -> tuple[Path, Path]:
    questions = tmp_path / "pool.jsonl"
    _write_questions(questions)
    config = tmp_path / "pipeline.yaml"
    config.write_text(PIPELINE_YAML.format(questions=questions), encoding="utf-8")
    return config, tmp_path / "run"


@pytest.mark.slow
def test_nt_run_skips_what_is_up_to_date_and_reruns_what_changed(pipeline: tuple[Path, Path]) -> None:
    config, run = pipeline
    _nt_run(config, run)
    traces = pd.read_parquet(run / "traces.parquet")
    assert len(traces) == 6 and traces["question_id"].nunique() == 6
    annotations = pd.read_parquet(run / "annotations.parquet")
    assert set(annotations["trace_id"]) == set(traces["trace_id"])
    assert annotations["domain"].notna().all()
    assert len(pd.read_parquet(run / "embeddings.parquet")) == 6
    assert len(pd.read_parquet(run / "selections" / "rand4.parquet")) == 4
    assert len(pd.read_parquet(run / "selections" / "longest3.parquet")) == 3
    first = _records(run)
    keys = ["ingest", "generate", "annotate", "select:rand4", "select:longest3", "report"]
    for key in keys:
        assert [r["status"] for r in first[key]] == ["done"], key
    # Under the bundled model's default thinking budget every trace takes a reasoning and an answer request (an
    # empty reasoning is extended with "Wait" up to twice).
    assert 2 * 6 <= first["generate"][0]["usage"]["requests_sent"] <= 4 * 6

    # A second run of the same config does no work and says so.
    again = _nt_run(config, run)
    assert _ran(first, _records(run)) == set()
    assert again.stdout.count("up-to-date") >= len(keys)

    # Deleting one stage's output reruns that stage and the stages after it that read it, nothing before it.
    (run / "annotations.parquet").unlink()
    before = _records(run)
    _nt_run(config, run)
    # (rand4 is `filter:all>random`: it reads no annotation, so it stays up to date.)
    assert _ran(before, _records(run)) == {"annotate", "select:longest3", "report"}

    # Changing one stage's config reruns only that stage (and what reads its output).
    config.write_text(config.read_text().replace("size: 3, name: longest3", "size: 2, name: longest3"))
    before = _records(run)
    _nt_run(config, run)
    assert _ran(before, _records(run)) == {"select:longest3", "report"}
    assert len(pd.read_parquet(run / "selections" / "longest3.parquet")) == 2
    reason = _records(run)["select:longest3"][-1]["reason"]
    assert reason.startswith("config changed") and "size" in reason


@pytest.mark.parametrize(
    ("expression", "named"),
    [("filter:all>no_such_method", "no_such_method"), ("filter:all>verbosity", "level: Field required")],
    ids=["unknown method", "missing parameter of a named selection"],
)
def test_a_bad_selection_fails_before_any_stage_runs(pipeline: tuple[Path, Path], expression: str, named: str) -> None:
    config, run = pipeline
    config.write_text(config.read_text().replace('"filter:all>random"', f'"{expression}"'))
    proc = subprocess.run(
        [sys.executable, "-m", "naturalthoughts", "run", str(config), "--run", str(run)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert named in proc.stderr and "Traceback" not in proc.stderr
    assert not (run / "questions.parquet").exists()  # nothing ran


def test_default_config_is_valid() -> None:
    cfg = load_pipeline_config(None, run_dir="somewhere")
    assert cfg.run_dir == "somewhere"
    assert all(str(s).startswith("reasoning-gym:") for s in cfg.sources)  # a verifiable pool
    assert cfg.generate.engine.engine == "llamacpp"
    assert cfg.select, "the default run writes selections"
    assert default_config_path().exists()


def test_pipeline_config_rejects_unknown_stage_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("generate:\n  temprature: 0.2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"generate\.temprature"):
        load_config(PipelineConfig, bad)


def test_two_selections_with_one_name_are_refused(tmp_path: Path) -> None:
    from naturalthoughts.pipeline import pipeline_stages

    bad = tmp_path / "twice.yaml"
    bad.write_text("select:\n  - {method: random, size: 2, name: a}\n  - {method: topic, size: 2, name: a}\n")
    with pytest.raises(ConfigError, match="select:a"):
        pipeline_stages(load_pipeline_config(bad))
