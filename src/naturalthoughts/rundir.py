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

from naturalthoughts.errors import MissingInputError

# The command that produces each table, so a missing input can say what to run.
PRODUCED_BY = {
    "questions": "nt ingest SOURCE... --run {run}",
    "traces": "nt generate --run {run}",
    "annotations": "nt annotate --run {run}",
    "embeddings": "nt annotate --run {run} --only embeddings",
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
        """Return the path of ``table`` or raise an error naming the command that produces it."""
        path: Path = getattr(self, table)
        if not path.exists():
            command = PRODUCED_BY.get(table, "the stage that writes it").format(run=self.root)
            raise MissingInputError(f"{path} does not exist: run `{command}` first.")
        return path

    def read(self, table: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self.require(table), columns=columns)
