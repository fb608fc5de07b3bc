"""Load SuperGPQA from a local file or ``hf:m-a-p/SuperGPQA`` (train split, the only one).

Schema (as on the Hub): uuid, question, options (list), answer (option text), answer_letter,
discipline, field, subfield, difficulty, is_calculation.
"""

from __future__ import annotations

from naturalthoughts.benchmarks.datafiles import BenchmarkUnavailable, records_from
from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.benchmarks.registry import Benchmark

NAME = "supergpqa"
HUB_ID = "m-a-p/SuperGPQA"


def load(source: str | None = None) -> list[BenchmarkItem]:
    if not source:
        raise BenchmarkUnavailable(
            f"{NAME} is not installed offline: pass a file or Hub id, e.g. {NAME}=hf:{HUB_ID} "
            f"or {NAME}=SuperGPQA-all.jsonl"
        )
    return [
        BenchmarkItem(
            NAME,
            str(row["uuid"]),
            row["question"].strip(),
            str(row["answer_letter"]).strip().upper(),
            choices=tuple(str(o) for o in row["options"]),
            metadata={k: row.get(k) for k in ("discipline", "field", "subfield", "difficulty")},
        )
        for row in records_from(source, split="train")
    ]


BENCHMARK = Benchmark(
    NAME, load, bundled=False, expected=26529, description=f"SuperGPQA (file or hf:{HUB_ID})", accepts_source=True
)
