"""``difficulty``: the hardest questions the teacher still solves first, by their pass rate over k samples.

The verifiable-task analogue of ``disagree`` (docs/selection.md): with several samples per question, the
``pass_rate`` annotation (share of a question's samples verified correct) says how hard the question is for the
teacher. Rows are ordered by ascending pass rate, lowest non-zero first (a question solved 1 time in 4 before one
solved every time); questions never solved (pass rate 0) have no verified trace to learn from and are left out
unless ``unsolved=true`` (then last). Within one pass rate, the expression to the right orders the rows (random
by default). Combine with ``filter:correct`` to keep only the verified traces of those questions.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from naturalthoughts.config import StrictModel
from naturalthoughts.select.base import Context, Inner, Method, Rows, by_tiers


class DifficultyParams(StrictModel):
    max_rate: float = Field(1.0, ge=0, le=1, description="questions solved more often than this are left out")
    unsolved: bool = Field(False, description="also take never-solved questions (pass rate 0), last")


def _order(ctx: Context, rows: Rows, params: DifficultyParams, inner: Inner) -> Rows:
    rate = ctx.pool.numbers("pass_rate")[rows]
    keep = (rate <= params.max_rate) & ((rate > 0) | params.unsolved)
    kept, kept_rate = rows[keep], rate[keep]
    tier = np.where(kept_rate > 0, np.round(kept_rate, 6), 2.0)  # ascending pass rate, unsolved after all
    return by_tiers(kept, tier, inner)


METHOD = Method(
    name="difficulty",
    summary="lowest non-zero pass rate first (max_rate=1.0, unsolved=false); needs generate.samples > 1",
    params=DifficultyParams,
    order=_order,
    columns=lambda params: ["pass_rate"],
    score=lambda pool, rows, params: -pool.numbers("pass_rate")[rows],
)
