"""``strategy_density``: strategy occurrences per 1,000 reasoning tokens (both strategy annotators use it).

Occurrences, not distinct strategies: the number of distinct strategies is bounded by the closed list (and the
paper keeps traces with 4-8 of them), so "distinct per 1,000 tokens" is close to ``1 / length`` and "drop low
density" would mean "drop long traces", against the paper's finding that longer traces help. The occurrence
count (the sum of ``strategy_counts``) grows with how often the trace actually reasons about its reasoning.
"""

from __future__ import annotations

from typing import Any

# What both strategy annotators read and write (lexical and llm are two methods of one annotator).
STRATEGY_READS = ("reasoning", "reasoning_tokens")
STRATEGY_WRITES = (
    "strategies",
    "strategy_counts",
    "n_strategies",
    "strategy_density",
    "strategies_method",
    "strategies_error",
)


def strategy_density(occurrences: int | None, reasoning_tokens: int | None) -> float | None:
    """Null when either side is unknown or the reasoning has no tokens (a ratio over 0 tokens means nothing)."""
    if occurrences is None or not reasoning_tokens:
        return None
    return 1000.0 * occurrences / reasoning_tokens


def strategy_columns(per_row: list[dict[str, int] | None], reasoning_tokens: list[Any]) -> dict[str, list[Any]]:
    """The four strategy columns from per-row ``{strategy: count}`` (None = not annotated)."""
    strategies, counts, distinct, density = [], [], [], []
    for row, tokens in zip(per_row, reasoning_tokens, strict=True):
        if row is None:
            strategies.append(None)
            counts.append(None)
            distinct.append(None)
            density.append(None)
            continue
        used = [name for name, count in row.items() if count > 0]
        strategies.append(used)
        counts.append([{"strategy": name, "count": row[name]} for name in used])
        distinct.append(len(used))
        density.append(strategy_density(sum(row[name] for name in used), tokens))
    return {"strategies": strategies, "strategy_counts": counts, "n_strategies": distinct, "strategy_density": density}
