"""What every selection method and filter is, and the three ways a method orders rows.

A method turns a set of candidate rows (indices into the :class:`~naturalthoughts.select.pool.Pool`) into an
ordered list, earliest preferred; the selection is the first N of the list. It can hand sub-sets of rows to
``inner`` (the rest of the expression to its right) to be ordered, which is how ``A>B`` composes:

* **subset** methods (``strategy``, ``length``, ``verbosity``, ``short-ref``) keep some rows and let ``inner``
  order what they kept;
* **tier** methods (``disagree``, ``length(mode=longest)``) put rows in priority tiers; ``inner`` orders the rows
  inside each tier and the tiers are concatenated, best first;
* **group** methods (``topic``, ``semantic``, ``strategy(mode=coverage)``) split rows into groups; ``inner`` orders
  each group and the groups are interleaved round-robin, so any prefix is as even over groups as it can be.

The rightmost stage's ``inner`` is a uniform shuffle, so ``topic`` alone means "uniform over domains, random
inside each".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from naturalthoughts.config import StrictModel

if TYPE_CHECKING:  # the pool pulls in pandas; methods only need its type
    from naturalthoughts.select.pool import Pool

Rows = np.ndarray  # int64 indices into the pool
Inner = Callable[[Rows], Rows]


@dataclass
class Context:
    """What a method may use besides its rows: the pool, the one seeded generator, the requested size."""

    pool: Pool
    rng: np.random.Generator
    size: int
    seed: int
    notes: dict[str, Any] = field(default_factory=dict)  # statistics a method wants in the manifest
    # Rows a method took only to fill up to the requested size, by method name (written as ``NAME:backfill``).
    filled: dict[str, np.ndarray] = field(default_factory=dict)

    def mark_filled(self, method: str, rows: Rows) -> None:
        before = self.filled.get(method)
        self.filled[method] = rows if before is None else np.concatenate([before, rows])

    def was_filled(self, method: str, rows: Rows) -> np.ndarray:
        marked = self.filled.get(method)
        return np.isin(rows, marked) if marked is not None else np.zeros(len(rows), dtype=bool)


class NoParams(StrictModel):
    pass


@dataclass(frozen=True)
class Method:
    """A registered selection method.

    ``order(ctx, rows, params, inner)`` returns the rows it keeps, best first. ``columns(params)`` names the pool
    columns it reads (rows with a null in any of them are not eligible). ``score(pool, rows, params)`` gives the
    value written to the ``score`` column (higher = preferred), ``fallback(ctx, rows, params)`` marks rows the
    method only took to backfill (written as ``NAME:backfill`` in the ``method`` column).
    """

    name: str
    summary: str
    params: type[StrictModel]
    order: Callable[[Context, Rows, Any, Inner], Rows]
    columns: Callable[[Any], list[str]] = lambda params: []
    score: Callable[[Pool, Rows, Any], np.ndarray] | None = None
    fallback: Callable[[Context, Rows, Any], np.ndarray] | None = None
    terminal: bool = False  # nothing may follow it (its order ignores ``inner``)


@dataclass(frozen=True)
class Filter:
    """A registered filter: ``mask(pool, params)`` is True for the traces it keeps."""

    name: str
    summary: str
    params: type[StrictModel]
    mask: Callable[[Pool, Any], np.ndarray]
    columns: Callable[[Any], list[str]] = lambda params: []


# ---- the three ways of ordering ----------------------------------------------------------------------------


def shuffle(rng: np.random.Generator, rows: Rows) -> Rows:
    return rng.permutation(rows)


def shuffler(rng: np.random.Generator) -> Inner:
    """The ``inner`` of the rightmost stage: a uniform shuffle, marked so group methods can take a fast path."""

    def inner(rows: Rows) -> Rows:
        return shuffle(rng, rows)

    inner.is_shuffle = True  # type: ignore[attr-defined]
    return inner


def is_shuffle(inner: Inner) -> bool:
    return getattr(inner, "is_shuffle", False)


def subset(rows: Rows, keep: np.ndarray, inner: Inner) -> Rows:
    """Rows where ``keep`` holds, in ``inner``'s order."""
    return inner(rows[keep])


def by_tiers(rows: Rows, tier: np.ndarray, inner: Inner) -> Rows:
    """Lower tiers first; ``inner`` orders the rows of each tier separately."""
    parts = [inner(rows[tier == t]) for t in np.unique(tier)]
    return np.concatenate(parts) if parts else rows[:0]


def by_key(rows: Rows, key_of: Callable[[Rows], np.ndarray], inner: Inner) -> Rows:
    """Ascending ``key_of(row)``; rows with equal keys keep ``inner``'s order (inner sees all rows at once)."""
    ordered = inner(rows)
    return ordered[np.argsort(key_of(ordered), kind="stable")]


def round_robin(rng: np.random.Generator, rows: Rows, group: np.ndarray, inner: Inner, *, random_inner: bool) -> Rows:
    """One row from each group in turn (groups in a random order), each group ordered by ``inner``.

    When ``inner`` is the plain shuffle, one permutation and a stable sort order every group at once instead
    of calling ``inner`` per group (thousands of k-means clusters or strategy combinations).
    """
    if len(rows) == 0:
        return rows
    if random_inner:
        perm = rng.permutation(len(rows))
        members = perm[np.argsort(group[perm], kind="stable")]
        ordered, ordered_group = rows[members], group[members]
    else:
        sort = np.argsort(group, kind="stable")
        sorted_group = group[sort]
        bounds = np.flatnonzero(np.diff(sorted_group)) + 1
        parts = [inner(part) for part in np.split(rows[sort], bounds)]
        starts = np.concatenate([[0], bounds])
        ordered = np.concatenate(parts)
        ordered_group = np.repeat(sorted_group[starts], [len(p) for p in parts])
    labels, first, counts = np.unique(ordered_group, return_index=True, return_counts=True)
    position = np.arange(len(ordered)) - np.repeat(first, counts)  # rank of each row inside its group
    group_rank = np.empty(len(labels), dtype=np.int64)
    group_rank[rng.permutation(len(labels))] = np.arange(len(labels))
    turn = group_rank[np.searchsorted(labels, ordered_group)]
    return ordered[np.lexsort((turn, position))]
