"""Content hashes, in one place: the canonical JSON of a value and its sha256, and the digest of a file or folder.

Every fingerprint the toolkit records (a stage's config in the manifest, an input or output file, a cache key, a
model's identity) is computed here, so two places never hash "the same thing" two different ways.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

_FULL_HASH_BYTES = 64 << 20  # files up to this size are hashed whole
_WINDOW = 256 << 10  # bigger files: head, tail and evenly spaced windows of this size
_WINDOWS = 32


def canonical_json(value: Any) -> str:
    """``value`` as JSON with sorted keys and no spaces (anything JSON cannot hold as its ``str``)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_sha256(value: Any) -> str:
    """sha256 (hex) of :func:`canonical_json`: equal for equal values whatever their key order."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def short_hash(value: Any, length: int = 12) -> str:
    """The first ``length`` hex digits of :func:`canonical_sha256`."""
    return canonical_sha256(value)[:length]


def file_digest(path: Path) -> str:
    """sha256 of a file's content: whole up to 64 MiB, else size + head + tail + 32 evenly spaced windows.

    Hashing a multi-GB Parquet file in full on every command would cost more than most stages; the sampled digest
    changes with the footer (row counts, statistics, offsets) of any rewritten Parquet file.
    """
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        if size <= _FULL_HASH_BYTES:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
            return digest.hexdigest()
        edge = 16 * _WINDOW  # 4 MiB at each end: the Parquet footer lives at the end
        step = (size - 2 * edge) // (_WINDOWS + 1)
        spans = [(0, edge), *((edge + step * (i + 1), _WINDOW) for i in range(_WINDOWS)), (size - edge, edge)]
        for offset, length in spans:
            fh.seek(offset)
            digest.update(fh.read(length))
    return digest.hexdigest()


def _ignored(path: Path) -> bool:
    """Temporary files of atomic writes and lock files are not content."""
    return path.name.startswith(".") and (path.name.endswith(".tmp") or path.name.endswith(".lock"))


def fingerprint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"bytes", "sha256"}`` of a file, ``{"files", "bytes", "sha256"}`` of a folder, ``{"exists": False}``."""
    path = Path(path)
    if not path.exists():
        return {"exists": False}
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not _ignored(p))
        digest = hashlib.sha256()
        total = 0
        for f in files:
            total += f.stat().st_size
            digest.update(f"{f.relative_to(path)}:{file_digest(f)}\n".encode())
        return {"files": len(files), "bytes": total, "sha256": digest.hexdigest()}
    return {"bytes": path.stat().st_size, "sha256": file_digest(path)}
