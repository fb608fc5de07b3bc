"""The benchmark registry entry type (the registry itself is ``naturalthoughts.benchmarks.REGISTRY``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from naturalthoughts.benchmarks.items import BenchmarkItem


@dataclass(frozen=True)
class Benchmark:
    """A loadable benchmark.

    ``load(source)`` returns its items; ``source`` is a local file or ``hf:ID`` and is required
    when ``bundled`` is false (the data is not installed with the project).
    """

    name: str
    load: Callable[[str | None], list[BenchmarkItem]]
    bundled: bool
    expected: int | None = None  # item count of the official release, checked by tests
    description: str = ""
    accepts_source: bool = False  # whether load() reads a given file / hf id (else only the installed data)
