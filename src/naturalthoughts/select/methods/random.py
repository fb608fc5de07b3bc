"""``random``: a uniform random sample of the eligible pool (the paper's strong baseline)."""

from __future__ import annotations

from naturalthoughts.select.base import Context, Inner, Method, NoParams, Rows, shuffle


def _order(ctx: Context, rows: Rows, params: NoParams, inner: Inner) -> Rows:
    return shuffle(ctx.rng, rows)


METHOD = Method(
    name="random",
    summary="uniform random sample; nothing may follow it",
    params=NoParams,
    order=_order,
    terminal=True,
)
