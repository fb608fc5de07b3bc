"""What the maths benchmarks share: the ``\\boxed{}`` prompt and the two graders (numbers, math-verify).

The prompt is NeMo-Skills' generic maths prompt; math-verify's README advises asking for ``\\boxed{}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.benchmarks.registry import Benchmark, Grade, GradeOptions
from naturalthoughts.text import grading

MATH_PROMPT = (
    "Solve the following math problem. Make sure to put the answer (and only answer) inside \\boxed{{}}.\n\n{question}"
)

NUMBER_EXTRACTION = (
    "text after the last </think> (none if unclosed); then the number in the last \\boxed{}, else the first number "
    "after the last 'Answer:' / 'the answer is' / '####', else the last number; thousands separators dropped; "
    "compared as decimals (18 == 18.00)"
)
MATH_EXTRACTION = (
    "text after the last </think> (none if unclosed); then the last \\boxed{} (nested braces), else the rest of "
    "the line after the last 'final answer' / 'the answer is' / 'Answer:', else the last inline formula or the "
    "last number; math-verify, gold first, gold wrapped in $...$; half-parsed LaTeX must also match "
    "as normalised text"
)


def math_prompt(item: BenchmarkItem, options: GradeOptions | None = None) -> str:
    return MATH_PROMPT.format(question=item.question.strip())


def grade_number(item: BenchmarkItem, output: str | None, options: GradeOptions | None = None) -> Grade:
    found = grading.extract_number(grading.answer_part(output))
    return Grade(found.value, grading.numbers_equal(item.answer, found.value), found.method)


def grade_math(item: BenchmarkItem, output: str | None, options: GradeOptions | None = None) -> Grade:
    found = grading.extract_math(grading.answer_part(output))
    return Grade(found.value, grading.grade_math(item.answer, found), found.method)


def math_benchmark(
    name: str, load: Callable[[str | None], list[BenchmarkItem]], expected: int, description: str, **fields: Any
) -> Benchmark:
    """A bundled maths benchmark with the ``\\boxed{}`` prompt; numeric grading unless ``fields`` say otherwise."""
    defaults: dict[str, Any] = {
        "bundled": True, "kind": "number", "grade": grade_number, "extraction": NUMBER_EXTRACTION,
    }  # fmt: skip
    settings = {**defaults, **fields}
    return Benchmark(name, load, prompt=math_prompt, expected=expected, description=description, **settings)
