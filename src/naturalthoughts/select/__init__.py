"""Select a training subset from an annotated pool of traces (the paper's section 4).

Python API (the CLI is a thin layer over it)::

    from naturalthoughts.select import select, compare
    result = select("runs/demo", method="filter:complete,correct>disagree>strategy", size=10_000, seed=0)
    result.eligible, result.path   # a stage outcome reads as the stage's result (result.status: done, up-to-date)
    table = compare("runs/demo")   # pandas DataFrame: pool and each selection side by side

    # or the stage itself, as `nt select` and `nt run` run it:
    from naturalthoughts.runner import Runner
    from naturalthoughts.select import SelectConfig, SelectStage
    outcome = Runner("runs/demo").run_stage(SelectStage(SelectConfig(method="topic", size=1000)))

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
]
