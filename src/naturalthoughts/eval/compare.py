"""``nt eval compare DIR...``: one table across models, modes, budgets and benchmarks: accuracy beside mean tokens,
which is how the paper reads the System-1 / System-2 trade-off; then, for every pair of models evaluated on the
same items, the paired difference in accuracy with its standard error and bootstrap CI, the no-answer rates and the
accuracy among answered samples (:mod:`naturalthoughts.stats`, read from each folder's ``samples.parquet``).

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

from naturalthoughts import stats
from naturalthoughts.benchmarks import REGISTRY
from naturalthoughts.errors import Fix, MissingInputError

SUMMARY_FILE = "summary.parquet"
SAMPLES_FILE = "samples.parquet"
PAIRED_COLUMNS = ["model", "benchmark", "mode", "budget", "item_id", "seed", "correct", "extracted", "valid", "error"]


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
                f"{path}: no {SUMMARY_FILE} here (nor eval/*/{SUMMARY_FILE}): run {{fix}} for it first",
                fix=Fix("eval"),
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


# ---- paired differences -------------------------------------------------------------------------------------------
def read_samples(paths: Sequence[str | Path]) -> dict[str, list[dict[str, Any]]]:
    """Model -> its per-sample records, from the ``samples.parquet`` beside every summary found (a model name seen in
    two run directories is told apart by its run's folder name: ``RUN/model``)."""
    files = [file.parent / SAMPLES_FILE for file in summary_files(paths) if (file.parent / SAMPLES_FILE).is_file()]
    by_file = {}
    for file in files:
        names = set(pq.read_schema(file).names)
        table = pq.read_table(file, columns=[c for c in PAIRED_COLUMNS if c in names])
        by_file[file] = table.to_pylist()
    seen: dict[str, int] = {}
    for records in by_file.values():
        for model in dict.fromkeys(r["model"] for r in records):
            seen[model] = seen.get(model, 0) + 1
    out: dict[str, list[dict[str, Any]]] = {}
    for file, records in by_file.items():
        for r in records:
            label = r["model"] if seen[r["model"]] == 1 else f"{file.parents[2].name}/{r['model']}"
            out.setdefault(label, []).append(r)
    return out


BASE = "base"  # the untrained student's name in nt run and nt study
ALL_PAIRS_UP_TO = 5  # models; beyond, every model against the base only (a study's own table has its pairs)


def model_pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    """Which (a, b) to compare, the difference being b - a: the base student first (every model against it), then
    every other pair in the order found; with more than :data:`ALL_PAIRS_UP_TO` models and a base, the base pairs
    only."""
    ordered = sorted(names, key=lambda name: name.split("/")[-1] != BASE)  # stable: base first
    bases = [name for name in ordered if name.split("/")[-1] == BASE]
    if bases and len(ordered) > ALL_PAIRS_UP_TO:
        return [(base, name) for base in bases for name in ordered if name not in bases]
    return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :]]


def paired_comparisons(paths: Sequence[str | Path], resamples: int = stats.RESAMPLES) -> list[stats.Comparison]:
    """The paired differences of :func:`model_pairs` on every benchmark, mode and budget both models were
    evaluated on."""
    records = read_samples(paths)
    return stats.comparisons(records, model_pairs(list(records)), resamples=resamples)


def paired_markdown(found: Sequence[stats.Comparison]) -> str:
    if not found:
        return "No two models were evaluated on the same items: no paired differences."
    return stats.markdown(stats.PAIRED_HEADER, stats.paired_rows(found)) + "\n\n" + stats.PAIRED_NOTE


def paired_csv(found: Sequence[stats.Comparison]) -> str:
    records = stats.paired_records(found)
    out = io.StringIO()
    if records:
        writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    return out.getvalue()
