"""``length``: the paper's length-biased rule, or plainly the longest reasoning first.

``mode=rule`` keeps each trace with probability ``min(1, (l / c) ** tau)`` (``c = 5000``, ``tau = 2.5``, ``l`` the
reasoning length in tokens) and lets the next stage (a shuffle by default) order what it kept. When fewer traces
survive that Bernoulli pass than were asked for, the rest of the traces follow, drawn without replacement with the
same weights (weighted sampling by exponential races: each trace's key is ``Exp(1) / p``, smallest first); traces of
weight 0 (no reasoning) come last. So the method stays length-biased and returns N whenever it is given N traces;
the filled traces are labelled ``length:backfill`` and counted in the manifest notes (``backfill``).
``mode=longest`` orders by reasoning length, longest first; equal lengths keep the next stage's order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from naturalthoughts.config import StrictModel
from naturalthoughts.select.base import Context, Inner, Method, Rows, by_key, subset
from naturalthoughts.select.pool import Pool

NAME = "length"


class LengthParams(StrictModel):
    mode: Literal["rule", "longest"] = "rule"
    c: float = Field(5000.0, gt=0, description="length in tokens at which a trace is always kept")
    tau: float = Field(2.5, gt=0, description="exponent of the keep probability")


def keep_probability(tokens: np.ndarray, c: float = 5000.0, tau: float = 2.5) -> np.ndarray:
    return np.minimum(1.0, (np.clip(tokens, 0, None) / c) ** tau)


def _tokens(pool: Pool, rows: Rows) -> np.ndarray:
    return pool.numbers("reasoning_tokens")[rows]


def race_keys(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Keys whose ascending order is a weighted sample without replacement (Efraimidis-Spirakis); inf for weight 0."""
    with np.errstate(divide="ignore"):
        return np.where(weights > 0, rng.exponential(size=len(weights)) / weights, np.inf)


def _order(ctx: Context, rows: Rows, params: LengthParams, inner: Inner) -> Rows:
    if params.mode == "longest":
        return by_key(rows, lambda r: -_tokens(ctx.pool, r), inner)
    p = keep_probability(_tokens(ctx.pool, rows), params.c, params.tau)
    keep = ctx.rng.random(len(rows)) < p
    passed = subset(rows, keep, inner)
    if len(passed) >= ctx.size:
        return passed
    rest = rows[~keep]
    key = np.empty(ctx.pool.n)
    key[rest] = race_keys(ctx.rng, p[~keep])
    filled = by_key(rest, lambda r: key[r], inner)  # the race decides; inner only breaks ties (weight 0)
    ctx.mark_filled(NAME, filled)
    return np.concatenate([passed, filled])


def _score(pool: Pool, rows: Rows, params: LengthParams) -> np.ndarray:
    tokens = _tokens(pool, rows)
    return tokens if params.mode == "longest" else keep_probability(tokens, params.c, params.tau)


METHOD = Method(
    name=NAME,
    summary="keep w.p. min(1,(l/5000)^2.5), filled up to N with the same weights (mode=longest: longest first)",
    params=LengthParams,
    order=_order,
    columns=lambda params: ["reasoning_tokens"],
    score=_score,
    fallback=lambda ctx, rows, params: ctx.was_filled(NAME, rows),
)
