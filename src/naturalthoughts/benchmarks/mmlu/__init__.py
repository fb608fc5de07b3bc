"""MMLU test split (14,042 four-option questions over 57 subjects)."""

from naturalthoughts.benchmarks.mmlu.loader import load
from naturalthoughts.benchmarks.mmlu.task import BENCHMARK

__all__ = ["BENCHMARK", "load"]
