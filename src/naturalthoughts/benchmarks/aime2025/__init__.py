"""AIME 2025 (30 problems from AIME I and II, integer answers 0-999)."""

from naturalthoughts.benchmarks.aime2025.loader import load
from naturalthoughts.benchmarks.aime2025.task import BENCHMARK

__all__ = ["BENCHMARK", "load"]
