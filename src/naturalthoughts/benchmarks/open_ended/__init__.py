"""Open-ended questions with a reference answer, graded by an LLM judge (a local file you provide)."""

from naturalthoughts.benchmarks.open_ended.loader import load
from naturalthoughts.benchmarks.open_ended.task import BENCHMARK

__all__ = ["BENCHMARK", "load"]
