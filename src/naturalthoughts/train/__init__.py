"""Training: TRL SFTTrainer on the SFT data, from a laptop CPU to a GPU cluster (``nt train``).

Imports are lazy: ``naturalthoughts.sft`` uses :mod:`naturalthoughts.student` without loading TRL.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PRESETS", "TrainConfig", "TrainStage", "train"]


def __getattr__(name: str) -> Any:
    if name == "train":  # train(run, config=None, *, sft=NAME, name=None, force=False, quiet=False)
        from naturalthoughts.shortcuts import shortcut

        return shortcut("train")
    if name in ("PRESETS", "TrainConfig"):
        from naturalthoughts.train import config

        return getattr(config, name)
    if name == "TrainStage":
        from naturalthoughts.train.stage import TrainStage

        return TrainStage
    raise AttributeError(name)
