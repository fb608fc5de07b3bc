"""The candidate pool: one row per trace in ``traces.parquet``, with columns joined in on demand.

Selection works on whole columns (numpy arrays aligned with the traces' row order) and reads only the
columns the expression needs. Annotation columns come from ``annotations.parquet`` (joined on ``trace_id``),
the reference answer from ``questions.parquet`` (on ``question_id``) and vectors from ``embeddings.parquet``.

Annotations can be older than the traces (a retried generation keeps the trace ids). Whether each annotator's
columns were computed from the current traces is read from the manifest (:mod:`naturalthoughts.staleness`): an
annotator is **current**, **stale** (computed from other traces), **missing** (never ran) or **unknown** (nothing
records it). Stale, missing and unknown are all treated alike, since nothing proves the columns current:
:meth:`Pool.require` fails naming the stage that (re)computes them, and statistics show them as absent. Embeddings
of the *question* (the default) do not depend on the responses and count as current when nothing is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.errors import BadInputError, Fix, MissingInputError
from naturalthoughts.rundir import PRODUCED_BY, RunDir
from naturalthoughts.staleness import Freshness, annotator_freshness, freshness

if TYPE_CHECKING:
    pass


class MissingColumnError(MissingInputError):
    """A method or filter needs an annotation column that the run does not have."""


class StaleAnnotationsError(MissingInputError):
    """A method or filter needs annotations computed from older traces (or from traces nobody recorded)."""


# Where each column comes from: (table, the `nt annotate --only` annotator that writes it, or None).
COLUMN_SOURCES: dict[str, tuple[str, str | None]] = {
    "complete": ("traces", None),
    "finish_reason": ("traces", None),
    "forced": ("traces", None),  # absent in traces written before thinking budgets: no trace was forced
    "error": ("traces", None),
    # Token counts: the annotations' count (the `length` annotator, teacher's tokenizer) is preferred where
    # present, else the traces' own; see Pool._reasoning_tokens and Pool._response_tokens.
    "reasoning_tokens": ("traces", None),
    "response_tokens": ("traces", None),
    "domain": ("annotations", "domain"),
    "field": ("annotations", "domain"),
    "strategies": ("annotations", "strategies"),
    "n_strategies": ("annotations", "strategies"),
    "strategy_density": ("annotations", "strategies"),
    "verbosity": ("annotations", "verbosity"),
    "correct": ("annotations", "correctness"),
    "pass_rate": ("annotations", "pass_rate"),
    "disagree": ("annotations", "disagree"),
    "reference_answer": ("questions", None),
    "embedding": ("embeddings", "embeddings"),
}


# Columns computed from annotations when the `length` annotator wrote them, else from the traces.
TOKEN_COLUMNS = ("reasoning_tokens", "response_tokens")
TOKENS_ANNOTATOR = "length"
# Trace columns that older traces.parquet files lack; the pool derives them (see Pool.arrow).
LEGACY_TRACE_COLUMNS = ("forced", "error")


def annotate_fix(run: RunDir, annotators: list[str]) -> Fix:
    return Fix("annotate", only=",".join(annotators)).at(run)


def producing_fix(run: RunDir, column: str) -> Fix:
    """What produces ``column``: the annotator that writes it, or the stage that writes its table."""
    table, annotator = COLUMN_SOURCES[column]
    if annotator:
        return annotate_fix(run, [annotator])
    if column in TOKEN_COLUMNS:
        return annotate_fix(run, [TOKENS_ANNOTATOR])
    return PRODUCED_BY[table].at(run)


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
    # For each derived token column: which count served how many traces ({"traces.completion_tokens": 812, ...}).
    provenance: dict[str, dict[str, int]] = field(default_factory=dict)

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

    def _schema_has(self, table: str, column: str) -> bool:
        path = getattr(self.run, table)
        return path.exists() and column in pq.read_schema(path).names

    def has_column(self, column: str) -> bool:
        """The run has ``column`` and, for an annotation, it was computed from the current traces."""
        table, annotator = COLUMN_SOURCES[column]
        if not self._schema_has(table, column):
            return False
        return annotator is None or self.freshness(annotator) == "current"

    # ---- staleness ----------------------------------------------------------------------------------------
    def freshness(self, annotator: str) -> Freshness:
        """Whether ``annotator``'s output was computed from the current traces (see the module docstring)."""
        if "freshness" not in self._cache:
            self._cache["freshness"] = annotator_freshness(self.run)  # one read of the manifest
        state = freshness(self.run, annotator, self._cache["freshness"])  # type: ignore[arg-type]
        if state != "current" and annotator == "embeddings" and self._embeds_questions():
            return "current"  # vectors of the question text do not depend on the responses
        return state

    def _embeds_questions(self) -> bool:
        path = self.run.embeddings
        return path.exists() and (pq.read_schema(path).metadata or {}).get(b"of") == b"question"

    def annotator_of(self, column: str) -> str | None:
        """The annotator whose output serves ``column`` in this run (None when the traces or questions do)."""
        if column in TOKEN_COLUMNS:
            return TOKENS_ANNOTATOR if self._annotated_tokens(column) is not None else None
        return COLUMN_SOURCES[column][1]

    def stale_message(self, annotators: list[str]) -> tuple[str, Fix] | None:
        """Why the given annotators' outputs cannot be used, and what refreshes them all; None if fine."""
        why = {
            "stale": f"were computed from older traces ({self.run.traces.name} changed since)",
            "missing": "have not been computed for these traces",
            "unknown": "have no record of which traces they were computed from (no annotate record in the manifest)",
        }
        groups: dict[str, list[str]] = {}
        for annotator in sorted(dict.fromkeys(annotators)):
            if (state := self.freshness(annotator)) != "current":
                groups.setdefault(state, []).append(annotator)
        if not groups:
            return None
        reasons = "; ".join(
            f"annotations for {', '.join(f'`{a}`' for a in names)} {why[state]}" for state, names in groups.items()
        )
        return reasons, annotate_fix(self.run, sorted(a for names in groups.values() for a in names))

    def require_present(self, column: str, who: str) -> None:
        """Raise an error naming the command to run when the file or the column ``column`` comes from is absent."""
        if column in TOKEN_COLUMNS + LEGACY_TRACE_COLUMNS:  # these always have a fallback (see arrow())
            return
        path = getattr(self.run, COLUMN_SOURCES[column][0])
        fix = producing_fix(self.run, column)
        if not path.exists():
            raise MissingColumnError(f"{who} needs `{column}`, but {path} does not exist: run {{fix}} first.", fix=fix)
        if column not in pq.read_schema(path).names:
            raise MissingColumnError(f"{who} needs `{column}`, which {path} does not have: run {{fix}} first.", fix=fix)

    def require(self, column: str, who: str) -> None:
        """Raise an error naming the command to run when ``column`` is absent, stale or null for every trace."""
        self.require_present(column, who)
        path = getattr(self.run, COLUMN_SOURCES[column][0])
        annotator = self.annotator_of(column)
        if annotator is not None and (stale := self.stale_message([annotator])) is not None:
            reasons, fix = stale
            raise StaleAnnotationsError(f"{who} needs `{column}`: {reasons}: run {{fix}} to refresh them.", fix=fix)
        usable = self.without_error()
        if column != "embedding" and usable.any() and not self.valid(column)[usable].any():
            where = path if column not in TOKEN_COLUMNS else f"{self.run.traces} (and {self.run.annotations.name})"
            raise MissingColumnError(
                f"{who} needs `{column}`, which is null for every trace in {where}: run {{fix}} first.",
                fix=producing_fix(self.run, column),
            )

    # ---- columns ------------------------------------------------------------------------------------------
    def arrow(self, column: str) -> pa.Array:
        key = f"arrow:{column}"
        if key not in self._cache:
            if column == "reasoning_tokens":
                self._cache[key] = self._reasoning_tokens()
            elif column == "response_tokens":
                self._cache[key] = self._response_tokens()
            elif column in LEGACY_TRACE_COLUMNS and not self._schema_has("traces", column):
                # traces written before the column existed: no trace was forced (no thinking budget then) and
                # errors, if any, were recorded in finish_reason
                self._cache[key] = self._legacy(column)
            else:
                self._cache[key] = self._aligned(COLUMN_SOURCES[column][0], column)
        return self._cache[key]  # type: ignore[return-value]

    def _legacy(self, column: str) -> pa.Array:
        if column == "forced":
            return pa.array(np.zeros(self.n, dtype=bool))
        reasons = self._aligned("traces", "finish_reason")
        failed = pc.fill_null(pc.is_in(reasons, pa.array(["error", "not_sent"])), False)
        return pc.if_else(failed, reasons, pa.scalar(None, pa.string()))

    def _annotated_tokens(self, column: str) -> pa.Array | None:
        """The annotations' ``column`` in pool order when the `length` annotator wrote it (stale or not), else None."""
        key = f"annotated:{column}"
        if key not in self._cache:
            values = self._aligned("annotations", column) if self._schema_has("annotations", column) else None
            self._cache[key] = values if values is not None and values.null_count < self.n else None
        return self._cache[key]  # type: ignore[return-value]

    def _counted(self, column: str, fallbacks: list[tuple[str, pa.Array]]) -> pa.Array:
        """The annotations' ``column`` where present and current, else each fallback in turn; records which served.

        Stale annotated counts are never used (a selection that needs them fails in :meth:`require` first)."""
        sources: list[tuple[str, pa.Array]] = []
        annotated = self._annotated_tokens(column)
        if annotated is not None and self.freshness(TOKENS_ANNOTATOR) == "current":
            sources.append((f"annotations.{column}", annotated.cast(pa.int64())))
        sources.extend(fallbacks)
        result = pa.nulls(self.n, pa.int64())
        served: dict[str, int] = {}
        for name, values in sources:
            before = result.null_count
            result = pc.coalesce(result, values.cast(pa.int64()))
            if before - result.null_count:
                served[name] = before - result.null_count
        self.provenance[column] = served
        return result

    def _reasoning_tokens(self) -> pa.Array:
        # The annotations count with a named tokenizer (the teacher's when known); prefer it, else the generator's.
        return self._counted(
            "reasoning_tokens", [("traces.reasoning_tokens", self._aligned("traces", "reasoning_tokens"))]
        )

    def _response_tokens(self) -> pa.Array:
        """Tokens of the whole response (reasoning + answer): what the paper's 16,384-token cap counts.

        The annotations' ``response_tokens`` (teacher's tokenizer when known), else the server's
        ``completion_tokens``, else (traces written before either existed) reasoning plus answer tokens.
        """
        fallbacks: list[tuple[str, pa.Array]] = []
        if self._schema_has("traces", "completion_tokens"):
            fallbacks.append(("traces.completion_tokens", self._aligned("traces", "completion_tokens")))
        reasoning = self._aligned("traces", "reasoning_tokens").cast(pa.int64())
        answer = pc.fill_null(self._aligned("traces", "answer_tokens").cast(pa.int64()), 0)
        fallbacks.append(("traces.reasoning_tokens+answer_tokens", pc.add(reasoning, answer)))
        return self._counted("response_tokens", fallbacks)

    def without_error(self) -> np.ndarray:
        """True for traces with no recorded error (a failed request is never selectable)."""
        return ~self.arrow("error").is_valid().to_numpy(zero_copy_only=False)

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

    def is_false(self, column: str) -> np.ndarray:
        """True where a boolean column is False (null is neither True nor False)."""
        return ~self.arrow(column).fill_null(True).to_numpy(zero_copy_only=False).astype(bool)

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
