"""The candidate pool: one row per trace in ``traces.parquet``, with columns joined in on demand.

Selection works on whole columns (numpy arrays aligned with the traces' row order) and reads only the
columns the expression needs. Annotation columns come from ``annotations.parquet`` (joined on ``trace_id``),
the reference answer from ``questions.parquet`` (on ``question_id``) and vectors from ``embeddings.parquet``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.errors import BadInputError, MissingInputError
from naturalthoughts.rundir import RunDir


class MissingColumnError(MissingInputError):
    """A method or filter needs an annotation column that the run does not have."""


# Where each column comes from: (table, the `nt annotate --only` annotator that writes it, or None).
COLUMN_SOURCES: dict[str, tuple[str, str | None]] = {
    "complete": ("traces", None),
    "finish_reason": ("traces", None),
    "reasoning_tokens": ("traces", None),  # annotations' count preferred when present, see Pool._reasoning_tokens
    "domain": ("annotations", "domain"),
    "field": ("annotations", "domain"),
    "strategies": ("annotations", "strategies"),
    "n_strategies": ("annotations", "strategies"),
    "strategy_density": ("annotations", "strategies"),
    "verbosity": ("annotations", "verbosity"),
    "correct": ("annotations", "correctness"),
    "disagree": ("annotations", "disagree"),
    "reference_answer": ("questions", None),
    "embedding": ("embeddings", "embeddings"),
}


def producing_command(run: RunDir, column: str) -> str:
    table, annotator = COLUMN_SOURCES[column]
    if annotator:
        return f"nt annotate --run {run.root} --only {annotator}"
    return f"nt ingest SOURCE... --run {run.root}" if table == "questions" else f"nt generate --run {run.root}"


def _dictionary_codes(array: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 for null) with categories sorted by name, so codes do not depend on row order."""
    encoded = pc.dictionary_encode(array)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks != 1 else encoded.chunk(0)
        if isinstance(encoded, pa.ChunkedArray):  # empty
            return np.zeros(0, dtype=np.int64), []
    categories = encoded.dictionary.to_pylist()
    order = np.argsort(np.array(categories, dtype=object), kind="stable") if categories else np.zeros(0, np.int64)
    remap = np.empty(len(categories), dtype=np.int64)
    remap[order] = np.arange(len(categories))
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    codes = np.where(codes >= 0, remap[np.maximum(codes, 0)] if len(remap) else -1, -1)
    return codes, [categories[i] for i in order]


