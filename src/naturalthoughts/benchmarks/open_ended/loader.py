"""Load open-ended questions with reference answers from a local file (JSONL, JSON, CSV or Parquet) or a Hub id.

Each row needs ``question`` and a reference answer (``reference_answer``, as in ``questions.parquet``, or
``answer`` / ``reference``); ``id`` is optional (default: the row number).
"""

from __future__ import annotations

from typing import Any

from naturalthoughts.benchmarks.datafiles import BenchmarkUnavailable, records_from
from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.errors import BadInputError

NAME = "open_ended"
REFERENCE_FIELDS = ("reference_answer", "answer", "reference")


def _item(row: dict[str, Any], source: str, number: int) -> BenchmarkItem:
    question = str(row.get("question") or "").strip()
    reference = next((str(row[f]).strip() for f in REFERENCE_FIELDS if row.get(f) not in (None, "")), "")
    if not question or not reference:
        missing = "question" if not question else "a reference answer (" + " / ".join(REFERENCE_FIELDS) + ")"
        raise BadInputError(f"{source}: row {number} has no {missing}")
    return BenchmarkItem(NAME, str(row.get("id") or number), question, reference)


def load(source: str | None = None) -> list[BenchmarkItem]:
    if not source:
        raise BenchmarkUnavailable(
            f"{NAME} needs your questions: pass a file, e.g. {NAME}=questions.jsonl (fields question, "
            "reference_answer, optional id)"
        )
    return [_item(row, source, number) for number, row in enumerate(records_from(source, split="train"), 1)]
