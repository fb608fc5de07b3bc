"""MMLU-Pro as evaluated: zero-shot over up to 10 options, with the official cascade as an option.

- default (``official=False``): simple-evals' multiple-choice prompt with the letters A-J fitted to the item, and
  the project's extraction (:func:`naturalthoughts.text.choices.extract_choice`);
- ``official=True`` (``nt eval --mmlu-pro-official``): the header of TIGER-AI-Lab's ``evaluate_from_api.py``
  (zero-shot: the validation split for its 5 examples is not shipped offline) and its three-step cascade
  (``**`` removed, then the first "answer is (X)", the first "answer: X", the last standing A-J), applied to the text
  after ``</think>``. When the cascade finds nothing the official scripts draw a random option
  (``random.seed(12345)`` before each draw: :func:`naturalthoughts.text.choices.mmlu_pro_official_guess`); that
  guess is recorded in ``guess_correct`` and reported as ``accuracy_with_guess`` beside accuracy, never folded in.
"""

from __future__ import annotations

from naturalthoughts.benchmarks import choice
from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.benchmarks.mmlu_pro.loader import NAME, load
from naturalthoughts.benchmarks.registry import Grade, GradeOptions

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


def grade(item: BenchmarkItem, output: str | None, options: GradeOptions | None = None) -> Grade:
    official = options is not None and options.official
    return choice.grade(item, output, options, style="mmlu-pro-official" if official else None)


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
    extraction=choice.EXTRACTION + "; mmlu_pro_official: the official cascade, random-guess fallback reported apart",
    subset_field="category",
)
