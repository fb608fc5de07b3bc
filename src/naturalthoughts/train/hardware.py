"""What the hardware offers for training: the device and the distributed world (bf16: ``resources.bf16_native``)."""

from __future__ import annotations

import os


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def world_size() -> int:
    """Processes in this training job (``accelerate launch`` / ``torchrun`` set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))
