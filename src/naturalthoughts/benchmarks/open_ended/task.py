"""Open-ended questions as evaluated: the question alone as the prompt; the final answer (after ``</think>``)
graded against the reference by a judge model through the engine layer, its reply constrained to the JSON schema
``{"correct": boolean}``. An unreadable verdict is recorded as a judge failure (``correct`` null), not as wrong."""

from __future__ import annotations

import json

from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.benchmarks.open_ended.loader import NAME, load
from naturalthoughts.benchmarks.registry import Benchmark, Grade, GradeOptions, Judge
from naturalthoughts.text import grading

MAX_ANSWER_CHARS = 4000  # a judge sees the answer's start and end, not a 16k-token ramble

PROMPT = "{question}\n\nThink it through, then give your final answer."

JUDGE_PROMPT = (
    "You grade an answer to a question against a reference answer. The answer is correct when it agrees with the "
    "reference in substance (wording may differ); it is wrong when it contradicts the reference, misses its "
    "point or gives no answer.\n\n"
    "Question:\n{question}\n\nReference answer:\n{reference}\n\nAnswer to grade:\n{answer}\n\n"
    'Reply with JSON only: {{"correct": true}} or {{"correct": false}}.'
)
JUDGE_SCHEMA = {
    "type": "object",
    "properties": {"correct": {"type": "boolean"}},
    "required": ["correct"],
    "additionalProperties": False,
}


def prompt(item: BenchmarkItem, options: GradeOptions | None = None) -> str:
    return PROMPT.format(question=item.question.strip())


def clip(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[...]\n{text[-half:]}"


def judge_messages(item: BenchmarkItem, answer: str) -> tuple[dict[str, str], ...]:
    content = JUDGE_PROMPT.format(question=item.question.strip(), reference=item.answer.strip(), answer=clip(answer))
    return ({"role": "user", "content": content},)


def parse_verdict(text: str | None) -> bool | None:
    """``{"correct": true}`` -> True; anything else (cut off, not JSON, wrong type) -> None."""
    if not text:
        return None
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start : end + 1]).get("correct")
    except (json.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, bool) else None


def grade(item: BenchmarkItem, output: str | None, options: GradeOptions | None = None) -> Grade:
    """The extraction half: the final answer text; the judge supplies ``correct``."""
    answer = grading.answer_part(output)
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
    'whose reply is constrained to {"correct": boolean}',
    judge=Judge(judge_messages, JUDGE_SCHEMA, parse_verdict),
)
