"""reasoning-gym items as evaluated: the question with the answer format the tasks' scorers are used with
(``<answer>...</answer>``, reasoning-gym's default instruction), graded by the task's own ``score_answer`` through the
one answer checker (the ``<answer>`` tag's text as written, and the checker's reading of the answer: the higher score
counts). The partial score is kept in ``score``; correct means a full score. Items whose question is in the run's
pool are left out (exact question match: the tasks' questions share their template words by design)."""

from __future__ import annotations

from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.benchmarks.reasoning_gym.loader import HINT, NAME, load
from naturalthoughts.benchmarks.registry import Benchmark, Grade, GradeOptions, as_grade
from naturalthoughts.text import grading, tasks

PROMPT = "{question}\n\n{answer_format}"


def prompt(item: BenchmarkItem, options: GradeOptions | None = None) -> str:
    return PROMPT.format(question=item.question.strip(), answer_format=tasks.ANSWER_FORMAT)


def grade(item: BenchmarkItem, output: str | None, options: GradeOptions | None = None) -> Grade:
    options = options or GradeOptions()
    found = tasks.scorer_for(item.metadata.get("source"), item.metadata.get("row"))
    if found is None:
        raise ValueError(f"{item.ref}: no reasoning-gym source recorded for this item")
    _task, reference, scorer = found
    verdict = grading.check_output(
        grading.kind_of(reference), reference, output, finish_reason=options.finish_reason, thinking=options.thinking,
        scorer=scorer,
    )  # fmt: skip
    return as_grade(verdict)


BENCHMARK = Benchmark(
    NAME,
    load,
    bundled=False,
    kind="task",
    prompt=prompt,
    grade=grade,
    description="reasoning-gym tasks, generated (a spec: TASK[{k=v}][,TASK...]:N[:SEED]), the tasks' own scorers",
    accepts_source=True,
    extraction="text after the last </think> (none if unclosed or cut before closing); the task's own score_answer "
    "on the last <answer> tag as written and on the one checker's reading of the answer (the higher counts); "
    "correct = score 1.0, the partial score kept",
    subset_field="task",
    summarise_subsets=True,
    templated=True,
    source_hint=HINT,
)
