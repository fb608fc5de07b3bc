"""The study's Table-1-like comparison: accuracy ± standard error per benchmark and mean response tokens, one row
per (selection, size, mix, mode), written as markdown and CSV under ``RUN/study/NAME/`` and shown in the report;
then the paired differences (``paired.csv``, and a second table in ``table.md``): every group against the base
student, and every two groups that differ in one of selection, size or mix (the later in grid order minus the
earlier), on the same items, with the paired standard error, bootstrap CI, no-answer rates and accuracy among
answered samples (:mod:`naturalthoughts.stats`). Differences larger than 2 paired SE are marked ``*``.

Standard error of a row: over seeds (sample standard deviation / sqrt(seeds)) when a row has two seeds or more; with
one seed, the evaluation's own standard error over benchmark items (binomial, sqrt(p(1-p)/n)) - the table says
which. The paired SE is over items, clustered by item: a group's training seeds pair seed by seed (the base with
each), and the samples of one item count as one cluster; it does not include the spread between training runs,
which the rows' standard error over seeds shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from naturalthoughts import stats
from naturalthoughts.rundir import RunDir

STUDY_DIR = "study"
RESULTS_CSV = "results.csv"  # one row per (cell, mode, benchmark): the seeds' own results
TABLE_CSV = "table.csv"  # one row per (group, mode, benchmark): mean, standard error, seeds
TABLE_MD = "table.md"  # the comparison as a markdown table (accuracy ± s.e. per benchmark, mean tokens)
PAIRED_CSV = "paired.csv"  # one row per (pair of groups, mode, benchmark): the paired difference and its statistics
BASE_LABEL = "base"  # the untrained student's row


@dataclass(frozen=True)
class CellResult:
    """One evaluated model on one benchmark in one mode (a seed's result)."""

    cell: str  # the model's name: a cell name, or "base"
    label: str  # selection label ("base" for the untrained student)
    size: int | None
    mix: str | None
    seed: int | None
    mode: str
    benchmark: str
    accuracy: float  # 0..1
    stderr: float | None  # the evaluation's standard error over items
    items: int
    mean_tokens: float | None


@dataclass(frozen=True)
class Row:
    """One line of the comparison: a group (cells that differ only in seed) in one mode, on one benchmark."""

    label: str
    size: int | None
    mix: str | None
    mode: str
    benchmark: str
    accuracy: float
    stderr: float | None
    stderr_over: str  # "seeds" | "items"
    seeds: int
    items: int
    mean_tokens: float | None


def study_dir(run: RunDir, name: str) -> Path:
    return run.root / STUDY_DIR / name


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def aggregate(results: Iterable[CellResult]) -> list[Row]:
    """Group the seeds of each (label, size, mix, mode, benchmark) into a mean and a standard error."""
    buckets: dict[tuple[Any, ...], list[CellResult]] = {}
    for r in results:
        buckets.setdefault((r.label, r.size, r.mix, r.mode, r.benchmark), []).append(r)
    rows = []
    for (label, size, mix, mode, benchmark), members in buckets.items():
        accuracies = [m.accuracy for m in members]
        if len(members) >= 2:
            mean = _mean(accuracies)
            variance = sum((a - mean) ** 2 for a in accuracies) / (len(accuracies) - 1)
            stderr, over = math.sqrt(variance / len(accuracies)), "seeds"
        else:
            stderr, over = members[0].stderr, "items"
        tokens = [m.mean_tokens for m in members if m.mean_tokens is not None]
        rows.append(Row(label, size, mix, mode, benchmark, _mean(accuracies), stderr, over, len(members),
                        sum(m.items for m in members), _mean(tokens) if tokens else None))  # fmt: skip
    return sorted(rows, key=lambda r: (r.label != BASE_LABEL, r.label, r.size or 0, r.mix or "", r.mode, r.benchmark))


def _cell(accuracy: float, stderr: float | None) -> str:
    return f"{100 * accuracy:.1f}" + (f" ± {100 * stderr:.1f}" if stderr is not None else "")


def wide(rows: Sequence[Row]) -> tuple[list[str], list[list[Any]]]:
    """The comparison as a table: one line per (label, size, mix, mode), a column per benchmark, mean tokens."""
    benchmarks = sorted({r.benchmark for r in rows})
    lines: dict[tuple[Any, ...], dict[str, Row]] = {}
    for r in rows:
        lines.setdefault((r.label, r.size, r.mix, r.mode), {})[r.benchmark] = r
    header = ["selection", "size", "mix", "mode", *benchmarks, "mean tokens", "seeds"]
    body = []
    for (label, size, mix, mode), by_bench in lines.items():
        tokens = [r.mean_tokens for r in by_bench.values() if r.mean_tokens is not None]
        seeds = max(r.seeds for r in by_bench.values())
        body.append([label, size if size is not None else "–", mix or "–", mode,
                     *(_cell(by_bench[b].accuracy, by_bench[b].stderr) if b in by_bench else "–" for b in benchmarks),
                     f"{_mean(tokens):,.0f}" if tokens else "–", seeds])  # fmt: skip
    return header, body


def markdown(rows: Sequence[Row], title: str, paired: Sequence[stats.Comparison] = ()) -> str:
    header, body = wide(rows)
    over = {r.stderr_over for r in rows}
    note = ("± is the standard error over seeds" if over == {"seeds"} else
            "± is the standard error over seeds (rows with 2+ seeds) or over benchmark items (one seed)")  # fmt: skip
    lines = [f"# {title}", "", f"Accuracy (%) per benchmark; {note}. Mean tokens: mean response length over the "
             "benchmarks.", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]  # fmt: skip
    lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in line) + " |" for line in body]
    if paired:
        lines += ["", "## Paired differences", "", stats.markdown(stats.PAIRED_HEADER, stats.paired_rows(paired)), "",
                  stats.PAIRED_NOTE + " " + PAIRED_SCOPE]  # fmt: skip
    return "\n".join(lines) + "\n"


