"""Select a training subset from an annotated pool of traces (the paper's section 4).

Python API (the CLI is a thin layer over it)::

    from naturalthoughts.select import select, compare
    result = select("runs/demo", "filter:complete,correct>disagree>strategy", size=10_000, seed=0)
    table = compare("runs/demo")   # pandas DataFrame: pool and each selection side by side

    # or as a stage, skipped when up to date (what `nt select` and `nt run` do):
    from naturalthoughts.runner import run_one
    from naturalthoughts.select import SelectConfig, SelectStage
    outcome = run_one(SelectStage(SelectConfig(method="topic", size=1000)), "runs/demo")

Methods live one per module in ``select/methods/`` and are registered in ``select/registry.py``; filters in
``select/filters.py``; the expression grammar in ``select/expr.py``; its meaning in ``select/plan.py``.
"""

from __future__ import annotations

from naturalthoughts.select.compare import compare, describe
from naturalthoughts.select.config import SelectConfig
from naturalthoughts.select.expr import ExpressionError, parse
from naturalthoughts.select.filters import DEFAULT_FILTER, FILTERS
from naturalthoughts.select.plan import bind
from naturalthoughts.select.pool import MissingColumnError, Pool, StaleAnnotationsError
from naturalthoughts.select.registry import METHODS
from naturalthoughts.select.stage import (
    NotEnoughEligible,
    SelectionResult,
    SelectStage,
    default_name,
    select,
    select_config,
)

__all__ = [
    "DEFAULT_FILTER",
    "FILTERS",
    "METHODS",
    "ExpressionError",
    "MissingColumnError",
    "NotEnoughEligible",
    "Pool",
    "SelectConfig",
    "SelectStage",
    "SelectionResult",
    "StaleAnnotationsError",
    "bind",
    "compare",
    "default_name",
    "describe",
    "parse",
    "select",
    "select_config",
]
