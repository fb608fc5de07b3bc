"""The benchmark registry entry type (the registry itself is ``naturalthoughts.benchmarks.REGISTRY``).

A :class:`Benchmark` is everything evaluation needs to know about one benchmark: how to load its items, the
prompt that asks a question, how to grade an output, and (GPQA-Diamond) how to lay an item out afresh for each
seed. Graders are pure functions of the item and the model output, except for judge-graded benchmarks
(``kind == "judge"``), whose verdict comes from a model through the engine layer (``naturalthoughts.eval``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.text.grading import Verdict
from naturalthoughts.text.replies import ReplySchema

Kind = Literal["choice", "number", "math", "judge", "task"]


@dataclass(frozen=True)
class GradeOptions:
    """Per-sample grading context: the seed; whether to read answers as a published harness does (``official``:
    MMLU-Pro's own cascade; ``simple_evals``: simple-evals' ``Answer: X`` for multiple choice); how the reply ended
    (``finish_reason``) and whether the model was asked to reason (``thinking``: think and adaptive modes), so a reply
    cut before it closed its reasoning has no answer whatever its tags."""

    seed: int = 0
    official: bool = False
    simple_evals: bool = False
    finish_reason: str | None = None
    thinking: bool = False


@dataclass(frozen=True)
class Grade:
    """The grade of one output.

    ``extracted`` is None when no answer could be read (an extraction failure: ``correct`` is False).
    ``valid`` is False for an answer that cannot be right (an option letter outside the question's range).
    ``guess_correct`` is MMLU-Pro's official random-guess fallback for a failed extraction (None elsewhere): it is
    reported beside accuracy, never folded into it.
    """

    extracted: str | None
    correct: bool
    method: str | None = None
    valid: bool = True
    guess_correct: bool | None = None
    score: float | None = None  # a task's own scorer (reasoning-gym): partial credit in [0, 1]


def as_grade(verdict: Verdict) -> Grade:
    """A checker verdict as a benchmark grade (no verdict counts as not correct until a judge says otherwise)."""
    return Grade(
        verdict.extracted, bool(verdict.correct), verdict.method, verdict.valid, verdict.guess_correct, verdict.score
    )


@dataclass(frozen=True)
class Judge:
    """How a judge model grades a benchmark's answers: the chat it is sent and the reply schema (sent with the
    request, so the engine constrains decoding to it where it can; read with
    :func:`naturalthoughts.text.judge.read_verdict`)."""

    messages: Callable[[BenchmarkItem, str], tuple[dict[str, str], ...]]
    reply: ReplySchema[bool]


Grader = Callable[[BenchmarkItem, str | None, GradeOptions], Grade]
Prompter = Callable[[BenchmarkItem, GradeOptions], str]


def no_variant(item: BenchmarkItem, seed: int) -> BenchmarkItem:
    return item


@dataclass(frozen=True)
class Benchmark:
    """A loadable, promptable, gradable benchmark.

    ``load(source)`` returns its items; ``source`` is a local file or ``hf:ID`` and is required when ``bundled``
    is false (the data is not installed with the project). ``prompt(item, options)`` is the user turn;
    ``grade(item, output, options)`` reads the model's whole output (thinking block included: graders take the
    text after the last ``</think>``). ``variant(item, seed)`` is the item as asked with that seed (a fresh
    option order for GPQA-Diamond). ``paper_repeats`` is the paper's number of samples per item.
    """

    name: str
    load: Callable[[str | None], list[BenchmarkItem]]
    bundled: bool
    kind: Kind = "choice"
    prompt: Prompter | None = None
    grade: Grader | None = None
    variant: Callable[[BenchmarkItem, int], BenchmarkItem] = no_variant
    expected: int | None = None  # item count of the official release, checked by tests
    description: str = ""
    accepts_source: bool = False  # whether load() reads a given file / hf id (else only the installed data)
    paper_repeats: int | None = None
    extraction: str = ""  # the extraction rule in words (docs/evaluation.md, nt eval --help)
    judge: Judge | None = None  # kind "judge": the verdict comes from a judge model, ``grade`` only extracts
    subset_field: str | None = None  # the item metadata naming its subset (MATH-500: level)
    summarise_subsets: bool = False  # the summary gets one row per subset too (MATH-500's levels)
    templated: bool = False  # generated from templates: contamination is an exact question match, and such items
    # are left out of the evaluation (n-grams of the shared template would flag every item)
    source_hint: str = ""  # what to give when the benchmark needs a source and none was given

    def subset(self, item: BenchmarkItem) -> str | None:
        value = item.metadata.get(self.subset_field) if self.subset_field else None
        if value is None or value == "":
            return None
        return f"{self.subset_field} {value}" if isinstance(value, int) else str(value)
