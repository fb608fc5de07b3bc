"""Training: TRL SFTTrainer on the SFT data, from a laptop CPU to a GPU cluster (``nt train``).

Imports are lazy: ``naturalthoughts.sft`` uses :mod:`naturalthoughts.student` without loading TRL.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PRESETS", "TrainConfig", "TrainStage"]


def __getattr__(name: str) -> Any:
    if name in ("PRESETS", "TrainConfig"):
        from naturalthoughts.train import config

        return getattr(config, name)
    if name == "TrainStage":
        from naturalthoughts.train.stage import TrainStage

        return TrainStage
    raise AttributeError(name)
