"""MMLU-Pro as evaluated: zero-shot over up to 10 options, with the official cascade as an option.

- default (``official=False``): simple-evals' multiple-choice prompt with the letters A-J fitted to the item, and
  the project's extraction (:func:`naturalthoughts.text.grading.extract_choice`);
- ``official=True`` (``nt eval --mmlu-pro-official``): the header of TIGER-AI-Lab's ``evaluate_from_api.py``
  (zero-shot: the validation split for its 5 examples is not shipped offline) and its three-step cascade
  (first "answer is (X)", first "answer: X", last standing A-J), applied to the text after ``</think>``. When the
  cascade finds nothing the official scripts draw a random option; that guess is recorded in ``guess_correct``
  and reported as ``accuracy_with_guess`` beside accuracy, never folded into it.
"""

from __future__ import annotations

import hashlib
import random

from naturalthoughts.benchmarks import choice
from naturalthoughts.benchmarks.items import LETTERS, BenchmarkItem
from naturalthoughts.benchmarks.mmlu_pro.loader import NAME, load
from naturalthoughts.benchmarks.registry import Grade, GradeOptions
from naturalthoughts.text import grading

OFFICIAL_PROMPT = (
    "The following are multiple choice questions (with answers) about {category}. Think step by step and then "
    'output the answer in the format of "The answer is (X)" at the end.\n\n'
    "Question: {question}\nOptions: {options}\nAnswer: Let's think step by step."
)


def prompt(item: BenchmarkItem, options: GradeOptions | None = None) -> str:
    if options is not None and options.official:
        return OFFICIAL_PROMPT.format(
            category=item.metadata.get("category") or "general knowledge",
            question=item.question.strip(),
            options=choice.options_block(item.choices or (), ". "),
        )
    return choice.query_prompt(item)


def random_guess(item: BenchmarkItem, seed: int) -> str:
    """The official fallback's random option, drawn per (item, seed) so it does not depend on the order of work."""
    digest = hashlib.sha256(f"{item.id}\x00{seed}\x00guess".encode()).digest()
    return LETTERS[random.Random(int.from_bytes(digest[:8], "big")).randrange(len(item.choices or ()))]


def grade(item: BenchmarkItem, output: str | None, options: GradeOptions | None = None) -> Grade:
    if options is None or not options.official:
        return choice.grade(item, output)
    found = grading.extract_choice_mmlu_pro_official(grading.answer_part(output), len(item.choices or ()))
    guess = None if found.found else random_guess(item, options.seed) == item.answer
    return Grade(found.value, grading.grade_choice(item.answer, found), found.method, found.valid, guess)


BENCHMARK = choice.choice_benchmark(
    NAME,
    load,
    12032,
    "MMLU-Pro (file or hf:TIGER-Lab/MMLU-Pro)",
    bundled=False,
    prompt=prompt,
    grade=grade,
    accepts_source=True,
    paper_repeats=1,
    extraction=choice.EXTRACTION + "; --mmlu-pro-official: the official cascade, random-guess fallback reported apart",
    subset_field="category",
)
