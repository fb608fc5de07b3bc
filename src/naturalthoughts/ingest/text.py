"""Text normalisation, stable question ids and vectorised word n-gram hashes.

One home for "what counts as the same text": exact deduplication, near-duplicate detection and
decontamination all see a question through these functions, and so do the benchmark indexes.
Everything here works on whole Arrow arrays (pyarrow compute + numpy) because ingest runs over
millions of rows on two cores.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Punctuation trimmed from both ends of each whitespace-separated token ("market?" -> "market");
# inner punctuation stays ("16-3-4"), and so do tokens made only of punctuation ("-").
# Splitting on spaces and trimming is ~5x faster than a regex.
_PUNCTUATION = string.punctuation + "“”‘’«»…–—¿¡·"
# Odd 64-bit multiplier of the polynomial that combines word hashes into an n-gram hash.
_NGRAM_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def _plain(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    return texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts


def tokenise(texts: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """(normalised texts, their whitespace tokens). Normalised = NFKC, lowercase, whitespace collapsed, trimmed."""
    lowered = pc.utf8_lower(pc.utf8_normalize(texts, "NFKC"))
    tokens = _plain(pc.utf8_split_whitespace(pc.utf8_trim_whitespace(lowered)))  # untrimmed ends give "" tokens
    return _plain(pc.binary_join(tokens, " ")), tokens


def normalise(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    return tokenise(texts)[0]


def question_id(normalised: str) -> str:
    """The stable id of a question: first 16 hex chars of sha256 of its normalised text."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:16]


def question_ids(normalised: pa.Array) -> list[str]:
    return [question_id(text) for text in normalised.to_pylist()]


def normalise_one(text: str) -> str:
    return normalise(pa.array([text], pa.string()))[0].as_py()


@dataclass(frozen=True)
class Words:
    """The words of a batch of texts, flattened: ``hashes[i]`` is a word of text ``row[i]``."""

    hashes: np.ndarray  # uint64, one per word
    row: np.ndarray  # int64, index of the text each word belongs to (non-decreasing)
    n_texts: int

    def select(self, texts: np.ndarray) -> Words:
        """The words of ``texts`` (sorted indices), renumbered 0..len(texts)-1."""
        renumber = np.full(self.n_texts, -1, np.int64)
        renumber[texts] = np.arange(len(texts))
        new_row = renumber[self.row]
        keep = new_row >= 0
        return Words(self.hashes[keep], new_row[keep], len(texts))


_BYTE_MULTIPLIER = np.uint64(0x100000001B3)  # odd 64-bit multiplier of the per-word byte polynomial
_MIX_1, _MIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)  # splitmix64's finaliser


def _splitmix(values: np.ndarray) -> np.ndarray:
    values = (values ^ (values >> np.uint64(30))) * _MIX_1
    values = (values ^ (values >> np.uint64(27))) * _MIX_2
    return values ^ (values >> np.uint64(31))


def hash_strings(strings: pa.Array) -> np.ndarray:
    """A 64-bit hash of each string's UTF-8 bytes, stable across runs and batches, computed with numpy (no Python
    call per string: a batch of a thousand R1 traces' questions has ~20,000 distinct words).

    A polynomial over the bytes (uint64 arithmetic wraps), then splitmix64's finaliser with the length mixed in."""
    strings = strings if pa.types.is_large_string(strings.type) else strings.cast(pa.large_string())
    n = len(strings)
    if n == 0:
        return np.empty(0, np.uint64)
    offsets = np.frombuffer(strings.buffers()[1], np.int64)[strings.offset : strings.offset + n + 1]
    starts, ends = offsets[:-1], offsets[1:]
    lengths = ends - starts
    hashes = np.zeros(n, np.uint64)
    total = int(ends[-1] - starts[0])
    if total:
        body = np.frombuffer(strings.buffers()[2], np.uint8, count=total, offset=int(starts[0]))
        powers = np.cumprod(np.full(int(lengths.max()), _BYTE_MULTIPLIER, np.uint64), dtype=np.uint64)
        from_end = np.repeat(ends - 1, lengths) - np.arange(starts[0], ends[-1])  # 0 at each string's last byte
        terms = (body.astype(np.uint64) + np.uint64(1)) * powers[from_end]
        present = lengths > 0
        hashes[present] = np.add.reduceat(terms, (starts - starts[0])[present])
    return _splitmix(hashes ^ (lengths.astype(np.uint64) * _MIX_2))


def words(tokens: pa.Array) -> Words:
    """Hash each word of each text to 64 bits (stable across runs and batches).

    ``tokens`` is the list array from :func:`tokenise`. The distinct words of the batch are hashed by
    :func:`hash_strings`; everything is vectorised.
    """
    n = len(tokens)
    raw = pc.list_flatten(tokens)
    trimmed = pc.utf8_trim(raw, _PUNCTUATION)
    # A token that is all punctuation ("-", "+", "=") stays as it is: in maths it carries meaning.
    flat = pc.if_else(pc.equal(pc.utf8_length(trimmed), 0), raw, trimmed)
    row = pc.list_parent_indices(tokens).to_numpy().astype(np.int64)
    if len(flat) == 0:
        return Words(np.empty(0, np.uint64), np.empty(0, np.int64), n)
    encoded = pc.dictionary_encode(flat)
    return Words(hash_strings(encoded.dictionary)[encoded.indices.to_numpy()], row, n)


@dataclass(frozen=True)
class NGrams:
    """Hashes of every word n-gram of a batch; ``row[i]`` is the text n-gram ``i`` came from."""

    hashes: np.ndarray  # uint64
    row: np.ndarray  # int64
    n_texts: int


def ngrams(w: Words, n: int) -> NGrams:
    """Polynomial hash of each run of ``n`` consecutive words that stays inside one text."""
    count = len(w.hashes) - n + 1
    if count <= 0:
        return NGrams(np.empty(0, np.uint64), np.empty(0, np.int64), w.n_texts)
    acc = np.zeros(count, np.uint64)
    for k in range(n):  # uint64 arithmetic wraps, which is what a hash wants
        acc = acc * _NGRAM_MULTIPLIER + w.hashes[k : k + count]
    inside = w.row[:count] == w.row[n - 1 : n - 1 + count]
    return NGrams(acc[inside], w.row[:count][inside], w.n_texts)
