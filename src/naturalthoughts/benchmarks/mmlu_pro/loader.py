"""Load MMLU-Pro from a local file or ``hf:TIGER-Lab/MMLU-Pro`` (test split).

Schema (as on the Hub): question_id, question, options (list of up to 10 strings), answer (letter),
answer_index, cot_content, category, src. Options equal to ``"N/A"`` are dropped, as the official
``preprocess()`` does, and the gold letter is re-read from ``answer_index``.
"""

from __future__ import annotations

from typing import Any

from naturalthoughts.benchmarks.datafiles import BenchmarkUnavailable, records_from, require_fields
from naturalthoughts.benchmarks.items import BenchmarkItem, letter
from naturalthoughts.errors import BadInputError

NAME = "mmlu_pro"
HUB_ID = "TIGER-Lab/MMLU-Pro"
FIELDS = ("question_id", "question", "options", "answer_index")


def _item(row: dict[str, Any], source: str, number: int) -> BenchmarkItem:
    require_fields(row, FIELDS, source, number, "MMLU-Pro")
    options = [str(o) for o in row["options"]]
    gold = int(row["answer_index"])
    if not 0 <= gold < len(options) or options[gold].strip() == "N/A":
        raise BadInputError(f"{source}: row {number}: answer_index {gold} is not one of its {len(options)} options")
    kept = [i for i, option in enumerate(options) if option.strip() != "N/A"]
    return BenchmarkItem(
        NAME,
        str(row["question_id"]),
        str(row["question"]).strip(),
        letter(kept.index(gold)),
        choices=tuple(options[i] for i in kept),
        metadata={"category": row.get("category"), "src": row.get("src")},
    )


def load(source: str | None = None) -> list[BenchmarkItem]:
    if not source:
        raise BenchmarkUnavailable(
            f"{NAME} is not installed offline: pass a file or Hub id, e.g. {NAME}=hf:{HUB_ID} "
            f"or {NAME}=mmlu_pro_test.parquet"
        )
    return [_item(row, source, number) for number, row in enumerate(records_from(source, split="test"), 1)]
