"""Benchmarks: one sub-package per benchmark (``loader.py`` for the items, ``task.py`` for the prompt and the
grader), registered here in one place.

Bundled benchmarks load from installed packages; the others (MMLU-Pro, SuperGPQA, open-ended questions) need a
local file or a Hub id. Shared pieces: :mod:`.choice` (multiple choice: prompt, grader, per-seed shuffle),
:mod:`.math_common` (the ``\\boxed{}`` prompt, numeric and math-verify graders); the extraction rules themselves
live in :mod:`naturalthoughts.text.grading`.
"""

from __future__ import annotations

from naturalthoughts.benchmarks import (
    aime2025,
    arc_challenge,
    gpqa_diamond,
    gsm8k,
    math500,
    medqa,
    mmlu,
    mmlu_pro,
    open_ended,
    reasoning_gym,
    supergpqa,
)
from naturalthoughts.benchmarks.datafiles import BenchmarkUnavailable
from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.benchmarks.registry import Benchmark, Grade, GradeOptions, Judge
from naturalthoughts.errors import ConfigError

REGISTRY: dict[str, Benchmark] = {
    module.BENCHMARK.name: module.BENCHMARK
    for module in (
        gpqa_diamond,
        math500,
        mmlu_pro,
        supergpqa,
        mmlu,
        gsm8k,
        aime2025,
        arc_challenge,
        medqa,
        open_ended,
        reasoning_gym,
    )
}
BUNDLED: tuple[str, ...] = tuple(name for name, b in REGISTRY.items() if b.bundled)
PAPER: tuple[str, ...] = ("gpqa_diamond", "math500", "mmlu_pro", "supergpqa")  # the paper's four benchmarks


def get(name: str) -> Benchmark:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown benchmark '{name}'; known: {', '.join(REGISTRY)}") from None


def load(name: str, source: str | None = None) -> list[BenchmarkItem]:
    """Items of benchmark ``name``; ``source`` (a file or ``hf:ID``) overrides the bundled data."""
    benchmark = get(name)
    if source and not benchmark.accepts_source:
        raise ConfigError(
            f"benchmark '{name}' loads from its installed package and takes no file or Hub id (got {name}={source})"
        )
    return benchmark.load(source)


__all__ = [
    "BUNDLED",
    "PAPER",
    "REGISTRY",
    "Benchmark",
    "BenchmarkItem",
    "BenchmarkUnavailable",
    "Grade",
    "GradeOptions",
    "Judge",
    "get",
    "load",
]
