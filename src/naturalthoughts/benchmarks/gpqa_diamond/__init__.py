"""GPQA-Diamond (198 graduate-level science questions, 4 options)."""

from naturalthoughts.benchmarks.gpqa_diamond.loader import BENCHMARK, load

__all__ = ["BENCHMARK", "load"]
