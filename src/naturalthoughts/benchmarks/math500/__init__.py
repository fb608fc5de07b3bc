"""MATH-500 (the 500-problem MATH test subset of "Let's Verify Step by Step")."""

from naturalthoughts.benchmarks.math500.loader import load
from naturalthoughts.benchmarks.math500.task import BENCHMARK

__all__ = ["BENCHMARK", "load"]
