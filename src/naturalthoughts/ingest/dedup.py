"""Exact and near-duplicate detection; the first occurrence is kept.

Exact: the stable id (hash of the normalised text) seen before. Near: MinHash over word shingles and a
locality-sensitive hashing index over its bands (threshold 0.55 as in NaturalReasoning, datasketch's band and row
counts for it), candidates confirmed by the MinHash Jaccard estimate.

What makes millions of rows fit two cores and well under 2 GB:

* MinHash signatures are computed for a whole batch at once with numpy, using datasketch's own
  permutations and pre-mix (``_fmix``), so they equal ``MinHash.update_batch`` value for value
  (a test checks this) without a Python loop per shingle.
* The index (:class:`BandIndex`) holds one 64-bit key per band of each kept question and that question's
  number, 12 bytes a band, in sorted numpy runs merged like an LSM tree (up to 48 MB a run); a batch is looked up
  with ``searchsorted``. A dict of Python ints per band (datasketch's storage) costs about 110 bytes a band:
  1.3 KB per question, 1.8 GB at 1.4M. Signatures (their low 16 bits) and ids are kept in fixed-size numpy blocks
  (no doubling copy).
* Python only looks at the few questions that share a band with a kept one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from datasketch import MinHash
from datasketch.lsh import _optimal_param
from datasketch.minhash import _fmix

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


_BAND_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: the polynomial that folds a band's values into 64 bits
_BLOCK = 1 << 16  # kept questions per block of signatures and ids
# Runs stop merging at this many pairs (48 MB): merging two runs holds both, their concatenation and its sort order
# at once, so one run of everything would cost ~3x the index at the last merge; a few capped runs cost lookups only.
_MAX_RUN = 1 << 22


class BandIndex:
    """Append-only LSH buckets: (band key, kept number) pairs in sorted numpy runs, merged when a run is not much
    smaller than the one before it (so there are O(log n) runs and each pair is merged O(log n) times)."""

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted uint64 keys, uint32 kept numbers)

    def add(self, keys: np.ndarray, numbers: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        self.runs.append((keys[order], numbers[order].astype(np.uint32)))
        while (
            len(self.runs) > 1
            and len(self.runs[-1][0]) * 2 >= len(self.runs[-2][0])
            and len(self.runs[-1][0]) + len(self.runs[-2][0]) <= _MAX_RUN
        ):
            (k1, n1), (k2, n2) = self.runs.pop(-2), self.runs.pop()
            keys_all, numbers_all = np.concatenate([k1, k2]), np.concatenate([n1, n2])
            order = np.argsort(keys_all, kind="stable")
            self.runs.append((keys_all[order], numbers_all[order]))

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in ``keys``, kept number) of every stored pair whose key equals one of ``keys``."""
        positions, numbers = [], []
        for stored, kept in self.runs:
            left = np.searchsorted(stored, keys, side="left")
            right = np.searchsorted(stored, keys, side="right")
            counts = right - left
            hit = np.flatnonzero(counts)
            if len(hit) == 0:
                continue
            repeat = counts[hit]
            starts = np.repeat(left[hit] - np.cumsum(repeat) + repeat, repeat) + np.arange(int(repeat.sum()))
            positions.append(np.repeat(hit, repeat))
            numbers.append(kept[starts])
        if not positions:
            return np.empty(0, np.int64), np.empty(0, np.uint32)
        return np.concatenate(positions), np.concatenate(numbers)

    @property
    def nbytes(self) -> int:
        return sum(k.nbytes + n.nbytes for k, n in self.runs)


