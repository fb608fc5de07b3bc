"""Filters: ``filter:TERM,TERM,...`` keeps the traces every term keeps; ``!TERM`` keeps the others.

A null counts as not passing, so ``!correct`` keeps the wrong *and* the unjudged traces.
The default filter (the paper's) is ``complete,max_tokens(16384)``; see :func:`effective_filters`.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from naturalthoughts.config import StrictModel
from naturalthoughts.select.base import Filter, NoParams
from naturalthoughts.select.pool import Pool

DEFAULT_MAX_TOKENS = 16_384
DEFAULT_FILTER = f"complete,max_tokens({DEFAULT_MAX_TOKENS})"


class TokensParams(StrictModel):
    n: int = Field(ge=0, description="reasoning length in tokens")


class NameParams(StrictModel):
    name: str


def _tokens(pool: Pool) -> np.ndarray:
    return pool.numbers("reasoning_tokens")


def _flag(column: str, summary: str) -> Filter:
    return Filter(column, summary, NoParams, lambda pool, params: pool.flag(column), lambda params: [column])


def _label_is(column: str) -> Filter:
    def mask(pool: Pool, params: NameParams) -> np.ndarray:
        codes, names = pool.codes(column)
        return codes == names.index(params.name) if params.name in names else np.zeros(pool.n, dtype=bool)

    summary = f"{column} equals NAME: {column}(name=Physics)"
    return Filter(column, summary, NameParams, mask, lambda p: [column])


FILTERS: dict[str, Filter] = {
    f.name: f
    for f in [
        Filter("all", "keep everything and drop the default filter", NoParams, lambda pool, p: np.ones(pool.n, bool)),
        _flag("complete", "the trace finished (closing tag, stop, answer)"),
        _flag("correct", "the answer matches the reference"),
        _flag("disagree", "the teacher and the second model disagree"),
        Filter(
            "max_tokens",
            "reasoning of at most N tokens: max_tokens(16384)",
            TokensParams,
            lambda pool, p: _tokens(pool) <= p.n,
            lambda p: ["reasoning_tokens"],
        ),
        Filter(
            "min_tokens",
            "reasoning of at least N tokens: min_tokens(1000)",
            TokensParams,
            lambda pool, p: _tokens(pool) >= p.n,
            lambda p: ["reasoning_tokens"],
        ),
        Filter(
            "has_reference",
            "the question has a non-empty reference answer",
            NoParams,
            lambda pool, p: pool.reference_words() > 0,
            lambda p: ["reference_answer"],
        ),
        _label_is("domain"),
        _label_is("field"),
    ]
}
