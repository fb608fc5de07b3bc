"""Paired statistics (naturalthoughts.stats): hand-computed values, scipy where a reference exists, an independent
numpy bootstrap on the same records, and `nt eval compare` on real samples.parquet files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.stats

from naturalthoughts import stats
from naturalthoughts.cli import main
from naturalthoughts.eval.summary import summarise
from naturalthoughts.tables import EVAL_SAMPLES


def record(model: str, item: str, correct: bool | None, seed: int = 0, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": model, "benchmark": "reasoning_gym", "subset": "gcd", "mode": "think", "budget": 64,
        "item_id": item, "seed": seed, "correct": correct, "extracted": "1" if correct else "2", "valid": True,
        "error": None, "extraction": "answer-tag", "finish_reason": "stop", "forced": False, "contaminated": False,
        "reasoning_tokens": 10, "answer_tokens": 2, "guess_correct": None,
    }  # fmt: skip
    base.update(values)
    return base


def test_clustered_standard_error_by_hand_and_against_scipy() -> None:
    # mean 0.75; residual sums per item: a: 0.25 - 0.75 = -0.5, b: 0.25, c: 0.25 -> 0.375 squared;
    # C/(C-1) = 1.5 -> variance 1.5 * 0.375 / 4^2 = 0.03515625, SE 0.1875
    estimate = stats.clustered_mean([1, 0, 1, 1], ["a", "a", "b", "c"])
    assert (estimate.mean, estimate.samples, estimate.clusters) == (0.75, 4, 3)
    assert estimate.stderr == pytest.approx(0.1875)
    values = [1, 0, 0, 1, 1, 1, 0, 1]
    assert stats.clustered_mean(values).stderr == pytest.approx(scipy.stats.sem(values))  # one sample per item
    # equal cluster sizes: the standard deviation of the item means over sqrt(items)
    rng = np.random.default_rng(3)
    draws = rng.integers(0, 2, size=(50, 4)).astype(float)
    clustered = stats.clustered_mean(draws.ravel(), np.repeat(np.arange(50), 4))
    assert clustered.stderr == pytest.approx(scipy.stats.sem(draws.mean(axis=1)))
    assert stats.clustered_mean([1.0]).stderr is None


def test_paired_difference_by_hand_and_against_scipys_paired_t() -> None:
    a = [True, False, False, True, False]
    b = [True, True, False, True, True]
    records_a = [record("base", str(i), c) for i, c in enumerate(a)]
    records_b = [record("student", str(i), c) for i, c in enumerate(b)]
    d = stats.compare(stats.pair(records_a, records_b), "base", "student", resamples=0)
    assert d is not None
    assert (d.accuracy_a, d.accuracy_b, d.difference) == (pytest.approx(0.4), pytest.approx(0.8), pytest.approx(0.4))
    # differences 0,1,0,0,1: variance 0.3, SE sqrt(0.3 / 5)
    assert d.stderr == pytest.approx(math.sqrt(0.3 / 5))
    t = scipy.stats.ttest_rel(np.array(b, float), np.array(a, float)).statistic
    assert d.z == pytest.approx(t)
    assert not d.significant  # 0.4 < 2 x 0.245
    assert d.ci_low is None and d.resamples == 0


def test_no_answer_and_accuracy_among_answered_show_a_format_effect() -> None:
    # base answers 4 of 10 and gets 2 right; the student answers all 10 and gets 5 right: accuracy +30 points, all
    # of it from answering (50% among answered for both)
    base = [record("base", str(i), i < 2, extracted=("1" if i < 4 else None)) for i in range(10)]
    student = [record("student", str(i), i < 5) for i in range(10)]
    d = stats.compare(stats.pair(base, student), "base", "student", resamples=500)
    assert d is not None
    assert d.difference == pytest.approx(0.3)
    assert (d.no_answer_a, d.no_answer_b, d.no_answer_difference) == (pytest.approx(0.6), 0.0, pytest.approx(-0.6))
    assert (d.answered_accuracy_a, d.answered_accuracy_b, d.answered_difference) == (0.5, 0.5, 0.0)
    assert d.answered_ci_low is not None and d.answered_ci_low <= 0.0 <= d.answered_ci_high
    invalid = record("base", "x", False, extracted="E", valid=False)
    assert not stats.answered(invalid), "an impossible answer (a letter outside the options) is no answer"


def test_pairing_keeps_only_requests_graded_on_both_sides() -> None:
    base = [
        record("base", "1", True), record("base", "2", False), record("base", "3", True, error="timeout"),
        record("base", "4", None),  # the judge gave no verdict
        record("base", "5", False, extracted=None),  # no answer: graded (wrong), counts
        record("base", "6", True, seed=1),  # another seed: not the student's request
    ]  # fmt: skip
    student = [record("student", str(i), True) for i in range(1, 6)] + [record("student", "6", True, seed=0)]
    pairs = stats.pair(base, student)
    assert pairs.items == ["1", "2", "5"]
    assert list(pairs.answered_a) == [1.0, 1.0, 0.0]


def test_training_seeds_pair_with_their_own_and_the_base_pairs_with_each() -> None:
    base = [record("base", str(i), i % 2 == 0) for i in range(4)]
    group_a = [record("a", str(i), True, train_seed=s) for s in (0, 1) for i in range(4)]
    group_b = [record("b", str(i), i < 2 or s == 1, train_seed=s) for s in (0, 1) for i in range(4)]
    vs_base = stats.pair(base, group_a, replicate="train_seed")
    assert len(vs_base) == 8 and sorted(set(vs_base.items)) == ["0", "1", "2", "3"]
    reverse = stats.pair(group_a, base, replicate="train_seed")
    assert len(reverse) == 8 and reverse.correct_a.sum() == 8
    between = stats.pair(group_a, group_b, replicate="train_seed")
    assert len(between) == 8 and between.correct_b.sum() == 6  # b's seed 0 gets items 0 and 1, seed 1 all four
    d = stats.compare(between, "a", "b", resamples=0)
    assert d is not None and d.difference == pytest.approx(-0.25) and d.items == 4
    # per item: mean differences 0, 0, -0.5, -0.5 -> clustered SE = stdev of item means / sqrt(4)
    assert d.stderr == pytest.approx(scipy.stats.sem([0.0, 0.0, -0.5, -0.5]))


def synthetic(n_items: int, seeds: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two models whose success depends on the item's difficulty (so their errors are correlated) and a no-answer
    habit of the base."""
    rng = np.random.default_rng(seed)
    easy = rng.uniform(0.05, 0.95, size=n_items)
    base, student = [], []
    for item in range(n_items):
        for s in range(seeds):
            answered_base = rng.uniform() < 0.6
            base.append(record("base", f"q{item}", bool(answered_base and rng.uniform() < easy[item]), seed=s,
                               extracted="1" if answered_base else None))  # fmt: skip
            student.append(record("student", f"q{item}", bool(rng.uniform() < min(1.0, easy[item] + 0.1)), seed=s))
    return base, student


