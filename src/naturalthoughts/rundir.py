"""The run directory: one pipeline run's tables, models and manifest, under fixed names.

Stages find their inputs and write their outputs through :class:`RunDir`, never through ad-hoc
paths, so the layout documented in ``docs/architecture.md`` is true by construction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from naturalthoughts.errors import Fix, MissingInputError

# The stage that produces each table, so a missing input can say what to run.
PRODUCED_BY = {
    "questions": Fix("ingest", "SOURCE..."),
    "traces": Fix("generate"),
    "annotations": Fix("annotate"),
    "embeddings": Fix("annotate", only="embeddings"),
}


@dataclass(frozen=True)
class RunDir:
    root: Path

    def __init__(self, root: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "root", Path(root))

    # ---- fixed layout -------------------------------------------------------------------------
    @property
    def questions(self) -> Path:
        return self.root / "questions.parquet"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected.parquet"

    @property
    def traces(self) -> Path:
        return self.root / "traces.parquet"

    @property
    def annotations(self) -> Path:
        return self.root / "annotations.parquet"

    @property
    def embeddings(self) -> Path:
        return self.root / "embeddings.parquet"

    @property
    def selections_dir(self) -> Path:
        return self.root / "selections"

    def selection(self, name: str) -> Path:
        return self.selections_dir / f"{name}.parquet"

    @property
    def sft_dir(self) -> Path:
        return self.root / "sft"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def report_data(self) -> Path:
        """The trace browser's side files (text chunks loaded on demand by report.html)."""
        return self.root / "report_data"

    @property
    def study_dir(self) -> Path:
        return self.root / "study"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def cache_db(self) -> Path:
        """The content-addressed model response cache (SQLite, WAL) shared by every model-calling stage."""
        return self.root / "cache" / "responses.sqlite"

    # ---- helpers --------------------------------------------------------------------------------
    def ensure(self) -> RunDir:
        self.root.mkdir(parents=True, exist_ok=True)
        return self

    def require(self, table: str) -> Path:
        """Return the path of ``table`` or raise an error naming the stage that produces it."""
        path: Path = getattr(self, table)
        if not path.exists():
            fix = PRODUCED_BY.get(table)
            if fix is None:
                raise MissingInputError(f"{path} does not exist: run the stage that writes it first.")
            raise MissingInputError(f"{path} does not exist: run {{fix}} first.", fix=fix.at(self))
        return path

    def read(self, table: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self.require(table), columns=columns)

    def traces_fingerprint(self) -> str:
        """A content hash of every response in ``traces.parquet``, independent of row order.

        Annotations and selections record it; when it no longer matches, what they were computed from has
        changed (``nt generate --retry``, a new temperature) and they are stale. It reads two narrow columns
        (``trace_id``, ``response_hash``); files written before ``response_hash`` existed hash their text columns.
        """
        return traces_fingerprint(self.require("traces"))


TRACE_CONTENT_COLUMNS = ("reasoning", "answer", "finish_reason", "error")


def traces_fingerprint(path: Path) -> str:
    import hashlib

    import pyarrow.compute as pc

    names = pq.read_schema(path).names
    columns = ["trace_id", "response_hash"] if "response_hash" in names else ["trace_id", *TRACE_CONTENT_COLUMNS]
    table = pq.read_table(path, columns=[c for c in columns if c in names])
    table = table.take(pc.sort_indices(table, [("trace_id", "ascending")]))
    digest = hashlib.sha256()
    for name in table.column_names:
        column = table.column(name).combine_chunks().cast(pa.string()).fill_null("\x00")
        digest.update(name.encode())
        for buffer in (column.buffers()[1], column.buffers()[2]):  # offsets and UTF-8 data
            digest.update(memoryview(buffer) if buffer is not None else b"")
    return digest.hexdigest()[:32]
