"""The lexical strategy annotator: cue patterns from :mod:`.strategies`, fast enough for millions of traces.

One RE2 pass (pyarrow, GIL released) over each batch marks every cue match of every strategy; the
matched phrases are then split out, dictionary-encoded, and each distinct phrase is assigned to the
first strategy whose cue matches it (a handful of distinct phrases per batch, so this costs nothing).
Counts per (trace, strategy) come from one ``numpy.add.at``. Slices of a batch run on ``workers`` threads.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from naturalthoughts.annotate.base import NO_REASONING, AnnotateContext, Annotator, Columns, column
from naturalthoughts.annotate.density import STRATEGY_READS, STRATEGY_WRITES, strategy_density
from naturalthoughts.annotate.strategies import STRATEGIES, STRATEGY_NAMES, combined_pattern
from naturalthoughts.tables import STRATEGY_COUNT

_MARK = "\x00"
ALL_CUES = "|".join(combined_pattern(s) for s in STRATEGIES)
_PER_STRATEGY = [re.compile(combined_pattern(s)) for s in STRATEGIES]


def _classify(phrase: str) -> int:
    """Index of the strategy a matched phrase belongs to (first in list order), -1 if none."""
    for index, pattern in enumerate(_PER_STRATEGY):
        if pattern.fullmatch(phrase):
            return index
    for index, pattern in enumerate(_PER_STRATEGY):
        if pattern.search(phrase):
            return index
    return -1


def count_matrix(texts: pa.Array) -> np.ndarray:
    """(rows, strategies) int32 cue counts; null text counts nothing."""
    lowered = pc.utf8_lower(pc.fill_null(texts, ""))
    lowered = pc.replace_substring(lowered, _MARK, " ")  # the marker must not occur in the text itself
    marked = pc.replace_substring_regex(lowered, ALL_CUES, _MARK + "\\0" + _MARK)
    parts = pc.split_pattern(marked, _MARK)
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False).astype(np.int64)
    counts = np.zeros((len(texts), len(STRATEGIES)), np.int32)
    if lengths.sum() == len(texts):  # no match anywhere: every list holds one piece
        return counts
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    position = np.arange(int(lengths.sum())) - starts
    is_match = np.nonzero(position % 2 == 1)[0]  # pieces alternate: text, match, text, match, ..., text
    rows = np.repeat(np.arange(len(texts)), lengths)[is_match]
    phrases = pc.dictionary_encode(pc.list_flatten(parts).take(pa.array(is_match)))
    strategy_of_phrase = np.array([_classify(p) for p in phrases.dictionary.to_pylist()], np.int64)
    strategy = strategy_of_phrase[phrases.indices.to_numpy(zero_copy_only=False)]
    known = strategy >= 0
    np.add.at(counts, (rows[known], strategy[known]), 1)
    return counts


def strategy_arrays(counts: np.ndarray, valid: np.ndarray, reasoning_tokens: list[int | None]) -> Columns:
    """The four strategy columns as Arrow arrays, built without a Python loop over rows."""
    present = counts > 0
    present[~valid] = False
    per_row = present.sum(axis=1)
    occurrences = np.where(valid, counts.sum(axis=1), 0)
    offsets = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int32)
    rows, cols = np.nonzero(present)
    names = pa.array(np.array(STRATEGY_NAMES, dtype=object)[cols], pa.string())
    values = pa.array(counts[rows, cols], pa.int32())
    mask = pa.array(~valid)
    strategies = pa.ListArray.from_arrays(pa.array(offsets), names, mask=mask)
    structs = pa.StructArray.from_arrays([names, values], fields=list(STRATEGY_COUNT))
    strategy_counts = pa.ListArray.from_arrays(pa.array(offsets), structs, mask=mask)
    n_strategies = pa.array(per_row.astype(np.int32), pa.int32(), mask=~valid)
    density = [
        strategy_density(int(n), tokens) if ok else None
        for n, tokens, ok in zip(occurrences, reasoning_tokens, valid, strict=True)
    ]
    return {
        "strategies": strategies,
        "strategy_counts": strategy_counts,
        "n_strategies": n_strategies,
        "strategy_density": pa.array(density, pa.float64()),
    }


class LexicalStrategiesAnnotator(Annotator):
    name = "strategies"
    reads = STRATEGY_READS
    writes = STRATEGY_WRITES
    requires = ("length",)

    def __init__(self, ctx: AnnotateContext) -> None:
        super().__init__(ctx)
        self.workers = ctx.config.strategies.workers
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None

    @property
    def method(self) -> str:
        return "lexical"

    def counts_for(self, texts: pa.Array) -> np.ndarray:
        if self._pool is None or len(texts) < 2 * self.workers:
            return count_matrix(texts)
        step = -(-len(texts) // self.workers)
        slices = [texts.slice(start, step) for start in range(0, len(texts), step)]
        return np.concatenate(list(self._pool.map(count_matrix, slices)))

    def annotate(self, batch: pa.Table) -> Columns:
        reasoning = batch.column("reasoning").combine_chunks()
        valid = pc.is_valid(reasoning).to_numpy(zero_copy_only=False)
        out = strategy_arrays(self.counts_for(reasoning), valid, column(batch, "reasoning_tokens"))
        missing = int((~valid).sum())
        self.counts["annotated"] += batch.num_rows - missing
        self.counts["no_reasoning"] += missing
        out["strategies_method"] = pa.array([self.method] * batch.num_rows, pa.string())
        errors = [None if ok else NO_REASONING for ok in valid]
        out["strategies_error"] = pa.array(errors, pa.string())
        return out

    def finish(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    abort = finish
