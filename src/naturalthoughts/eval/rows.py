"""Reading a row of an evaluation summary: its mode label (``think@512``) and its standard error."""

from __future__ import annotations

import math
from typing import Any


def mode_label(mode: str, budget: int | None) -> str:
    """``think``, or ``think@512`` for a thinking budget of 512 tokens."""
    return mode if budget is None else f"{mode}@{budget}"


def standard_error(row: dict[str, Any]) -> tuple[float | None, str]:
    """(standard error, what it is over): the evaluation's own over seeds, else binomial over samples."""
    if row.get("accuracy_stderr") is not None:
        return float(row["accuracy_stderr"]), "seeds"
    p, n = row.get("accuracy"), row.get("samples") or 0
    if p is None or not n:
        return None, "–"
    return math.sqrt(max(p * (1 - p), 0.0) / n), "items"
