"""``length``: the paper's length-biased rule, or plainly the longest reasoning first.

``mode=rule`` keeps each trace with probability ``min(1, (l / c) ** tau)`` (``c = 5000``, ``tau = 2.5``, ``l`` the
reasoning length in tokens) and lets the next stage (a shuffle by default) order what it kept.
``mode=longest`` orders by reasoning length, longest first; equal lengths keep the next stage's order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from naturalthoughts.config import StrictModel
from naturalthoughts.select.base import Context, Inner, Method, Rows, by_key, subset
from naturalthoughts.select.pool import Pool


class LengthParams(StrictModel):
    mode: Literal["rule", "longest"] = "rule"
    c: float = Field(5000.0, gt=0, description="length in tokens at which a trace is always kept")
    tau: float = Field(2.5, gt=0, description="exponent of the keep probability")


def keep_probability(tokens: np.ndarray, c: float = 5000.0, tau: float = 2.5) -> np.ndarray:
    return np.minimum(1.0, (np.clip(tokens, 0, None) / c) ** tau)


def _tokens(pool: Pool, rows: Rows) -> np.ndarray:
    return pool.numbers("reasoning_tokens")[rows]


def _order(ctx: Context, rows: Rows, params: LengthParams, inner: Inner) -> Rows:
    if params.mode == "longest":
        return by_key(rows, lambda r: -_tokens(ctx.pool, r), inner)
    keep = ctx.rng.random(len(rows)) < keep_probability(_tokens(ctx.pool, rows), params.c, params.tau)
    return subset(rows, keep, inner)


def _score(pool: Pool, rows: Rows, params: LengthParams) -> np.ndarray:
    tokens = _tokens(pool, rows)
    return tokens if params.mode == "longest" else keep_probability(tokens, params.c, params.tau)


METHOD = Method(
    name="length",
    summary="keep w.p. min(1,(l/5000)^2.5) (mode=longest: longest first)",
    params=LengthParams,
    order=_order,
    columns=lambda params: ["reasoning_tokens"],
    score=_score,
)
