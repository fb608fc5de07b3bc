"""What the hardware offers for training: the device, bf16 support, the distributed world."""

from __future__ import annotations

import os


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def bf16_supported(device_type: str) -> bool:
    """bf16 on a GPU that has it (Ampere and newer), or a CPU with AVX512-BF16 or AMX (autocast runs natively)."""
    import torch

    if device_type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def world_size() -> int:
    """Processes in this training job (``accelerate launch`` / ``torchrun`` set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))