PAIRED_SCOPE = (
    "Every group against the base, and groups that differ in one of selection, size or mix (later in the grid minus "
    "earlier); a group's training seeds pair seed by seed, so the SE is over items, not over training runs."
)


def study_pairs(names: Sequence[tuple[str, Any]]) -> list[tuple[str, str]]:
    """(a, b) pairs of the study's models, ``names`` = [(name, group or None for the base)] in grid order: the base
    against every group, and every two groups that differ in exactly one of selection, size and mix."""
    base = [name for name, group in names if group is None]
    grouped = [(name, group) for name, group in names if group is not None]
    pairs = [(b, name) for b in base for name, _ in grouped]
    for i, (first, g) in enumerate(grouped):
        for second, h in grouped[i + 1 :]:
            if sum((g.label != h.label, g.size != h.size, g.mix != h.mix)) == 1:
                pairs.append((first, second))
    return pairs


def write_results(folder: Path, results: Sequence[CellResult], title: str,
                  paired: Sequence[stats.Comparison] = ()) -> list[Path]:  # fmt: skip
    """``results.csv`` (each seed), ``table.csv`` (each group), ``paired.csv`` (each pair) and ``table.md``."""
    import pandas as pd

    from naturalthoughts.atomic import write_text

    rows = aggregate(results)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(pd.DataFrame([asdict(r) for r in results]).to_csv(index=False), folder / RESULTS_CSV)
    write_text(pd.DataFrame([asdict(r) for r in rows]).to_csv(index=False), folder / TABLE_CSV)
    paired_frame = pd.DataFrame(stats.paired_records(paired), columns=stats.PAIRED_FIELDS)
    write_text(paired_frame.to_csv(index=False), folder / PAIRED_CSV)
    write_text(markdown(rows, title, paired), folder / TABLE_MD)
    return [folder / RESULTS_CSV, folder / TABLE_CSV, folder / PAIRED_CSV, folder / TABLE_MD]


def read_paired(path: Path) -> list[stats.Comparison]:
    """``paired.csv`` read back (none when the file is missing: a table written before paired statistics)."""
    import pandas as pd

    if not path.exists():
        return []
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    return stats.from_records(frame.to_dict("records"))


def read_rows(path: Path) -> list[Row]:
    import pandas as pd

    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    rows = []
    for record in frame.to_dict("records"):
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}
        clean["size"] = int(clean["size"]) if clean["size"] is not None else None
        rows.append(Row(**clean))
    return rows