@dataclass
class Pool:
    """Lazy, column-wise view of the traces of one run."""

    run: RunDir
    trace_id: pa.Array
    question_id: pa.Array
    _cache: dict[str, object] = field(default_factory=dict)

    @classmethod
    def load(cls, run: RunDir) -> Pool:
        import pandas as pd  # lazy: keeps `nt` start-up light

        table = run.read("traces", columns=["trace_id", "question_id"])
        trace_id = table["trace_id"].combine_chunks()
        if pc.count_distinct(trace_id).as_py() != len(trace_id):
            ids = pd.Series(trace_id.to_numpy(zero_copy_only=False))
            row = int(np.flatnonzero(ids.duplicated().to_numpy())[0])
            raise BadInputError(f"{run.traces}: row {row + 1}: duplicate trace_id {ids[row]!r}")
        return cls(run, trace_id, table["question_id"].combine_chunks())

    @property
    def n(self) -> int:
        return len(self.trace_id)

    # ---- joining ------------------------------------------------------------------------------------------
    def _index_of(self, ids: pa.Array, table: str, key: str, keys: pa.Array) -> np.ndarray:
        """For each value of ``keys`` (pool order), the row of ``ids`` holding it, or -1."""
        import pandas as pd  # lazy: keeps `nt` start-up light

        cache_key = f"_index:{table}"
        if cache_key in self._cache:
            return self._cache[cache_key]  # type: ignore[return-value]
        if ids.equals(keys):
            indexer = np.arange(len(keys), dtype=np.int64)
        else:
            index = pd.Index(ids.to_numpy(zero_copy_only=False))
            if not index.is_unique:
                dup = index[index.duplicated()][0]
                row = int(np.flatnonzero(index == dup)[1]) + 1
                raise BadInputError(f"{getattr(self.run, table)}: row {row}: duplicate {key} {dup!r}")
            indexer = index.get_indexer(keys.to_numpy(zero_copy_only=False)).astype(np.int64)
        self._cache[cache_key] = indexer
        return indexer

    def _aligned(self, table: str, column: str) -> pa.Array:
        """``column`` of ``table`` in pool row order (null where the table has no row for a trace)."""
        path = getattr(self.run, table)
        if table == "traces":
            return pq.read_table(path, columns=[column])[column].combine_chunks()
        key, pool_keys = ("id", self.question_id) if table == "questions" else ("trace_id", self.trace_id)
        data = pq.read_table(path, columns=[key, column])
        indexer = self._index_of(data[key].combine_chunks(), table, key, pool_keys)
        values = data[column].combine_chunks()
        identity = len(indexer) == len(values) and np.array_equal(indexer, np.arange(len(values)))
        if not identity:
            values = values.take(pa.array(indexer, mask=indexer < 0))
        return values

    def has_column(self, column: str) -> bool:
        table, _ = COLUMN_SOURCES[column]
        path = getattr(self.run, table)
        return path.exists() and column in pq.read_schema(path).names

    def require(self, column: str, who: str) -> None:
        """Raise an error naming the command to run when ``column`` is absent or entirely null."""
        table, _ = COLUMN_SOURCES[column]
        path = getattr(self.run, table)
        command = producing_command(self.run, column)
        if not path.exists():
            raise MissingColumnError(f"{who} needs `{column}`, but {path} does not exist: run `{command}` first.")
        if column not in pq.read_schema(path).names:
            raise MissingColumnError(f"{who} needs `{column}`, which {path} does not have: run `{command}` first.")
        if column != "embedding" and self.n and not self.valid(column).any():
            raise MissingColumnError(
                f"{who} needs `{column}`, which is null for every trace in {path}: run `{command}` first."
            )

    # ---- columns ------------------------------------------------------------------------------------------
    def arrow(self, column: str) -> pa.Array:
        key = f"arrow:{column}"
        if key not in self._cache:
            if column == "reasoning_tokens":
                self._cache[key] = self._reasoning_tokens()
            else:
                self._cache[key] = self._aligned(COLUMN_SOURCES[column][0], column)
        return self._cache[key]  # type: ignore[return-value]

    def _reasoning_tokens(self) -> pa.Array:
        # The annotations count with a named tokenizer; prefer it, fall back to the generator's count.
        own = self._aligned("traces", "reasoning_tokens").cast(pa.int64())
        if self.run.annotations.exists() and "reasoning_tokens" in pq.read_schema(self.run.annotations).names:
            annotated = self._aligned("annotations", "reasoning_tokens").cast(pa.int64())
            return pc.coalesce(annotated, own)
        return own

    def valid(self, column: str) -> np.ndarray:
        if column == "embedding":
            return self.embeddings()[1]
        return self.arrow(column).is_valid().to_numpy(zero_copy_only=False)

    def numbers(self, column: str) -> np.ndarray:
        """A numeric or boolean column as float64, NaN for null."""
        key = f"num:{column}"
        if key not in self._cache:
            arr = self.arrow(column)
            self._cache[key] = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
        return self._cache[key]  # type: ignore[return-value]

    def flag(self, column: str) -> np.ndarray:
        """A boolean column as a bool array; null counts as False."""
        return self.arrow(column).fill_null(False).to_numpy(zero_copy_only=False).astype(bool)

    def codes(self, column: str) -> tuple[np.ndarray, list[str]]:
        """A string column as integer codes (-1 for null) and the sorted category names."""
        key = f"codes:{column}"
        if key not in self._cache:
            self._cache[key] = _dictionary_codes(self.arrow(column))
        return self._cache[key]  # type: ignore[return-value]

    def strategy_combinations(self) -> np.ndarray:
        """A key per trace that is equal exactly when two traces use the same set of strategies.

        Each strategy name gets a random 64-bit value and a trace's key is their sum (wrapping): independent
        of order, computed column-wise, and collisions between different sets are vanishingly unlikely.
        """
        key = "combos"
        if key not in self._cache:
            lists = self.arrow("strategies")
            lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
            flat_codes, names = _dictionary_codes(pc.list_flatten(lists))
            weights = np.random.default_rng(0x5EED).integers(1, 2**63 - 1, size=len(names) + 1, dtype=np.int64)
            values = weights[np.where(flat_codes >= 0, flat_codes, len(names))].astype(np.uint64)
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths
            sums = np.zeros(len(lengths), dtype=np.uint64)
            nonempty = lengths > 0
            if values.size:
                sums[nonempty] = np.add.reduceat(values, starts[nonempty])
            self._cache[key] = sums
        return self._cache[key]  # type: ignore[return-value]

    def reference_words(self) -> np.ndarray:
        """Whitespace-separated words in each trace's reference answer; -1 when there is none."""
        answers = self.arrow("reference_answer")
        words = pc.list_value_length(pc.utf8_split_whitespace(answers))
        return words.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)

    def embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """(matrix of shape (pool size, dim) float32, mask of traces that have a vector).

        Read one row group at a time into a preallocated matrix, so memory peaks near the matrix itself
        (1.5 GB for a million 384-d vectors) rather than the matrix plus the whole Arrow column.
        """
        import pandas as pd  # lazy: keeps `nt` start-up light

        key = "embeddings"
        if key not in self._cache:
            file = pq.ParquetFile(self.run.embeddings)
            dim = file.schema_arrow.field("embedding").type.list_size
            matrix = np.zeros((self.n, dim), dtype=np.float32)
            have = np.zeros(self.n, dtype=bool)
            pool_index: pd.Index | None = None
            start = 0
            for group in range(file.num_row_groups):
                table = file.read_row_group(group, columns=["trace_id", "embedding"])
                ids = table.column("trace_id").combine_chunks()
                in_order = start + len(ids) <= self.n and ids.equals(self.trace_id.slice(start, len(ids)))
                if in_order:  # same order as the traces: no lookup needed
                    rows = np.arange(start, start + len(ids))
                else:
                    if pool_index is None:
                        pool_index = pd.Index(self.trace_id.to_numpy(zero_copy_only=False))
                    rows = pool_index.get_indexer(ids.to_numpy(zero_copy_only=False))
                start += len(ids)
                vectors = table.column("embedding").combine_chunks()
                ok = (rows >= 0) & vectors.is_valid().to_numpy(zero_copy_only=False)
                values = vectors.fill_null([0.0] * dim) if vectors.null_count else vectors
                flat = values.flatten().to_numpy().reshape(-1, dim)
                if in_order and ok.all():  # copy the block in place, no gathered temporary
                    matrix[start - len(ids) : start] = flat
                else:
                    matrix[rows[ok]] = flat[ok]
                have[rows[ok]] = True
                del table, vectors, values, flat
            self._cache[key] = (matrix, have)
        return self._cache[key]  # type: ignore[return-value]
