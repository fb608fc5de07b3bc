"""What the report reads: the run directory's tables (whichever exist) and its manifest, loaded once.

Columns are read one at a time and aligned with the traces' row order (the pool order), so the report's memory
grows with the columns it draws, not with the size of the trace texts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.errors import BadInputError
from naturalthoughts.manifest import Manifest
from naturalthoughts.report.config import ReportConfig
from naturalthoughts.rundir import RunDir

# Which key of which table joins it to the traces.
_KEYS = {
    "traces": ("trace_id", "trace_id"),
    "annotations": ("trace_id", "trace_id"),
    "questions": ("id", "question_id"),
}


@dataclass
class ReportInputs:
    run: RunDir
    config: ReportConfig = field(default_factory=ReportConfig)
    _cache: dict[str, Any] = field(default_factory=dict)

    # ---- the manifest ----------------------------------------------------------------------------------------
    @functools.cached_property
    def manifest(self) -> dict[str, Any]:
        return Manifest(self.run.manifest).load()

    @property
    def stages(self) -> dict[str, list[dict[str, Any]]]:
        return self.manifest.get("stages", {})

    def latest(self, key: str, statuses: tuple[str, ...] = ("done", "stopped")) -> dict[str, Any] | None:
        for record in reversed(self.stages.get(key, [])):
            if record.get("status") in statuses:
                return record
        return None

    # ---- the pool: trace-aligned columns ---------------------------------------------------------------------
    @property
    def has_traces(self) -> bool:
        return self.run.traces.exists()

    @functools.cached_property
    def _ids(self) -> pa.Table:
        table = pq.read_table(self.run.traces, columns=["trace_id", "question_id"])
        return table.combine_chunks()

    @property
    def n(self) -> int:
        return self._ids.num_rows

    @property
    def trace_ids(self) -> pa.Array:
        return self._ids["trace_id"].chunk(0) if self.n else pa.array([], pa.string())

    def has_column(self, table: str, column: str) -> bool:
        path: Path = getattr(self.run, table)
        return path.exists() and column in pq.read_schema(path).names

    def _indexer(self, table: str) -> np.ndarray | None:
        """For each trace, its row in ``table`` (-1 if none); None when the table is in trace order already."""
        key = f"indexer:{table}"
        if key not in self._cache:
            import pandas as pd

            own_key, trace_key = _KEYS[table]
            ids = pq.read_table(getattr(self.run, table), columns=[own_key])[own_key].combine_chunks()
            wanted = self._ids[trace_key].combine_chunks() if self.n else pa.array([], pa.string())
            if ids.equals(wanted):
                self._cache[key] = None
            else:
                index = pd.Index(ids.to_numpy(zero_copy_only=False))
                if not index.is_unique:
                    duplicate = index[index.duplicated()][0]
                    raise BadInputError(f"{getattr(self.run, table)}: duplicate {own_key} {duplicate!r}; "
                                        "rerun the stage that writes it.")  # fmt: skip
                self._cache[key] = index.get_indexer(wanted.to_numpy(zero_copy_only=False)).astype(np.int64)
        return self._cache[key]

    def column(self, table: str, column: str) -> pa.Array:
        """``column`` of ``table`` in trace order (all null when the table or the column is missing)."""
        key = f"column:{table}:{column}"
        if key in self._cache:
            return self._cache[key]
        if not self.has_column(table, column):
            values = pa.nulls(self.n)
        else:
            values = pq.read_table(getattr(self.run, table), columns=[column])[column].combine_chunks()
            indexer = self._indexer(table)
            if indexer is not None:
                values = values.take(pa.array(indexer, mask=indexer < 0))
        self._cache[key] = values
        return values

    def numbers(self, table: str, column: str) -> np.ndarray:
        """A numeric or boolean column as float64 in trace order, NaN for null."""
        values = self.column(table, column)
        if pa.types.is_null(values.type):
            return np.full(self.n, np.nan)
        return values.cast(pa.float64()).to_numpy(zero_copy_only=False)

    def flags(self, table: str, column: str) -> np.ndarray:
        """A boolean column as int8: 1 true, 0 false, -1 unknown (null, or not annotated)."""
        values = self.numbers(table, column)
        return np.where(np.isnan(values), -1, values).astype(np.int8)

    def preferred(self, column: str) -> np.ndarray:
        """A token count: the annotations' count (named tokenizer) where present, else the generator's."""
        own = self.numbers("traces", column)
        annotated = self.numbers("annotations", column)
        return np.where(np.isnan(annotated), own, annotated)

    def codes(self, table: str, column: str) -> tuple[np.ndarray, list[str]]:
        """A string column as integer codes (-1 for null) and its sorted category names."""
        values = self.column(table, column)
        if pa.types.is_null(values.type) or not len(values):
            return np.full(self.n, -1, dtype=np.int64), []
        encoded = pc.dictionary_encode(values)
        names = encoded.dictionary.to_pylist()
        order = sorted(range(len(names)), key=lambda i: str(names[i]))
        remap = np.empty(len(names), dtype=np.int64)
        remap[order] = np.arange(len(names))
        raw = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        codes = np.where(raw >= 0, remap[np.maximum(raw, 0)] if len(names) else -1, -1)
        return codes, [str(names[i]) for i in order]

    def strategy_sets(self) -> tuple[pa.Array, bool]:
        """The ``strategies`` list column in trace order and whether the run has it at all."""
        present = self.has_column("annotations", "strategies")
        return self.column("annotations", "strategies"), present

    # ---- selections ------------------------------------------------------------------------------------------
    @functools.cached_property
    def selection_names(self) -> list[str]:
        """The selections the report shows: every one but those made from older traces (:attr:`stale_selections`)."""
        folder = self.run.selections_dir
        names = sorted(p.stem for p in folder.glob("*.parquet")) if folder.exists() else []
        return [name for name in names if name not in self.stale_selections]

    @functools.cached_property
    def stale_selections(self) -> dict[str, str]:
        """Selections computed from older traces (made by hand before the traces changed, so ``nt run`` did not
        refresh them): left out of the report, each with the command that makes it again."""
        from naturalthoughts.select.stage import stale_selections

        return stale_selections(self.run)

    def selection_rows(self, name: str) -> tuple[np.ndarray, int]:
        """Pool rows of a selection in rank order, and how many of its trace ids are no longer in the pool."""
        import pandas as pd

        key = "trace_index"
        if key not in self._cache:
            self._cache[key] = pd.Index(self.trace_ids.to_numpy(zero_copy_only=False))
        table = pq.read_table(self.run.selection(name), columns=["trace_id", "rank"]).sort_by("rank")
        rows = self._cache[key].get_indexer(table["trace_id"].to_numpy())
        return rows[rows >= 0], int((rows < 0).sum())

    # ---- what the stage declares -----------------------------------------------------------------------------
    def input_files(self) -> list[Path]:
        """Every table the report reads that exists now (the stage's declared inputs)."""
        from naturalthoughts.report import later
        from naturalthoughts.report.study import study_input_files

        run = self.run
        files = [p for p in (run.questions, run.rejected, run.traces, run.annotations) if p.exists()]
        files += [run.selection(name) for name in self.selection_names]
        return files + later.input_files(run) + study_input_files(run)
