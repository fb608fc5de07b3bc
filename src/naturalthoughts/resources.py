"""What this process may use of the machine as it is: CPU cores (affinity, cgroup quota) and memory peaks.

One home for the decisions every stage that computes makes the same way:

- :func:`cpu_budget`: how many cores this process may run on, and why (the CPUs of its affinity mask, capped by a
  cgroup CPU quota: a container or a job scheduler's limit), with ``NT_CPUS`` as the user's override;
- :func:`torch_threads`: torch's intra-op threads set from that budget (so torch and an embedded llama.cpp in one
  process do not oversubscribe the cores);
- :func:`bf16_native` / :func:`compute_dtype`: whether the device computes bfloat16 natively, and so which dtype a
  small model runs in on it (bfloat16 where native, float32 where torch would emulate it: several times slower);
- :func:`peak_rss_mb` / :func:`reset_peak_rss`: the process's peak resident memory since the last reset (Linux
  ``VmHWM``, reset through ``/proc/self/clear_refs``), so the runner records each stage's own peak.

Why single-threaded work pieces: on a machine shared with other work, a compute graph split over N threads waits at
every step for the slowest thread, and one thread that loses its core to a neighbour stalls the others (measured in
benchmarks/README.md: llama.cpp at 2 threads made 10x fewer tokens per CPU-second than at 1 thread under load).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

CPUS_ENV = "NT_CPUS"


@dataclass(frozen=True)
class CpuBudget:
    """The cores this process may use (``cores``) and where that number comes from (``why``)."""

    cores: int
    why: str


def affinity_cores() -> int:
    """CPUs in this process's affinity mask (``taskset``, a cpuset), else every CPU the OS reports."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cgroup_quota(root: Path = Path("/sys/fs/cgroup"), cgroup_file: Path = Path("/proc/self/cgroup")) -> float | None:
    """The CPU quota of this process's cgroup in cores (``cpu.max`` in v2, ``cfs_quota_us / cfs_period_us`` in v1);
    None when there is none or it cannot be read."""
    try:
        lines = cgroup_file.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "":  # cgroup v2: one unified hierarchy
            quota = _v2_quota(root / relative) or _v2_quota(root)
        elif "cpu" in controllers.split(","):
            quota = _v1_quota(root / "cpu" / relative) or _v1_quota(root / "cpu")
        else:
            continue
        if quota is not None:
            return quota
    return None


def _v2_quota(folder: Path) -> float | None:
    try:
        limit, period = (folder / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if limit == "max" else int(limit) / int(period)


def _v1_quota(folder: Path) -> float | None:
    try:
        limit = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if limit <= 0 or period <= 0 else limit / period


def cpu_budget() -> CpuBudget:
    """How many cores this process may keep busy: ``NT_CPUS`` if set, else the affinity mask capped by the cgroup
    quota (rounded up: a quota of 1.5 cores still lets two threads make progress)."""
    override = os.environ.get(CPUS_ENV)
    if override:
        try:
            return CpuBudget(max(1, int(override)), f"{CPUS_ENV}={override}")
        except ValueError:
            pass  # a bad override is ignored, not fatal: the budget below is still right
    cores = affinity_cores()
    why = f"{cores} CPU{'s' if cores != 1 else ''} in this process's affinity mask"
    quota = cgroup_quota()
    if quota is not None and math.ceil(quota) < cores:
        cores = max(1, math.ceil(quota))
        why += f", capped by a cgroup CPU quota of {quota:g} cores"
    return CpuBudget(cores, why)


_torch_threads_set: int | None = None


def torch_threads(reserved: int = 0) -> int:
    """Set torch's intra-op threads to the CPU budget minus ``reserved`` cores (at least one) and return it.

    Inter-op threads go to 1: the models here are run one operator at a time.
    """
    global _torch_threads_set
    import torch

    threads = max(1, cpu_budget().cores - reserved)
    if _torch_threads_set != threads:
        torch.set_num_threads(threads)
        # Allowed once, before any inter-op parallel work started: otherwise keep what is set.
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
        _torch_threads_set = threads
    return threads


# ---- number formats ----------------------------------------------------------------------------------------------

# Measured on a 2-core AMD EPYC (Zen 3, AVX2 without AVX-512): the bundled 135M student read prompts at 63 tokens/s
# in bfloat16 against 371 in float32, and answered 32 GSM8K questions at 28.0 tokens/s against 71.1
# (benchmarks/README.md, "bf16 where the CPU has it"). On a CPU with AMX, bfloat16 was the faster of the two.


def bf16_native(device_type: str) -> bool:
    """bf16 on a GPU that has it (Ampere and newer), or a CPU with AVX512-BF16 or AMX; elsewhere torch emulates it."""
    import torch

    if device_type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device_type != "cpu":
        return False
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def compute_dtype(device_type: str) -> str:
    """``bfloat16`` where ``device_type`` computes it natively, else ``float32`` (the name transformers takes)."""
    return "bfloat16" if bf16_native(device_type) else "float32"


# ---- memory ----------------------------------------------------------------------------------------------------

_STATUS = Path("/proc/self/status")


def _status_kb(field: str) -> int | None:
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def rss_mb() -> float | None:
    """Resident memory of this process now, in MB (None where /proc is missing)."""
    kb = _status_kb("VmRSS")
    return None if kb is None else kb / 1024


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process since it started or since :func:`reset_peak_rss`, in MB."""
    kb = _status_kb("VmHWM")
    if kb is None:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux; a lifetime peak elsewhere
    return kb / 1024


def reset_peak_rss() -> bool:
    """Start a new peak (Linux: ``5`` into ``/proc/self/clear_refs``); False where it cannot be reset."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def trim_heap() -> None:
    """Hand the heap memory glibc keeps after ``free`` back to the OS (``malloc_trim``; a no-op elsewhere).

    Tensors of changing shapes (a training step's batch, a growing KV cache) leave freed blocks in glibc's arenas
    that the next step's differently sized tensors do not reuse, so a long loop's resident size creeps up by tens
    of MB a step unless it is trimmed; a trim costs milliseconds.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).malloc_trim(0)


def release_memory() -> None:
    """Collect garbage and hand freed heap memory back to the OS (glibc keeps freed small blocks in its arenas, so a
    finished stage's memory would otherwise still count in the next stage's resident size)."""
    import gc
    import sys

    gc.collect()
    trim_heap()
    if "pyarrow" in sys.modules:  # Arrow's own allocator (jemalloc or mimalloc) keeps freed buffers otherwise
        sys.modules["pyarrow"].default_memory_pool().release_unused()
