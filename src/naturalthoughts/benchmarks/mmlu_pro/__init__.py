"""MMLU-Pro (12,032 ten-option questions); not installed: pass a file or Hub id."""

from naturalthoughts.benchmarks.mmlu_pro.loader import load
from naturalthoughts.benchmarks.mmlu_pro.task import BENCHMARK

__all__ = ["BENCHMARK", "load"]
