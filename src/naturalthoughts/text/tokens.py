"""Token counting shared by every stage: a named tokenizer, or a fast approximation.

``smollm2`` is the bundled GGUF's own tokenizer (the embedded teacher's and the default student's); a Hugging Face
tokenizer folder or Hub id counts with that tokenizer; ``approx`` counts characters / 4, a well-known rule of thumb
for English BPE tokenizers, about a thousand times faster, for pools of millions of traces where an exact
tokenizer is too slow on a CPU.
"""

from __future__ import annotations

import functools
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from naturalthoughts import assets
from naturalthoughts.errors import ConfigError

APPROX = "approx"
CHARS_PER_TOKEN = 4.0


@functools.lru_cache(maxsize=4)
def load_tokenizer(name: str) -> Any:
    """A fast (Rust) tokenizer: ``smollm2`` from the bundled GGUF, else a folder or Hub id."""
    from transformers import AutoTokenizer

    if name == "smollm2":
        gguf = assets.smollm2_gguf()
        return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    try:
        return AutoTokenizer.from_pretrained(name)
    except OSError as exc:
        raise ConfigError(f"length.tokenizer={name!r} cannot be loaded offline: {exc}") from None


def tokenizer_label(name: str) -> str:
    if name == APPROX:
        return f"approx:chars/{CHARS_PER_TOKEN:g}"
    if name == "smollm2":
        return "SmolLM2-135M-Instruct"
    return name


def count_tokens(texts: pa.Array | pa.ChunkedArray, tokenizer: str) -> pa.Array:
    """Tokens per text (null stays null)."""
    if tokenizer == APPROX:
        chars = pc.utf8_length(texts)
        return pc.cast(pc.ceil(pc.divide(pc.cast(chars, pa.float64()), CHARS_PER_TOKEN)), pa.int64())
    values = texts.to_pylist()
    present = [i for i, text in enumerate(values) if text is not None]
    backend = load_tokenizer(tokenizer).backend_tokenizer
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
    encodings = encode([values[i] for i in present], add_special_tokens=False)
    counts: list[int | None] = [None] * len(values)
    for i, encoding in zip(present, encodings, strict=True):
        counts[i] = len(encoding.ids)
    return pa.array(counts, pa.int64())
