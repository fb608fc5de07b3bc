"""GSM8K test split (1,319 grade-school maths word problems)."""

from naturalthoughts.benchmarks.gsm8k.loader import load
from naturalthoughts.benchmarks.gsm8k.task import BENCHMARK

__all__ = ["BENCHMARK", "load"]
