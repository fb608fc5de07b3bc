"""Model fingerprints for engine identities (part of every cache key), computed without loading a model."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from naturalthoughts.digest import short_hash


@functools.lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def file_sha256(path: str | Path) -> str:
    """The file's sha256, hashed once per process for an unchanged file (size and mtime are in the memo key)."""
    stat = Path(path).stat()
    return _file_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


__all__ = ["checkpoint_identity", "file_sha256", "short_hash"]


def checkpoint_identity(model: str, revision: str | None) -> str:
    """``name@fingerprint`` for a local checkpoint folder (changes when any file changes), else ``id@revision``.

    Hashing the weights of a multi-GB checkpoint on every run would cost minutes, so a folder is
    fingerprinted by its file names, sizes and modification times plus the contents of its small JSON
    files (config, tokenizer, generation config): a retrained or edited model always gets a new identity.
    """
    folder = Path(model)
    if not folder.is_dir():
        return f"{model}@{revision or 'main'}"
    entries = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        entry: list[Any] = [str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns]
        if path.suffix == ".json" and stat.st_size < 1_000_000:
            entry.append(hashlib.sha256(path.read_bytes()).hexdigest())
        entries.append(entry)
    return f"{folder.name}@{short_hash(entries)}"
