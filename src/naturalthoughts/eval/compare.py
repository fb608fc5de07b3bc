"""``nt eval compare DIR...``: one table across models, modes, budgets and benchmarks: accuracy beside mean tokens,
which is how the paper reads the System-1 / System-2 trade-off.

A DIR is an evaluation folder (holding ``summary.parquet``), a run directory (every ``eval/*/summary.parquet``
in it), or a ``summary.parquet`` file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from naturalthoughts.benchmarks import REGISTRY
from naturalthoughts.errors import MissingInputError

SUMMARY_FILE = "summary.parquet"


def summary_files(paths: Sequence[str | Path]) -> list[Path]:
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_file():
            found.append(path)
        elif (path / SUMMARY_FILE).is_file():
            found.append(path / SUMMARY_FILE)
        elif path.is_dir() and (runs := sorted(path.glob(f"eval/*/{SUMMARY_FILE}"))):
            found.extend(runs)
        else:
            raise MissingInputError(
                f"{path}: no {SUMMARY_FILE} here (nor eval/*/{SUMMARY_FILE}): run `nt eval` for it first"
            )
    return list(dict.fromkeys(found))


def read_summaries(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    return [row for file in summary_files(paths) for row in pq.read_table(file).to_pylist()]


def _accuracy(row: dict[str, Any]) -> str:
    if row.get("accuracy") is None:
        return "n/a"
    text = f"{100 * row['accuracy']:.1f}"
    if row.get("accuracy_stderr") is not None:
        text += f" ± {100 * row['accuracy_stderr']:.1f}"
    return text


def _tokens(row: dict[str, Any]) -> str:
    return "n/a" if row.get("mean_tokens") is None else f"{row['mean_tokens']:,.0f}"


def pivot(rows: Iterable[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per (model, mode, budget), two columns per benchmark (accuracy %, mean tokens)."""
    whole = [row for row in rows if row.get("subset") is None]
    registered = list(REGISTRY)
    benches = sorted(  # the registry's order: the paper's four benchmarks first
        dict.fromkeys(row["benchmark"] for row in whole),
        key=lambda name: registered.index(name) if name in registered else len(registered),
    )
    keys = list(dict.fromkeys((row["model"], row["mode"], row["budget"]) for row in whole))
    cells = {(row["model"], row["mode"], row["budget"], row["benchmark"]): row for row in whole}
    header = ["model", "mode", "budget"]
    for bench in benches:
        header += [f"{bench} acc %", f"{bench} tokens"]
    table = []
    for model, mode, budget in keys:
        line = [model, mode, "" if budget is None else str(budget)]
        for bench in benches:
            row = cells.get((model, mode, budget, bench))
            line += [_accuracy(row), _tokens(row)] if row else ["", ""]
        table.append(line)
    return header, table


def markdown_table(rows: Iterable[dict[str, Any]]) -> str:
    header, table = pivot(rows)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in table]
    return "\n".join(lines)


def csv_table(rows: Iterable[dict[str, Any]]) -> str:
    header, table = pivot(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(table)
    return out.getvalue()
