"""reasoning-gym tasks as a benchmark: held-out generated items graded by each task's own scorer."""

from naturalthoughts.benchmarks.reasoning_gym.loader import load
from naturalthoughts.benchmarks.reasoning_gym.task import BENCHMARK

__all__ = ["BENCHMARK", "load"]
