"""``short-ref``: questions whose reference answer is short, hence easy to verify."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from naturalthoughts.config import StrictModel
from naturalthoughts.select.base import Context, Inner, Method, Rows, subset


class ShortRefParams(StrictModel):
    max_words: int = Field(5, ge=1, description="longest reference answer kept, in whitespace-separated words")


def _order(ctx: Context, rows: Rows, params: ShortRefParams, inner: Inner) -> Rows:
    words = ctx.pool.reference_words()[rows]
    return subset(rows, (words >= 1) & (words <= params.max_words), inner)


METHOD = Method(
    name="short-ref",
    summary="reference answer of at most max_words words (5)",
    params=ShortRefParams,
    order=_order,
    columns=lambda params: ["reference_answer"],
    score=lambda pool, rows, params: -pool.reference_words()[rows].astype(np.float64),
)
