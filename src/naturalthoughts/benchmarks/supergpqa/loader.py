"""Load SuperGPQA from a local file or ``hf:m-a-p/SuperGPQA`` (train split, the only one).

Schema (as on the Hub): uuid, question, options (list), answer (option text), answer_letter,
discipline, field, subfield, difficulty, is_calculation.
"""

from __future__ import annotations

from typing import Any

from naturalthoughts.benchmarks.datafiles import BenchmarkUnavailable, records_from, require_fields
from naturalthoughts.benchmarks.items import LETTERS, BenchmarkItem
from naturalthoughts.errors import BadInputError

NAME = "supergpqa"
HUB_ID = "m-a-p/SuperGPQA"
FIELDS = ("uuid", "question", "options", "answer_letter")


def _item(row: dict[str, Any], source: str, number: int) -> BenchmarkItem:
    require_fields(row, FIELDS, source, number, "SuperGPQA")
    options = tuple(str(o) for o in row["options"])
    gold = str(row["answer_letter"]).strip().upper()
    if gold not in LETTERS[: len(options)]:
        raise BadInputError(f"{source}: row {number}: answer_letter {gold!r} is not one of its {len(options)} options")
    return BenchmarkItem(
        NAME,
        str(row["uuid"]),
        str(row["question"]).strip(),
        gold,
        choices=options,
        metadata={k: row.get(k) for k in ("discipline", "field", "subfield", "difficulty")},
    )


def load(source: str | None = None) -> list[BenchmarkItem]:
    if not source:
        raise BenchmarkUnavailable(
            f"{NAME} is not installed offline: pass a file or Hub id, e.g. {NAME}=hf:{HUB_ID} "
            f"or {NAME}=SuperGPQA-all.jsonl"
        )
    return [_item(row, source, number) for number, row in enumerate(records_from(source, split="train"), 1)]
