"""Exact and near-duplicate detection; the first occurrence is kept.

Exact: the stable id (hash of the normalised text) seen before. Near: datasketch MinHash over word
shingles and a datasketch MinHashLSH index (threshold 0.55 as in NaturalReasoning), candidates
confirmed by the MinHash Jaccard estimate.

Two things make 1.1M rows fit two cores and a few GB:

* MinHash signatures are computed for a whole batch at once with numpy, using datasketch's own
  permutations and pre-mix (``_fmix``), so they equal ``MinHash.update_batch`` value for value
  (a test checks this) without a Python loop per shingle.
* datasketch's default dict storage keeps a Python ``set`` per bucket plus the band keys of every
  document (about 4.4 KB per document at 64 permutations, 4.8 GB at 1.1M). The index here plugs
  compact storages into the same ``MinHashLSH`` class: a bucket holds one key or a small list,
  and the per-key record (only needed to delete) is not kept.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from datasketch import MinHash, MinHashLSH
from datasketch.minhash import _fmix
from datasketch.storage import OrderedStorage, UnorderedStorage

from naturalthoughts.ingest.text import NGrams, Words, ngrams

_SIGNATURE_CHUNK = 4_000_000  # shingle x permutation cells per numpy step (bounds memory to ~16 MB)


class ExactDuplicates:
    """Ids seen so far; a repeated id is an exact duplicate of the first row with that id."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def check(self, ids: Iterable[str]) -> list[bool]:
        out = []
        for qid in ids:
            out.append(qid in self.seen)
            self.seen.add(qid)
        return out


class _Buckets(UnorderedStorage):
    """One LSH band: band hash -> the key that first filled the bucket (a list once several do)."""

    def __init__(self) -> None:
        self._dict: dict[object, object] = {}

    def get(self, key):
        found = self._dict.get(key)
        if found is None:
            return ()
        return found if isinstance(found, list) else (found,)

    def insert(self, key, *vals, **kwargs) -> None:
        for val in vals:
            found = self._dict.get(key)
            if found is None:
                self._dict[key] = val
            elif isinstance(found, list):
                found.append(val)
            else:
                self._dict[key] = [found, val]

    def keys(self):
        return self._dict.keys()

    def remove(self, *keys, **kwargs) -> None:
        raise NotImplementedError("ingest's LSH index is append-only")

    def remove_val(self, key, val, **kwargs) -> None:
        raise NotImplementedError("ingest's LSH index is append-only")

    def size(self) -> int:
        return len(self._dict)

    def itemcounts(self, **kwargs) -> dict:
        return {k: len(self.get(k)) for k in self._dict}

    def has_key(self, key) -> bool:
        return key in self._dict


class _NoKeys(OrderedStorage):
    """The per-key band record datasketch keeps for deletion; ingest never deletes, so keep nothing."""

    def keys(self):
        return ()

    def get(self, key):
        return []

    def insert(self, key, *vals, **kwargs) -> None:
        pass

    def remove(self, *keys, **kwargs) -> None:
        raise NotImplementedError

    def remove_val(self, key, val, **kwargs) -> None:
        raise NotImplementedError

    def size(self) -> int:
        return 0

    def itemcounts(self, **kwargs) -> dict:
        return {}

    def has_key(self, key) -> bool:
        return False


def _with_short_texts(grams: NGrams, text_words: Words, shingle: int) -> NGrams:
    """Add one shingle (all its words) for each text with fewer words than a shingle, so it is compared too."""
    counts = np.bincount(text_words.row, minlength=text_words.n_texts)
    short = np.flatnonzero((counts > 0) & (counts < shingle))
    if len(short) == 0:
        return grams
    starts = np.concatenate([[0], np.cumsum(counts)])
    extra = np.array(
        [
            ngrams(
                Words(text_words.hashes[starts[t] : starts[t + 1]], np.zeros(counts[t], np.int64), 1), int(counts[t])
            ).hashes[0]
            for t in short
        ],
        np.uint64,
    )
    rows = np.concatenate([grams.row, short])
    order = np.argsort(rows, kind="stable")
    return NGrams(np.concatenate([grams.hashes, extra])[order], rows[order], grams.n_texts)