def independent_bootstrap(base: list[dict[str, Any]], student: list[dict[str, Any]], resamples: int,
                          seed: int) -> tuple[float, float]:  # fmt: skip
    """A percentile CI written directly with numpy: per-item lists of paired differences, items drawn with
    rng.choice, the mean over every drawn item's samples."""
    by_request = {(r["item_id"], r["seed"]): r for r in base}
    per_item: dict[str, list[float]] = {}
    for r in student:
        a = by_request[(r["item_id"], r["seed"])]
        per_item.setdefault(r["item_id"], []).append(float(r["correct"]) - float(a["correct"]))
    sums = np.array([sum(v) for v in per_item.values()])
    sizes = np.array([len(v) for v in per_item.values()])
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(resamples):
        drawn = rng.choice(len(sums), size=len(sums), replace=True)
        means.append(sums[drawn].sum() / sizes[drawn].sum())
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def test_the_bootstrap_agrees_with_an_independent_numpy_bootstrap_and_scipy() -> None:
    base, student = synthetic(n_items=150, seeds=2, seed=11)
    d = stats.compare(stats.pair(base, student), "base", "student", resamples=4000)
    assert d is not None and d.items == 150 and d.samples == 300
    low, high = independent_bootstrap(base, student, resamples=4000, seed=99)
    # two Monte Carlo estimates of the same interval: they agree to a small fraction of the SE
    assert d.ci_low == pytest.approx(low, abs=0.25 * d.stderr)
    assert d.ci_high == pytest.approx(high, abs=0.25 * d.stderr)
    # with two samples per item, the mean over samples is the mean of item means: scipy's bootstrap of those
    item_means = np.array([np.mean([float(s["correct"]) - float(b["correct"]) for s, b in zip(student[2 * i:2 * i + 2],
                                    base[2 * i:2 * i + 2], strict=True)]) for i in range(150)])  # fmt: skip
    reference = scipy.stats.bootstrap((item_means,), np.mean, n_resamples=4000, confidence_level=0.95,
                                      method="percentile", rng=np.random.default_rng(5))  # fmt: skip
    assert d.ci_low == pytest.approx(reference.confidence_interval.low, abs=0.25 * d.stderr)
    assert d.ci_high == pytest.approx(reference.confidence_interval.high, abs=0.25 * d.stderr)
    assert d.difference == pytest.approx(item_means.mean())
    assert d.stderr == pytest.approx(scipy.stats.sem(item_means))
    # and the interval is about +-1.96 SE wide, as it should be for a mean of 150 items
    assert (d.ci_high - d.ci_low) / (2 * 1.96 * d.stderr) == pytest.approx(1.0, abs=0.15)
    again = stats.compare(stats.pair(base, student), "base", "student", resamples=4000)
    assert again == d, "a fixed bootstrap seed: the same table every time"


