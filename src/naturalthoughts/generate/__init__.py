"""The generate stage: teacher traces (R1 style: reasoning in <think>...</think>, then the answer).

``generate(run, GenerateConfig(...))`` fills ``traces.parquet`` with a row per question and sample,
resuming from the run's response cache; ``estimate(run, config)`` projects tokens, time and cost
from a small sample first. See ``nt generate --help``.
"""

from naturalthoughts.generate.config import GenerateConfig, RayOptions
from naturalthoughts.generate.stage import Estimate, GenerateResult, estimate, generate

__all__ = ["Estimate", "GenerateConfig", "GenerateResult", "RayOptions", "estimate", "generate"]
