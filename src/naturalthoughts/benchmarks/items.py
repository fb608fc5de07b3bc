"""What a benchmark loader returns: one :class:`BenchmarkItem` per question."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

LETTERS = string.ascii_uppercase


@dataclass(frozen=True)
class BenchmarkItem:
    """One benchmark question.

    ``answer`` is the gold answer as graders compare it: the option letter ("A", "B", ...) for
    multiple-choice benchmarks (``choices`` set), else the final answer text (a number for GSM8K
    and AIME, a LaTeX expression for MATH-500).
    """

    benchmark: str
    id: str
    question: str
    answer: str
    choices: tuple[str, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ref(self) -> str:
        """``benchmark:id``, the name used in rejected.parquet and reports."""
        return f"{self.benchmark}:{self.id}"

    @property
    def answer_text(self) -> str:
        """The text of the correct option for multiple-choice items, else ``answer``."""
        if self.choices is None:
            return self.answer
        return self.choices[LETTERS.index(self.answer)]


def letter(index: int) -> str:
    return LETTERS[index]
