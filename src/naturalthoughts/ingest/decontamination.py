"""Decontamination: drop questions that share word n-grams (13 by default) with a benchmark question.

The index holds the hashes of every word n-gram of every benchmark question (sorted numpy array,
with the item each came from), plus the normalised-text id of each benchmark question so a
question identical to a benchmark item shorter than n words is caught too. Checking a batch is a
vectorised ``searchsorted`` over the batch's n-gram hashes; Python only touches matching rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from naturalthoughts import benchmarks
from naturalthoughts.benchmarks import BenchmarkItem
from naturalthoughts.ingest.text import Words, ngrams, question_ids, tokenise, words

_BITMAP_BITS = 26  # 64 MB of booleans; ~1M benchmark n-grams fill under 2% of it
_BITMAP_MASK = np.uint64((1 << _BITMAP_BITS) - 1)


@dataclass(frozen=True)
class Contamination:
    matched: str  # benchmark:item id
    shared: int  # n-grams shared with that item (0 for an identical short question)

    @property
    def reason(self) -> str:
        if self.shared == 0:
            return f"identical to benchmark question {self.matched}"
        return f"shares {self.shared} word n-gram(s) with benchmark question {self.matched}"


class BenchmarkIndex:
    def __init__(self, items: list[BenchmarkItem], n: int = 13, min_shared: int = 1) -> None:
        self.n, self.min_shared = n, min_shared
        self.refs = [item.ref for item in items]
        self.sizes = Counter(item.benchmark for item in items)
        texts, tokens = tokenise(pa.array([item.question for item in items], pa.string()))
        self.by_id = dict(zip(question_ids(texts), range(len(items)), strict=True))
        grams = ngrams(words(tokens), n)
        order = np.argsort(grams.hashes, kind="stable")
        self.hashes = grams.hashes[order]
        self.item_of = grams.row[order]
        # A bitmap over the low hash bits rules out almost every n-gram with one gather, so the
        # binary search only runs on the few that might be benchmark n-grams.
        self.bitmap = np.zeros(1 << _BITMAP_BITS, bool)
        self.bitmap[self.hashes & _BITMAP_MASK] = True

    @classmethod
    def load(cls, sources: dict[str, str | None], n: int = 13, min_shared: int = 1) -> BenchmarkIndex:
        """Index the named benchmarks (``{name: file or hf id, or None for bundled data}``)."""
        items: list[BenchmarkItem] = []
        for name, source in sources.items():
            items.extend(benchmarks.load(name, source))
        return cls(items, n, min_shared)

    def __len__(self) -> int:
        return len(self.refs)

    def check(self, text_words: Words, ids: list[str]) -> list[Contamination | None]:
        """One entry per text (``text_words`` from :func:`~naturalthoughts.ingest.text.words`, ``ids`` its ids):
        the benchmark item it overlaps most, or None if clean."""
        out: list[Contamination | None] = [None] * len(ids)
        for i, qid in enumerate(ids):
            if qid in self.by_id:
                out[i] = Contamination(self.refs[self.by_id[qid]], 0)
        if len(self.hashes) == 0:
            return out
        grams = ngrams(text_words, self.n)
        maybe = np.flatnonzero(self.bitmap[grams.hashes & _BITMAP_MASK])
        pos = np.searchsorted(self.hashes, grams.hashes[maybe])
        pos[pos == len(self.hashes)] = 0
        hit = self.hashes[pos] == grams.hashes[maybe]
        if not hit.any():
            return out
        hit_rows, hit_pos = grams.row[maybe[hit]], pos[hit]
        for row in np.unique(hit_rows):
            if out[row] is not None:
                continue
            at = hit_pos[hit_rows == row]
            # every item sharing each hash (a hash can occur in several items)
            counts: Counter[int] = Counter()
            for p in at:
                value, j = self.hashes[p], p
                seen = set()
                while j < len(self.hashes) and self.hashes[j] == value:
                    seen.add(int(self.item_of[j]))
                    j += 1
                counts.update(seen)
            item, shared = counts.most_common(1)[0]
            if shared >= self.min_shared:
                out[row] = Contamination(self.refs[item], shared)
        return out
