"""Benchmarks: one sub-package per benchmark, each with a loader returning :class:`BenchmarkItem` s.

This module is the one registry. Bundled benchmarks load from installed packages; the others
(MMLU-Pro, SuperGPQA) need a local file or a Hub id. The evaluation stage extends each
sub-package with its prompt and grading.
"""

from __future__ import annotations

from naturalthoughts.benchmarks import aime2025, gpqa_diamond, gsm8k, math500, mmlu, mmlu_pro, supergpqa
from naturalthoughts.benchmarks.datafiles import BenchmarkUnavailable
from naturalthoughts.benchmarks.items import BenchmarkItem
from naturalthoughts.benchmarks.registry import Benchmark
from naturalthoughts.errors import ConfigError

REGISTRY: dict[str, Benchmark] = {
    module.BENCHMARK.name: module.BENCHMARK
    for module in (gpqa_diamond, mmlu, gsm8k, aime2025, math500, mmlu_pro, supergpqa)
}
BUNDLED: tuple[str, ...] = tuple(name for name, b in REGISTRY.items() if b.bundled)


def get(name: str) -> Benchmark:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown benchmark '{name}'; known: {', '.join(REGISTRY)}") from None


def load(name: str, source: str | None = None) -> list[BenchmarkItem]:
    """Items of benchmark ``name``; ``source`` (a file or ``hf:ID``) overrides the bundled data."""
    benchmark = get(name)
    if source and not benchmark.accepts_source:
        raise ConfigError(
            f"benchmark '{name}' loads from its installed package and takes no file or Hub id (got {name}={source})"
        )
    return benchmark.load(source)


__all__ = ["BUNDLED", "REGISTRY", "Benchmark", "BenchmarkItem", "BenchmarkUnavailable", "get", "load"]