def write_eval(folder: Path, records: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(records, schema=EVAL_SAMPLES), folder / "samples.parquet")
    pq.write_table(summarise(records), folder / "summary.parquet")


def test_eval_compare_prints_paired_differences_checked_against_pandas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    base, student = synthetic(n_items=80, seeds=1, seed=4)
    student[0]["error"], student[0]["correct"] = "timeout", None  # a failed request drops its pair
    run = tmp_path / "run"
    write_eval(run / "eval" / "base", base)
    write_eval(run / "eval" / "student", student)
    out = tmp_path / "paired.csv"
    main(["eval", "compare", str(run), "--table", "paired", "--format", "csv", "--output", str(out)])
    [row] = pd.read_csv(out).to_dict("records")
    # the same numbers computed independently with pandas from the files
    a = pd.read_parquet(run / "eval" / "base" / "samples.parquet")
    b = pd.read_parquet(run / "eval" / "student" / "samples.parquet")
    both = a.merge(b, on=["item_id", "seed"], suffixes=("_a", "_b"))
    both = both[both["error_b"].isna() & both["correct_b"].notna()]
    diff = both["correct_b"].astype(float) - both["correct_a"].astype(float)
    assert (row["a"], row["b"], row["samples"]) == ("base", "student", 79)
    assert row["difference"] == pytest.approx(diff.mean())
    assert row["stderr"] == pytest.approx(diff.std(ddof=1) / math.sqrt(len(diff)))
    assert row["no_answer_a"] == pytest.approx(both["extracted_a"].isna().mean())
    answered = both[both["extracted_a"].notna()]
    assert row["answered_accuracy_a"] == pytest.approx(answered["correct_a"].astype(float).mean())
    assert row["ci_low"] < row["difference"] < row["ci_high"]
    main(["eval", "compare", str(run)])
    text = capsys.readouterr().out
    assert "## Paired differences" in text and "| reasoning_gym | think@64 | base | student | 79 | 79 |" in text
    assert f"{100 * diff.mean():+.1f} ± {100 * row['stderr']:.1f}" in text
