"""``disagree``: traces where the teacher and a second model disagree first, then (optionally) the rest."""

from __future__ import annotations

import numpy as np

from naturalthoughts.config import StrictModel
from naturalthoughts.select.base import Context, Inner, Method, Rows, by_tiers, subset


class DisagreeParams(StrictModel):
    backfill: bool = True  # false: only disagreeing traces are eligible


def _order(ctx: Context, rows: Rows, params: DisagreeParams, inner: Inner) -> Rows:
    disagree = ctx.pool.flag("disagree")[rows]
    if not params.backfill:
        return subset(rows, disagree, inner)
    return by_tiers(rows, np.where(disagree, 0, 1), inner)


METHOD = Method(
    name="disagree",
    summary="disagreeing traces first, then backfill (backfill=false)",
    params=DisagreeParams,
    order=_order,
    columns=lambda params: ["disagree"],
    score=lambda pool, rows, params: pool.flag("disagree")[rows].astype(np.float64),
    fallback=lambda ctx, rows, params: ~ctx.pool.flag("disagree")[rows],
)