class NearDuplicates:
    """Streaming near-duplicate detection over batches of normalised questions."""

    def __init__(self, threshold: float = 0.55, num_perm: int = 64, shingle: int = 3, seed: int = 1) -> None:
        self.threshold, self.num_perm, self.shingle, self.seed = threshold, num_perm, shingle, seed
        self.permutations = MinHash(num_perm=num_perm, seed=seed).permutations  # affine32: (2, num_perm) uint32
        # Band values hash to a Python int (builtin hash of the bytes) instead of keeping the bytes.
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, hashfunc=hash)
        self.lsh.hashtables = [_Buckets() for _ in range(self.lsh.b)]
        self.lsh.keys = _NoKeys()
        self.kept_ids: list[str] = []
        self._kept_signatures = np.empty((1024, num_perm), np.uint32)

    # ---- signatures ------------------------------------------------------------------------------
    def shingle_hashes(self, text_words: Words):
        """32-bit hashes of the word shingles of each text (texts shorter than a shingle have none)."""
        grams = _with_short_texts(ngrams(text_words, self.shingle), text_words, self.shingle)
        folded = ((grams.hashes >> np.uint64(32)) ^ grams.hashes) & np.uint64(0xFFFFFFFF)
        return folded.astype(np.uint32), grams.row, grams.n_texts

    def signatures(self, text_words: Words) -> tuple[np.ndarray, np.ndarray]:
        """(signatures [n, num_perm] uint32, has_shingles [n] bool), equal to datasketch's update_batch."""
        hashes, row, n = self.shingle_hashes(text_words)
        a, b = self.permutations
        mixed = _fmix(hashes, 32)
        out = np.full((n, self.num_perm), np.iinfo(np.uint32).max, np.uint32)
        has = np.zeros(n, bool)
        if len(hashes) == 0:
            return out, has
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])  # row is sorted: one run per text
        step = max(1, _SIGNATURE_CHUNK // self.num_perm)
        run = 0
        while run < len(starts):
            # whole texts only, about `step` shingles per chunk
            end_run = int(np.searchsorted(starts, starts[run] + step, side="right"))
            end_run = max(end_run, run + 1)
            lo, hi = starts[run], (starts[end_run] if end_run < len(starts) else len(hashes))
            permuted = mixed[lo:hi, None] * a + b  # uint32 arithmetic wraps: the affine32 permutation
            mins = np.minimum.reduceat(permuted, starts[run:end_run] - lo, axis=0)
            out[row[starts[run:end_run]]] = mins
            run = end_run
        has[np.unique(row)] = True
        return out, has

    # ---- index -----------------------------------------------------------------------------------
    def _remember(self, signature: np.ndarray) -> int:
        key = len(self.kept_ids)
        if key == len(self._kept_signatures):
            self._kept_signatures = np.resize(self._kept_signatures, (2 * key, self.num_perm))
        self._kept_signatures[key] = signature
        return key

    def check(self, text_words: Words, ids: list[str]) -> list[tuple[str, float] | None]:
        """For each text in order: (kept id it nearly duplicates, estimated Jaccard), or None (kept and indexed)."""
        signatures, has = self.signatures(text_words)
        out: list[tuple[str, float] | None] = []
        for i, qid in enumerate(ids):
            if not has[i]:
                out.append(None)
                continue
            minhash = MinHash(hashvalues=signatures[i], permutations=self.permutations, scheme="affine32")
            candidates = self.lsh.query(minhash)
            if candidates:
                keys = np.fromiter(candidates, np.int64, len(candidates))
                similarity = (self._kept_signatures[keys] == signatures[i]).mean(axis=1)
                best = int(np.argmax(similarity))
                if similarity[best] >= self.threshold:
                    out.append((self.kept_ids[keys[best]], float(similarity[best])))
                    continue
            key = self._remember(signatures[i])
            self.kept_ids.append(qid)
            self.lsh.insert(key, minhash, check_duplication=False)
            out.append(None)
        return out
