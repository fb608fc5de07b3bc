"""SuperGPQA (26,529 questions over 285 disciplines); not installed: pass a file or Hub id."""

from naturalthoughts.benchmarks.supergpqa.loader import load
from naturalthoughts.benchmarks.supergpqa.task import BENCHMARK

__all__ = ["BENCHMARK", "load"]
