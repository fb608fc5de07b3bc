"""Filters: ``filter:TERM,TERM,...`` keeps the traces every term keeps; ``!TERM`` keeps the others.

A null counts as not passing, so ``!correct`` keeps the wrong *and* the unjudged traces.
The default filter (the paper's) is ``complete,max_tokens(16384)``; see :func:`naturalthoughts.select.plan.bind`.

Token counts: ``max_tokens`` counts the **whole response** (reasoning + answer), as the paper caps responses at
16,384 tokens; ``min_tokens`` and ``max_reasoning_tokens`` count the **reasoning** only (the paper's trace length
``l``, also used by the ``length`` method). See :class:`naturalthoughts.select.pool.Pool` for where each count
comes from.
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
    n: int = Field(ge=0, description="length in tokens")


class NameParams(StrictModel):
    name: str


class RateParams(StrictModel):
    p: float = Field(ge=0, le=1, description="a share, 0..1")


def _rate_filter(name: str, column: str, at_most: bool, summary: str) -> Filter:
    def mask(pool: Pool, params: RateParams) -> np.ndarray:
        rate = pool.numbers(column)
        return rate <= params.p if at_most else rate >= params.p  # NaN (no verdict) passes neither

    return Filter(name, summary, RateParams, mask, lambda params: [column])


def _tokens_filter(name: str, column: str, at_most: bool, summary: str) -> Filter:
    def mask(pool: Pool, params: TokensParams) -> np.ndarray:
        tokens = pool.numbers(column)
        return tokens <= params.n if at_most else tokens >= params.n  # NaN (no count) passes neither

    return Filter(name, summary, TokensParams, mask, lambda params: [column])


def _flag(name: str, summary: str, column: str | None = None, value: bool = True) -> Filter:
    """Keeps traces whose boolean ``column`` (default: ``name``) equals ``value``; null passes neither way."""
    column = column or name

    def mask(pool: Pool, params: NoParams) -> np.ndarray:
        return pool.flag(column) if value else pool.is_false(column)

    return Filter(name, summary, NoParams, mask, lambda params: [column])


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
        _flag("natural", "the model closed its reasoning itself (not forced by a thinking budget)", "forced", False),
        _flag("forced", "the toolkit closed the reasoning at the thinking budget", "forced", True),
        _tokens_filter("max_tokens", "response_tokens", True, "whole response of at most N tokens: max_tokens(16384)"),
        _tokens_filter("min_tokens", "reasoning_tokens", False, "reasoning of at least N tokens: min_tokens(1000)"),
        _tokens_filter(
            "max_reasoning_tokens",
            "reasoning_tokens",
            True,
            "reasoning of at most N tokens: max_reasoning_tokens(8192)",
        ),
        _rate_filter("min_pass_rate", "pass_rate", False, "questions solved at least this often: min_pass_rate(0.1)"),
        _rate_filter("max_pass_rate", "pass_rate", True, "questions solved at most this often: max_pass_rate(0.5)"),
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