class NearDuplicates:
    """Streaming near-duplicate detection over batches of normalised questions."""

    def __init__(self, threshold: float = 0.55, num_perm: int = 64, shingle: int = 3, seed: int = 1) -> None:
        self.threshold, self.num_perm, self.shingle, self.seed = threshold, num_perm, shingle, seed
        self.permutations = MinHash(num_perm=num_perm, seed=seed).permutations  # affine32: (2, num_perm) uint32
        self.bands, self.rows = _optimal_param(threshold, num_perm, 0.5, 0.5)  # datasketch's choice (12 x 5 at 64)
        self.index = BandIndex()
        self.kept = 0
        # Blocks of _BLOCK kept signatures, the low 16 bits of each value: equal values stay equal, and two different
        # ones look equal with probability 1/65,536, which moves an estimated Jaccard by ~1e-5 (half the memory).
        self._signatures: list[np.ndarray] = []
        self._ids: list[np.ndarray] = []  # blocks of _BLOCK kept ids, 16-byte strings

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
    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """[n, bands] 64-bit keys: each band's ``rows`` values folded together, then the band's number mixed in."""
        n = len(signatures)
        bands = signatures[:, : self.bands * self.rows].reshape(n, self.bands, self.rows).astype(np.uint64)
        keys = np.zeros((n, self.bands), np.uint64)
        for j in range(self.rows):  # uint64 arithmetic wraps, which is what a hash wants
            keys = keys * _BAND_MULTIPLIER + bands[:, :, j] + np.uint64(1)
        return keys ^ (np.arange(self.bands, dtype=np.uint64) * _BAND_MULTIPLIER)

    def _signature(self, number: int) -> np.ndarray:
        return self._signatures[number // _BLOCK][number % _BLOCK]

    def _kept_id(self, number: int) -> str:
        return self._ids[number // _BLOCK][number % _BLOCK].decode("ascii")

    def _remember(self, signature: np.ndarray, qid: str) -> int:
        number = self.kept
        if number % _BLOCK == 0:
            self._signatures.append(np.empty((_BLOCK, self.num_perm), np.uint16))
            self._ids.append(np.empty(_BLOCK, "S16"))
        self._signatures[-1][number % _BLOCK] = signature.astype(np.uint16)  # the low 16 bits
        self._ids[-1][number % _BLOCK] = qid.encode("ascii")
        self.kept += 1
        return number

    def _similarities(self, signature: np.ndarray, numbers: list[int]) -> np.ndarray:
        stored = np.stack([self._signature(k) for k in numbers])
        return (stored == signature.astype(np.uint16)).mean(axis=1)

    def check(self, text_words: Words, ids: list[str]) -> list[tuple[str, float] | None]:
        """For each text in order: (kept id it nearly duplicates, estimated Jaccard), or None (kept and indexed).

        Candidates share a band key with a question kept before (in the index) or earlier in this batch; only
        they are compared, with the estimated Jaccard of their signatures."""
        signatures, has = self.signatures(text_words)
        n = len(ids)
        keys = self.band_keys(signatures)
        earlier = self._earlier_in_batch(keys, has)
        positions, numbers = self.index.lookup(keys[has].ravel())
        indexed: dict[int, set[int]] = {}
        rows = np.flatnonzero(has)
        for row, number in zip((rows[positions // self.bands]).tolist(), numbers.tolist(), strict=True):
            indexed.setdefault(row, set()).add(number)
        out: list[tuple[str, float] | None] = [None] * n
        number_of: dict[int, int] = {}  # row of this batch -> kept number
        for i in range(n):
            if not has[i]:
                continue  # nothing to compare (an empty text): kept, as before, but not indexed
            candidates = set(indexed.get(i, ()))
            candidates.update(number_of[j] for j in earlier.get(i, ()) if j in number_of)
            if candidates:
                listed = sorted(candidates)
                similarity = self._similarities(signatures[i], listed)
                best = int(np.argmax(similarity))
                if similarity[best] >= self.threshold:
                    out[i] = (self._kept_id(listed[best]), float(similarity[best]))
                    continue
            number_of[i] = self._remember(signatures[i], ids[i])
        if number_of:
            kept_rows = np.fromiter(number_of, np.int64, len(number_of))
            kept_numbers = np.fromiter(number_of.values(), np.int64, len(number_of))
            self.index.add(keys[kept_rows].ravel(), np.repeat(kept_numbers, self.bands))
        return out

    def _earlier_in_batch(self, keys: np.ndarray, has: np.ndarray) -> dict[int, list[int]]:
        """For each row of the batch, the earlier rows sharing a band key with it (usually none)."""
        rows = np.repeat(np.flatnonzero(has), self.bands)
        flat = keys[has].ravel()
        if len(flat) < 2:
            return {}
        order = np.lexsort((rows, flat))
        flat, rows = flat[order], rows[order]
        same = np.flatnonzero(flat[1:] == flat[:-1]) + 1  # positions whose key equals the one before
        out: dict[int, list[int]] = {}
        for position in same.tolist():
            start = position
            while start > 0 and flat[start - 1] == flat[position]:
                start -= 1
            out.setdefault(int(rows[position]), []).extend(int(r) for r in rows[start:position])
        return out
