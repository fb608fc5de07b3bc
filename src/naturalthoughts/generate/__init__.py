"""The generate stage: teacher traces (R1 style: reasoning in <think>...</think>, then the answer).

:class:`GenerateStage` fills ``traces.parquet`` with a row per question and sample, streaming the pool a chunk at
a time and resuming from the run's response cache; :class:`GenerateEstimateStage` projects tokens, time and cost
from a small sample first. ``generate(run, GenerateConfig(...))`` and ``estimate(run, config)`` run them through
the runner from a notebook. See ``nt generate --help``.
"""

from naturalthoughts.generate.config import GenerateConfig, RayOptions
from naturalthoughts.generate.estimate import Estimate, GenerateEstimateStage, estimate
from naturalthoughts.generate.stage import GenerateResult, GenerateStage, generate

__all__ = [
    "Estimate",
    "GenerateConfig",
    "GenerateEstimateStage",
    "GenerateResult",
    "GenerateStage",
    "RayOptions",
    "estimate",
    "generate",
]
