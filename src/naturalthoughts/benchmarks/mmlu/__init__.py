"""MMLU test split (14,042 four-option questions over 57 subjects)."""

from naturalthoughts.benchmarks.mmlu.loader import BENCHMARK, load

__all__ = ["BENCHMARK", "load"]
