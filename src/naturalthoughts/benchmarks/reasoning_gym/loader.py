"""Generate reasoning-gym items from a spec (``TASK[{key=value,...}][,TASK...]:N[:SEED]``, see
:mod:`naturalthoughts.text.tasks`): N items per task, the same items on every machine for the same spec."""

from __future__ import annotations

from naturalthoughts.benchmarks.datafiles import BenchmarkUnavailable
from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.text import tasks

NAME = "reasoning_gym"
HINT = "give the tasks as the benchmark: reasoning-gym:gcd,syllogism:160:999 (eval.benchmarks, or the benchmark option)"


def load(source: str | None = None) -> list[BenchmarkItem]:
    if not source:
        raise BenchmarkUnavailable(f"{NAME} generates its items: {HINT}")
    task_set = tasks.parse_task_set(source)
    return [
        BenchmarkItem(
            NAME,
            f"{task.text}:{row}",
            str(entry["question"]).strip(),
            str(entry["answer"]),
            metadata={"task": task.name, "source": task_set.label(task), "row": row},
        )
        for task, row, entry in tasks.entries(task_set)
    ]
