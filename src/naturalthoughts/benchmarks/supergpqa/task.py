"""SuperGPQA as evaluated: its official zero-shot prompt (``config/prompt/zero-shot.yaml``), letter grading over
the item's 4-10 options.

The official extractor has no ``</think>`` stripping and searches the whole text for the first match; ours reads
the final answer only (see :mod:`naturalthoughts.text.grading`). A failed extraction is a miss, scored wrong and
reported as the extraction-failure rate, as the official ``miss_rate`` (no random guess).
"""

from __future__ import annotations

from naturalthoughts.benchmarks import choice
from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.benchmarks.registry import GradeOptions
from naturalthoughts.benchmarks.supergpqa.loader import NAME, load

PROMPT = (
    "Answer the following multiple choice question. There is only one correct answer. The last line of your "
    "response should be in the format 'Answer: $LETTER' (without quotes), where LETTER is one of {letters}.\n\n"
    "{question}\n{options}"
)


def spelled_letters(letters: str) -> str:
    """``A, B, C, D, E, F, G, H, I, or J`` as the official prompt spells its letter list."""
    return letters if len(letters) == 1 else ", ".join(letters[:-1]) + f", or {letters[-1]}"


def prompt(item: BenchmarkItem, options: GradeOptions | None = None) -> str:
    return PROMPT.format(
        letters=spelled_letters(choice.letters_of(item)),
        question=item.question.strip(),
        options=choice.options_block(item.choices or ()),
    )


BENCHMARK = choice.choice_benchmark(
    NAME,
    load,
    26529,
    "SuperGPQA (file or hf:m-a-p/SuperGPQA)",
    bundled=False,
    prompt=prompt,
    accepts_source=True,
    paper_repeats=1,
    subset_field="discipline",
)
