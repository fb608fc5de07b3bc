"""The summary of an evaluation (schema :data:`naturalthoughts.tables.EVAL_SUMMARY`): accuracy as mean plus or
minus standard error over seeds, mean tokens, truncation, extraction-failure, invalid-answer and forced rates.

Accuracy per seed is the share of correct samples among the graded ones (a failed extraction is wrong; a failed
request, or an open-ended sample the judge gave no verdict for, is not graded and is counted apart). The reported
accuracy is the mean of the per-seed accuracies, its standard error ``stdev / sqrt(seeds)`` (null with one seed).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from naturalthoughts.tables import EVAL_SUMMARY

SUMMARY_INPUT_COLUMNS = [
    "model", "benchmark", "subset", "mode", "budget", "item_id", "seed", "correct", "extracted", "extraction",
    "valid", "guess_correct", "finish_reason", "forced", "reasoning_tokens", "answer_tokens", "error", "contaminated",
    "score",
]  # fmt: skip


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _mean_of(rows: list[dict[str, Any]], column: str) -> float | None:
    return _mean([float(row[column]) for row in rows if row[column] is not None])


def _share(rows: list[dict[str, Any]], test: Any) -> float | None:
    return sum(1 for row in rows if test(row)) / len(rows) if rows else None


def _seed_accuracy(rows: list[dict[str, Any]], value: Any) -> tuple[float | None, float | None]:
    by_seed: dict[int, list[bool]] = defaultdict(list)
    for row in rows:
        verdict = value(row)
        if verdict is not None:
            by_seed[row["seed"]].append(bool(verdict))
    accuracies = [sum(v) / len(v) for v in by_seed.values() if v]
    if not accuracies:
        return None, None
    stderr = statistics.stdev(accuracies) / math.sqrt(len(accuracies)) if len(accuracies) > 1 else None
    return sum(accuracies) / len(accuracies), stderr


def _guessed(row: dict[str, Any]) -> bool | None:
    if row["correct"] is None:
        return None
    return row["guess_correct"] if row["extracted"] is None and row["guess_correct"] is not None else row["correct"]


def summary_row(key: tuple[Any, ...], rows: list[dict[str, Any]]) -> dict[str, Any]:
    model, benchmark, subset, mode, budget = key
    replied = [row for row in rows if row["error"] is None]
    graded = [row for row in replied if row["correct"] is not None]
    accuracy, stderr = _seed_accuracy(graded, lambda row: row["correct"])
    has_guess = any(row["guess_correct"] is not None for row in graded)
    with_guess = _seed_accuracy(graded, _guessed)[0] if has_guess else None
    answered = [row for row in graded if row["extracted"] is not None and row["valid"] is not False]
    scores = [float(row["score"]) for row in graded if row.get("score") is not None]
    tokens = [
        (row["reasoning_tokens"] or 0) + (row["answer_tokens"] or 0)
        for row in replied
        if row["reasoning_tokens"] is not None or row["answer_tokens"] is not None
    ]
    return {
        "model": model,
        "benchmark": benchmark,
        "subset": subset,
        "mode": mode,
        "budget": budget,
        "items": len({row["item_id"] for row in rows}),
        "seeds": len({row["seed"] for row in rows}),
        "samples": len(graded),
        "accuracy": accuracy,
        "accuracy_stderr": stderr,
        "accuracy_with_guess": with_guess,
        "answered_accuracy": _seed_accuracy(answered, lambda row: row["correct"])[0],
        "mean_score": _mean(scores),
        "mean_tokens": _mean([float(t) for t in tokens]),
        "mean_reasoning_tokens": _mean_of(replied, "reasoning_tokens"),
        "mean_answer_tokens": _mean_of(replied, "answer_tokens"),
        "truncation_rate": _share(replied, lambda row: row["finish_reason"] == "length"),
        "extraction_failure_rate": _share(replied, lambda row: row["extracted"] is None),
        "unclosed_rate": _share(replied, lambda row: row["extraction"] == "unclosed-thinking"),
        "invalid_rate": _share(replied, lambda row: row["valid"] is False),
        "forced_rate": _share(replied, lambda row: bool(row["forced"])),
        "errors": len(rows) - len(replied),
        "judge_failures": sum(1 for row in replied if row["correct"] is None),
        "contaminated_items": len({row["item_id"] for row in rows if row["contaminated"]}),
    }


def summarise(rows: Iterable[dict[str, Any]], by_subset: frozenset[str] = frozenset()) -> pa.Table:
    """Summary rows for every (model, benchmark, mode, budget), plus one per subset for the benchmarks named in
    ``by_subset`` (MATH-500's levels). ``rows`` hold at least :data:`SUMMARY_INPUT_COLUMNS`."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        base = (row["model"], row["benchmark"])
        groups[(*base, None, row["mode"], row["budget"])].append(row)
        if row["benchmark"] in by_subset and row["subset"] is not None:
            groups[(*base, row["subset"], row["mode"], row["budget"])].append(row)
    first_seen = {value: i for i, value in enumerate(dict.fromkeys(v for key in groups for v in (key[1], key[3])))}
    # benchmarks and modes in the order they were evaluated; the whole benchmark before its subsets
    ordered = sorted(
        groups, key=lambda k: (k[0], first_seen[k[1]], first_seen[k[3]], -1 if k[4] is None else k[4], k[2] or "")
    )
    return pa.Table.from_pylist([summary_row(key, groups[key]) for key in ordered], schema=EVAL_SUMMARY)
