"""MedQA (USMLE, English) test split (1,273 clinical questions)."""

from naturalthoughts.benchmarks.medqa.loader import load
from naturalthoughts.benchmarks.medqa.task import BENCHMARK

__all__ = ["BENCHMARK", "load"]
