"""What every multiple-choice benchmark shares: the option block, the prompt, the grader and the per-seed shuffle.

The prompt is simple-evals' ``QUERY_TEMPLATE_MULTICHOICE`` (also lighteval's GPQA instruction), with the letter
list fitted to the item's number of options. Grading reads the final answer (after ``</think>``) with
:func:`naturalthoughts.text.choices.extract_choice` through the one checker, bounded to the item's letters.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from naturalthoughts.benchmarks.items import LETTERS, BenchmarkItem
from naturalthoughts.benchmarks.registry import Benchmark, Grade, GradeOptions, as_grade
from naturalthoughts.text import grading

QUERY_TEMPLATE = (
    "Answer the following multiple choice question. The last line of your response should be of the following "
    "format: 'Answer: $LETTER' (without quotes) where LETTER is one of {letters}. Think step by step before "
    "answering.\n\n{question}\n\n{options}"
)

EXTRACTION = (
    "text after the last </think> (none if unclosed or cut before closing); then the last \\boxed{X}, the last "
    "'Answer: X' / 'the answer is (X)', a line holding only the letter, an option's text (whole, or after an answer "
    "anchor), on the last line a letter standing as an answer; two letters joined by or/and or hedged: no answer "
    "(ambiguous); letters bounded to the item's options; an out-of-range letter is invalid (wrong); "
    "simple_evals: simple-evals' first 'Answer: X'"
)


def options_block(choices: tuple[str, ...], separator: str = ") ") -> str:
    return "\n".join(f"{LETTERS[i]}{separator}{text}" for i, text in enumerate(choices))


def letters_of(item: BenchmarkItem) -> str:
    assert item.choices is not None, f"{item.ref} has no options"
    return LETTERS[: len(item.choices)]


def query_prompt(item: BenchmarkItem, options: GradeOptions | None = None) -> str:
    return QUERY_TEMPLATE.format(
        letters=letters_of(item), question=item.question.strip(), options=options_block(item.choices or ())
    )


def grade(
    item: BenchmarkItem,
    output: str | None,
    options: GradeOptions | None = None,
    *,
    style: grading.ChoiceStyle | None = None,
) -> Grade:
    """The one checker's ``choice`` kind; ``options.simple_evals``: simple-evals' reading instead of the project's.
    ``style`` names another reading (MMLU-Pro's official cascade)."""
    options = options or GradeOptions()
    verdict = grading.check_output(
        "choice",
        item.answer,
        output,
        finish_reason=options.finish_reason,
        thinking=options.thinking,
        options=item.choices,
        style=style or ("simple-evals" if options.simple_evals else "default"),
    )
    return as_grade(verdict)


def permutation(item: BenchmarkItem, seed: int) -> list[int]:
    """A fresh option order for each (item, seed), the same on every machine and run.

    Seeded with the item id *and* the seed: one seed shared by every item gives every item the same permutation,
    which puts every gold answer under one letter (a bug a well-known harness shipped)."""
    digest = hashlib.sha256(f"{item.benchmark}\x00{item.id}\x00{seed}".encode()).digest()
    order = list(range(len(item.choices or ())))
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return order


def shuffled(item: BenchmarkItem, seed: int) -> BenchmarkItem:
    """``item`` with its options in :func:`permutation` order and the gold letter moved with them."""
    assert item.choices is not None
    order = permutation(item, seed)
    gold_index = LETTERS.index(item.answer)
    return replace(
        item,
        choices=tuple(item.choices[i] for i in order),
        answer=LETTERS[order.index(gold_index)],
        metadata={**item.metadata, "permutation": order},
    )


def choice_benchmark(
    name: str, load: Callable[[str | None], list[BenchmarkItem]], expected: int, description: str, **fields: Any
) -> Benchmark:
    """A multiple-choice benchmark with the shared prompt and grader unless ``fields`` say otherwise."""
    defaults: dict[str, Any] = {"bundled": True, "prompt": query_prompt, "grade": grade, "extraction": EXTRACTION}
    return Benchmark(name, load, kind="choice", expected=expected, description=description, **{**defaults, **fields})
