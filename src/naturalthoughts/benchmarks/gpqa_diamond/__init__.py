"""GPQA-Diamond (198 graduate-level science questions, 4 options)."""

from naturalthoughts.benchmarks.gpqa_diamond.loader import load
from naturalthoughts.benchmarks.gpqa_diamond.task import BENCHMARK

__all__ = ["BENCHMARK", "load"]
