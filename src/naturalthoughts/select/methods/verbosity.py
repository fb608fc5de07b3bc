"""``verbosity``: the low, medium or high tercile of the verbosity score among the eligible traces.

Scores cluster on a few values, so terciles are cut by rank (ties broken by the seed), giving three
subsets of equal size in which every trace of a lower tercile scores no higher than any of a higher one.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from naturalthoughts.config import StrictModel
from naturalthoughts.select.base import Context, Inner, Method, Rows, subset

LEVELS = ("low", "medium", "high")


class VerbosityParams(StrictModel):
    level: Literal["low", "medium", "high"]


def tercile(scores: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """0, 1 or 2 for each score: its rank (by score, then ``tiebreak``) cut into three equal parts."""
    order = np.lexsort((tiebreak, scores))
    rank = np.empty(len(scores), dtype=np.int64)
    rank[order] = np.arange(len(scores))
    return rank * 3 // max(len(scores), 1)


def _order(ctx: Context, rows: Rows, params: VerbosityParams, inner: Inner) -> Rows:
    scores = ctx.pool.numbers("verbosity")[rows]
    bins = tercile(scores, ctx.rng.random(len(rows)))
    return subset(rows, bins == LEVELS.index(params.level), inner)


METHOD = Method(
    name="verbosity",
    summary="one tercile of verbosity: level=low|medium|high (required)",
    params=VerbosityParams,
    order=_order,
    columns=lambda params: ["verbosity"],
    score=lambda pool, rows, params: pool.numbers("verbosity")[rows],
)
