"""Atomic file writes: write to a temporary file in the same folder, then rename.

A crash never leaves a half-written file under the final name, so "the file exists" means
"the stage that writes it finished" (datatrove-style completion check).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def _file_mode() -> int:
    """What ``open()`` would give a new file under the user's umask (mkstemp's own 0600 is too private)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, FILE_MODE)
    try:
        yield tmp
        with open(tmp, "rb") as fh:  # flush to disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(table: pa.Table, target: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write ``table`` to ``target`` atomically (zstd-compressed Parquet)."""
    kwargs.setdefault("compression", "zstd")
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, **kwargs)
    return Path(target)


def write_text(text: str, target: str | os.PathLike[str]) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_json(obj: Any, target: str | os.PathLike[str]) -> Path:
    return write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n", target)


@contextlib.contextmanager
def parquet_writer(target: str | os.PathLike[str], schema: pa.Schema, **kwargs: Any) -> Iterator[pq.ParquetWriter]:
    """Stream record batches into ``target``; the file appears only when the writer closes cleanly."""
    kwargs.setdefault("compression", "zstd")
    with atomic_path(target) as tmp:
        writer = pq.ParquetWriter(tmp, schema, **kwargs)
        try:
            yield writer
        finally:
            writer.close()


@contextlib.contextmanager
def writer_thread(name: str) -> Iterator[ThreadPoolExecutor]:
    """One thread for a stage's Parquet writes (encoding and compression release the GIL). Leaving it waits until
    every write submitted has ended, even when a signal interrupts the wait (the interrupt is raised afterwards):
    the writers they use close next, and closing a ``ParquetWriter`` under a write in flight crashes the process
    (a segmentation fault seen once when Ctrl-C came while ``nt ingest`` waited for its last writes)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    try:
        yield pool
    finally:
        # Waiting on a future, not on the thread: a join that a signal interrupts marks a running thread as ended
        # (CPython's bpo-45274 handling), so it cannot be waited again. The one thread runs its writes in order, so
        # a no-op submitted last ends after all of them.
        last = None
        interrupted: BaseException | None = None
        while True:
            try:
                last = last or pool.submit(int)
                last.result()
                break
            except BaseException as exc:  # a signal during the wait: re-raised once the writes have ended
                interrupted = interrupted or exc
        pool.shutdown(wait=True)
        if interrupted is not None:
            raise interrupted


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; on success it replaces ``target`` (the folder form of
    :func:`atomic_path`: "the folder exists" means "it is complete"). The name ``.NAME.XXXX.tmp`` is the one the
    runner sweeps away after a killed run."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, FILE_MODE | 0o111)  # mkdtemp's 0700 is too private for a shared run directory
    try:
        yield tmp
        replace_dir(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def replace_dir(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target``; an existing ``target`` is moved aside first, then deleted."""
    if not target.exists():
        os.replace(new, target)
        return
    old = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old.tmp")
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
