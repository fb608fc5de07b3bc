"""Open-ended questions as evaluated: the question alone as the prompt; the final answer (after ``</think>``)
graded against the reference by a judge model through the engine layer, with the one judge path every consumer
uses (:mod:`naturalthoughts.text.judge`: the same prompt, reply schema ``{"correct": boolean}`` and reading as
annotate's correctness). An unreadable verdict is recorded as a judge failure (``correct`` null), not as wrong."""

from __future__ import annotations

from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.benchmarks.open_ended.loader import NAME, load
from naturalthoughts.benchmarks.registry import Benchmark, Grade, GradeOptions, Judge
from naturalthoughts.text import grading, judge

PROMPT = "{question}\n\nThink it through, then give your final answer."


def prompt(item: BenchmarkItem, options: GradeOptions | None = None) -> str:
    return PROMPT.format(question=item.question.strip())


def judge_messages(item: BenchmarkItem, answer: str) -> tuple[dict[str, str], ...]:
    return judge.judge_messages(item.question.strip(), item.answer.strip(), answer)


def grade(item: BenchmarkItem, output: str | None, options: GradeOptions | None = None) -> Grade:
    """The extraction half: the final answer text; the judge supplies ``correct``."""
    options = options or GradeOptions()
    answer = grading.answer_part(output, options.finish_reason, options.thinking)
    if answer is None:
        return Grade(None, False, "unclosed-thinking")
    return Grade(answer or None, False, "judge" if answer else None)


BENCHMARK = Benchmark(
    NAME,
    load,
    bundled=False,
    kind="judge",
    prompt=prompt,
    grade=grade,
    description="open-ended questions with reference answers, LLM judge (a file you pass)",
    accepts_source=True,
    extraction="text after the last </think> (none if unclosed), judged against the reference by a judge model "
    'whose reply is constrained to {"correct": boolean} (the judge annotate\'s correctness uses)',
    judge=Judge(judge_messages, judge.VERDICT),
)
