"""What the maths benchmarks share: the ``\\boxed{}`` prompt and the two graders (the one checker's ``number`` and
``math`` kinds).

The prompt is NeMo-Skills' generic maths prompt; math-verify's README advises asking for ``\\boxed{}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.benchmarks.registry import Benchmark, Grade, GradeOptions, as_grade
from naturalthoughts.text import grading
from naturalthoughts.text.grading import AnswerKind

MATH_PROMPT = (
    "Solve the following math problem. Make sure to put the answer (and only answer) inside \\boxed{{}}.\n\n{question}"
)

NUMBER_EXTRACTION = (
    "text after the last </think> (none if unclosed or cut before closing); then the number of the last \\boxed{} "
    "read whole (LaTeX separators, currency, percent, units, fractions: \\dfrac{8}{3} is 8/3; several numbers: no "
    "answer), else of the clause after the last 'Answer:' / 'the answer is' / '####', else the last bold number, "
    "else the last number (list numbers excluded); compared exactly (18 == 18.00)"
)
MATH_EXTRACTION = (
    "text after the last </think> (none if unclosed or cut before closing); then the last \\boxed{} (all boxes "
    "when the gold lists several answers), else the rest of the line after the last answer anchor, else the last "
    "inline formula, else the last number; a plain-number gold is checked as a number; otherwise tidied text, base "
    "subscripts, text answers, lists as multisets, then math-verify (gold first, half-parsed LaTeX must also match "
    "as text)"
)


def math_prompt(item: BenchmarkItem, options: GradeOptions | None = None) -> str:
    return MATH_PROMPT.format(question=item.question.strip())


def _grader(kind: AnswerKind):
    def grade(item: BenchmarkItem, output: str | None, options: GradeOptions | None = None) -> Grade:
        options = options or GradeOptions()
        verdict = grading.check_output(
            kind, item.answer, output, finish_reason=options.finish_reason, thinking=options.thinking
        )
        return as_grade(verdict)

    grade.__doc__ = f"The one checker's ``{kind}`` kind on the item's gold."
    return grade


grade_number = _grader("number")
grade_math = _grader("math")


def math_benchmark(
    name: str, load: Callable[[str | None], list[BenchmarkItem]], expected: int, description: str, **fields: Any
) -> Benchmark:
    """A bundled maths benchmark with the ``\\boxed{}`` prompt; numeric grading unless ``fields`` say otherwise."""
    defaults: dict[str, Any] = {
        "bundled": True, "kind": "number", "grade": grade_number, "extraction": NUMBER_EXTRACTION,
    }  # fmt: skip
    settings = {**defaults, **fields}
    return Benchmark(name, load, prompt=math_prompt, expected=expected, description=description, **settings)
