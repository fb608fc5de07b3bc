"""Paired differences in the study table and the report: the study-table stage on real samples.parquet files of a
2-selection x 2-seed grid, checked against an independent pandas computation, marked beyond 2 SE, and shown in the
report's study and evaluation sections."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts.eval.summary import summarise
from naturalthoughts.report import build_report
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner
from naturalthoughts.study.config import StudyGrid
from naturalthoughts.study.grid import expand
from naturalthoughts.study.results import PAIRED_CSV, TABLE_MD, read_paired, study_dir, study_pairs
from naturalthoughts.study.stage import StudyTableStage
from naturalthoughts.tables import EVAL_SAMPLES

ITEMS = 120


def samples(model: str, correct: np.ndarray, answered: np.ndarray) -> list[dict[str, Any]]:
    return [
        {"model": model, "benchmark": "reasoning_gym", "subset": "gcd", "mode": "think", "budget": 64,
         "item_id": f"q{i}", "seed": 0, "correct": bool(c and a), "extracted": "7" if a else None, "valid": True,
         "error": None, "extraction": "answer-tag" if a else None, "finish_reason": "stop", "forced": False,
         "contaminated": False, "reasoning_tokens": 30, "answer_tokens": 3, "guess_correct": None}
        for i, (c, a) in enumerate(zip(correct, answered, strict=True))
    ]  # fmt: skip


def write_eval(run: RunDir, model: str, records: list[dict[str, Any]]) -> None:
    folder = run.eval_dir / model
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(records, schema=EVAL_SAMPLES), folder / "samples.parquet")
    pq.write_table(summarise(records), folder / "summary.parquet")


@pytest.fixture
def study_run(tmp_path: Path) -> tuple[RunDir, StudyGrid, dict[str, list[dict[str, Any]]]]:
    """The base answers 45% of the items; 'verified' answers nearly all and is right more often (a real effect),
    'random' answers more than the base but is right no more often among answered ones."""
    run = RunDir(tmp_path / "run").ensure()
    grid = StudyGrid(selections=[{"label": "random", "method": "random"}, {"label": "verified", "method":
                     "filter:correct>random"}], sizes=[40], seeds=[0, 1], name="t")  # fmt: skip
    rng = np.random.default_rng(7)
    easy = rng.uniform(0.1, 0.9, ITEMS)
    written = {"base": samples("base", rng.uniform(size=ITEMS) < easy, rng.uniform(size=ITEMS) < 0.45)}
    for cell in expand(grid):
        skill, answers = (0.15, 0.95) if cell.selection.label == "verified" else (0.0, 0.7)
        correct = rng.uniform(size=ITEMS) < np.minimum(easy + skill, 1.0)
        written[cell.name] = samples(cell.name, correct, rng.uniform(size=ITEMS) < answers)
    for model, records in written.items():
        write_eval(run, model, records)
    return run, grid, written


def test_the_study_table_pairs_groups_seed_by_seed_and_marks_differences_beyond_2_se(
    study_run: tuple[RunDir, StudyGrid, dict[str, list[dict[str, Any]]]],
) -> None:
    run, grid, written = study_run
    Runner(run).run_stage(StudyTableStage(grid))
    folder = study_dir(run, "t")
    paired = {(c.result.a, c.result.b): c.result for c in read_paired(folder / PAIRED_CSV)}
    assert set(paired) == {("base", "random-40-none"), ("base", "verified-40-none"),
                           ("random-40-none", "verified-40-none")}  # fmt: skip
    # independently, with pandas: per item, the mean over the two training seeds of (verified_s - random_s)
    frames = {name: pd.DataFrame(records).set_index("item_id")["correct"].astype(float)
              for name, records in written.items()}  # fmt: skip
    per_item = sum(frames[f"verified-40-none-s{s}"] - frames[f"random-40-none-s{s}"] for s in (0, 1)) / 2
    vs_random = paired[("random-40-none", "verified-40-none")]
    assert vs_random.items == ITEMS and vs_random.samples == 2 * ITEMS
    assert vs_random.difference == pytest.approx(per_item.mean())
    assert vs_random.stderr == pytest.approx(per_item.std(ddof=1) / math.sqrt(ITEMS))
    vs_base_items = sum(frames[f"verified-40-none-s{s}"] - frames["base"] for s in (0, 1)) / 2
    vs_base = paired[("base", "verified-40-none")]
    assert vs_base.difference == pytest.approx(vs_base_items.mean())
    assert vs_base.significant and vs_base.difference > 2 * vs_base.stderr
    base_answered = pd.DataFrame(written["base"])["extracted"].notna()
    assert vs_base.no_answer_a == pytest.approx(1 - base_answered.mean())
    text = (folder / TABLE_MD).read_text()
    assert "## Paired differences" in text
    line = next(row for row in text.splitlines() if "| base | verified-40-none |" in row)
    assert f"{100 * vs_base.difference:+.1f} ± {100 * vs_base.stderr:.1f} *" in line
    unmarked = [c for c in paired.values() if not c.significant]
    for c in unmarked:
        row = next(r for r in text.splitlines() if f"| {c.a} | {c.b} |" in r)
        assert f"± {100 * c.stderr:.1f} |" in row, "only differences beyond 2 SE carry the mark"
    page = build_report(run)
    assert page["section_errors"] == {}
    html = run.report.read_text(encoding="utf-8")
    study = html[html.index('<section id="study">') :].split("</section>")[0]
    assert "paired differences" in study and f"{100 * vs_base.difference:+.1f} ± {100 * vs_base.stderr:.1f} *" in study
    evaluation = html[html.index('<section id="evaluation">') :].split("</section>")[0]
    assert "Paired differences between models" in evaluation and "<td>base</td>" in evaluation


def test_study_pairs_are_base_against_each_group_and_groups_one_dimension_apart() -> None:
    grid = StudyGrid(selections=[{"label": "random", "method": "random"}, {"label": "nt", "method": "disagree"}],
                     sizes=[10, 20], mixes=["none", "difficulty"], seeds=[0])  # fmt: skip
    names = [("base", None), *list({cell.group.name: cell.group for cell in expand(grid)}.items())]
    pairs = study_pairs(names)
    assert len([p for p in pairs if p[0] == "base"]) == 8
    between = [p for p in pairs if p[0] != "base"]
    assert ("random-10-none", "nt-10-none") in between and ("random-10-none", "random-20-none") in between
    assert ("random-10-none", "nt-20-none") not in between  # two dimensions apart
    assert len(between) == 12  # a cube's edges: 8 groups, 3 neighbours each, counted once
