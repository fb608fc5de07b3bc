"""``topic``: uniform over domains (or fields), backfilling from the other domains when one runs short."""

from __future__ import annotations

from typing import Literal

import numpy as np

from naturalthoughts.config import StrictModel
from naturalthoughts.select.base import Context, Inner, Method, Rows, is_shuffle, round_robin


class TopicParams(StrictModel):
    level: Literal["domain", "field"] = "domain"


def _order(ctx: Context, rows: Rows, params: TopicParams, inner: Inner) -> Rows:
    codes, _ = ctx.pool.codes(params.level)
    ctx.notes.setdefault(f"{params.level}_groups", len(np.unique(codes[rows])))
    return round_robin(ctx.rng, rows, codes[rows], inner, random_inner=is_shuffle(inner))


METHOD = Method(
    name="topic",
    summary="uniform over domains, backfilled (level=domain|field)",
    params=TopicParams,
    order=_order,
    columns=lambda params: [params.level],
)
