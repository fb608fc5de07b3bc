"""ARC-Challenge test split (1,172 grade-school science questions, 3-5 options)."""

from naturalthoughts.benchmarks.arc_challenge.loader import load
from naturalthoughts.benchmarks.arc_challenge.task import BENCHMARK

__all__ = ["BENCHMARK", "load"]
