"""Load MMLU-Pro from a local file or ``hf:TIGER-Lab/MMLU-Pro`` (test split).

Schema (as on the Hub): question_id, question, options (list of up to 10 strings), answer (letter),
answer_index, cot_content, category, src.
"""

from __future__ import annotations

from naturalthoughts.benchmarks.datafiles import BenchmarkUnavailable, records_from
from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.benchmarks.registry import Benchmark

NAME = "mmlu_pro"
HUB_ID = "TIGER-Lab/MMLU-Pro"


def load(source: str | None = None) -> list[BenchmarkItem]:
    if not source:
        raise BenchmarkUnavailable(
            f"{NAME} is not installed offline: pass a file or Hub id, e.g. {NAME}=hf:{HUB_ID} "
            f"or {NAME}=mmlu_pro_test.parquet"
        )
    return [
        BenchmarkItem(
            NAME,
            str(row["question_id"]),
            row["question"].strip(),
            str(row["answer"]).strip().upper(),
            choices=tuple(str(o) for o in row["options"]),
            metadata={"category": row.get("category"), "src": row.get("src")},
        )
        for row in records_from(source, split="test")
    ]


BENCHMARK = Benchmark(
    NAME, load, bundled=False, expected=12032, description=f"MMLU-Pro (file or hf:{HUB_ID})", accepts_source=True
)
