"""Select a training subset from an annotated pool of traces (the paper's section 4).

Python API (the CLI is a thin layer over it)::

    from naturalthoughts.select import select, compare
    result = select("runs/demo", "filter:complete,correct>disagree>strategy", size=10_000, seed=0)
    table = compare("runs/demo")   # pandas DataFrame: pool and each selection side by side

Methods live one per module in ``select/methods/`` and are registered in ``select/registry.py``; filters in
``select/filters.py``; the expression grammar in ``select/expr.py``; its meaning in ``select/plan.py``.
"""

from __future__ import annotations

from naturalthoughts.select.compare import compare, describe
from naturalthoughts.select.expr import ExpressionError, parse
from naturalthoughts.select.filters import DEFAULT_FILTER, FILTERS
from naturalthoughts.select.plan import bind
from naturalthoughts.select.pool import MissingColumnError, Pool
from naturalthoughts.select.registry import METHODS
from naturalthoughts.select.stage import NotEnoughEligible, SelectionResult, default_name, select

__all__ = [
    "DEFAULT_FILTER",
    "FILTERS",
    "METHODS",
    "ExpressionError",
    "MissingColumnError",
    "NotEnoughEligible",
    "Pool",
    "SelectionResult",
    "bind",
    "compare",
    "default_name",
    "describe",
    "parse",
    "select",
]
