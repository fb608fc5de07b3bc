"""``strategy``: traces that use a diverse set of reasoning strategies.

``mode=density`` (the paper): keep traces with ``min`` to ``max`` distinct strategies (4 and 8), then downsample
those of low strategy density: traces below the ``density_quantile`` of the kept ones (or below ``min_density``
when given) survive with probability ``low_density_keep``.
``mode=coverage``: within the same bounds, round-robin over distinct strategy combinations, so the first K picks
cover min(K, number of combinations) different combinations.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from naturalthoughts.config import StrictModel
from naturalthoughts.select.base import Context, Inner, Method, Rows, is_shuffle, round_robin
from naturalthoughts.select.pool import Pool


class StrategyParams(StrictModel):
    min: int = Field(4, ge=0, description="fewest distinct strategies kept")
    max: int = Field(8, ge=0, description="most distinct strategies kept")
    density_quantile: float = Field(0.25, ge=0, le=1, description="traces below this quantile count as low density")
    min_density: float | None = Field(None, ge=0, description="absolute density threshold; overrides the quantile")
    low_density_keep: float = Field(0.25, ge=0, le=1, description="probability of keeping a low-density trace")
    mode: Literal["density", "coverage"] = "density"

    @model_validator(mode="after")
    def _bounds(self) -> StrategyParams:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


def _order(ctx: Context, rows: Rows, params: StrategyParams, inner: Inner) -> Rows:
    n = ctx.pool.numbers("n_strategies")[rows]
    kept = rows[(n >= params.min) & (n <= params.max)]
    if params.mode == "coverage":
        combos = ctx.pool.strategy_combinations()[kept]
        return round_robin(ctx.rng, kept, combos, inner, random_inner=is_shuffle(inner))
    density = ctx.pool.numbers("strategy_density")[kept]
    if params.min_density is not None:
        threshold = params.min_density
    else:
        threshold = float(np.quantile(density, params.density_quantile)) if len(kept) else 0.0
    low = density < threshold
    keep = ~low | (ctx.rng.random(len(kept)) < params.low_density_keep)
    ctx.notes.setdefault("strategy_density_threshold", threshold)
    return inner(kept[keep])


def _columns(params: StrategyParams) -> list[str]:
    return ["n_strategies", "strategies" if params.mode == "coverage" else "strategy_density"]


def _score(pool: Pool, rows: Rows, params: StrategyParams) -> np.ndarray:
    return pool.numbers("n_strategies" if params.mode == "coverage" else "strategy_density")[rows]


METHOD = Method(
    name="strategy",
    summary="min..max strategies, low density downsampled (mode=coverage)",
    params=StrategyParams,
    order=_order,
    columns=_columns,
    score=_score,
)
