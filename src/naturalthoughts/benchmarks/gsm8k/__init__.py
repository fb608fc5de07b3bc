"""GSM8K test split (1,319 grade-school maths word problems)."""

from naturalthoughts.benchmarks.gsm8k.loader import BENCHMARK, load

__all__ = ["BENCHMARK", "load"]
