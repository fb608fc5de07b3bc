"""The report's SFT data and training sections, from the real sft-data and train stages (TRL on the tiny Llama)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from naturalthoughts.progress import quiet_reporter
from naturalthoughts.report import ReportStage
from naturalthoughts.report.synthetic import write_synthetic_run
from naturalthoughts.runner import Runner
from naturalthoughts.sft import SftDataConfig, SftDataStage
from naturalthoughts.train import TrainConfig, TrainStage

FAST = {"logging_steps": 1, "save_steps": 50, "tokens_per_step": 512, "tokens_per_micro_batch": 512,
        "max_length": 512, "max_steps": 3}  # fmt: skip


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}">')
    return html[start : html.index("</section>", start)]


@pytest.mark.slow
def test_sft_mix_and_loss_curves_in_the_report(tmp_path: Path, tiny_llama_dir: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", n=40, text_words=8)
    student = str(tiny_llama_dir)
    sft_stages = [SftDataStage(SftDataConfig(mix=mix, max_length=512, student=student), selection="random-10")
                  for mix in ("none", "random:0.5")]  # fmt: skip
    train = TrainStage(TrainConfig(preset="cpu-demo", student=student, **FAST), sft=sft_stages[1].args["name"])
    with Runner(run, reporter=quiet_reporter()) as runner:
        runner.run_all([*sft_stages, train])
        outcome = runner.run_stage(ReportStage())
    info = outcome.value
    assert info["section_errors"] == {} and not {"sft", "training"} & set(info["not_run"])
    html = run.report.read_text(encoding="utf-8")

    sft = _section(html, "sft")
    for stage in sft_stages:
        meta = json.loads((run.sft_dir / stage.args["name"] / "meta.json").read_text())
        assert stage.args["name"] in sft and f"{100 * meta['shares']['system2']:.1f}%" in sft
    assert "100.0%" in sft and sft.count("<svg") == 1  # the pure System-2 data, and the mix plot

    training = _section(html, "training")
    loss = pq.read_table(run.models_dir / train.args["name"] / "loss.parquet")
    assert loss.num_rows == 3 and train.args["name"] in training
    assert training.count("<svg") == 1 and "Training loss" in training
    assert "polyline" in training or "<path" in training  # the curve is drawn
    assert outcome.record["inputs"].keys() >= {f"models/{train.args['name']}/loss.parquet",
                                               f"sft/{sft_stages[0].args['name']}/meta.json"}  # fmt: skip
