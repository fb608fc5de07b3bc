"""``nt select --compare``: the pool and each selection side by side, as a table and a CSV file.

:class:`CompareSelectionsStage` (``select-compare``) writes ``selections/compare.csv`` through the runner, under
the run directory's lock and with its manifest record, like every stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow.parquet as pq
from pydantic import Field

from naturalthoughts.atomic import write_text
from naturalthoughts.config import StrictModel
from naturalthoughts.errors import BadInputError, MissingInputError
from naturalthoughts.rundir import RunDir
from naturalthoughts.select.base import Rows
from naturalthoughts.select.pool import Pool
from naturalthoughts.stage import Stage, StageContext, StageResult

if TYPE_CHECKING:
    import pandas as pd

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
COMPARE_CSV = "compare.csv"


def entropy_bits(counts: np.ndarray) -> float:
    counts = counts[counts > 0]
    if counts.sum() == 0:
        return float("nan")
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def describe(pool: Pool, rows: Rows) -> dict[str, float]:
    """Statistics of ``rows``: what ``--compare`` shows and what the manifest records for a selection.

    Columns the run does not have give NaN rather than an error, so a partly annotated run still compares.
    """
    stats: dict[str, float] = {"traces": float(len(rows))}
    if pool.has_column("domain"):
        codes, names = pool.codes("domain")
        counts = np.bincount(codes[rows][codes[rows] >= 0], minlength=len(names)).astype(float)
        stats["domain entropy (bits)"] = entropy_bits(counts)
        stats["domains"] = float((counts > 0).sum())
        known = counts.sum()
        for name, count in zip(names, counts, strict=True):
            stats[f"domain: {name}"] = count / known if known else float("nan")
    stats["mean distinct strategies"] = _mean(pool, "n_strategies", rows)
    tokens = pool.numbers("reasoning_tokens")[rows]
    tokens = tokens[~np.isnan(tokens)]
    for q in QUANTILES:
        stats[f"reasoning tokens p{round(q * 100)}"] = float(np.quantile(tokens, q)) if len(tokens) else float("nan")
    stats["disagreement rate"] = _mean(pool, "disagree", rows)
    stats["correct rate"] = _mean(pool, "correct", rows)
    return stats


def _mean(pool: Pool, column: str, rows: Rows) -> float:
    if not pool.has_column(column):
        return float("nan")
    values = pool.numbers(column)[rows]
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def selection_names(run: RunDir) -> list[str]:
    return sorted(p.stem for p in run.selections_dir.glob("*.parquet")) if run.selections_dir.exists() else []


def selection_rows(run: RunDir, pool: Pool, name: str) -> Rows:
    import pandas as pd  # lazy: keeps `nt` start-up light

    path = run.selection(name)
    if not path.exists():
        known = ", ".join(selection_names(run)) or "none yet"
        raise MissingInputError(f"{path} does not exist (selections in this run: {known}).")
    ids = pq.read_table(path, columns=["trace_id"])["trace_id"].to_numpy()
    rows = pd.Index(pool.trace_id.to_numpy(zero_copy_only=False)).get_indexer(ids)
    if (rows < 0).any():
        bad = int(np.flatnonzero(rows < 0)[0])
        raise BadInputError(f"{path}: row {bad + 1}: trace_id {ids[bad]!r} is not in {run.traces}")
    return rows


def compare(run: RunDir | str, names: Sequence[str] | None = None, write_csv: bool = True) -> pd.DataFrame:
    """One column for the pool and one per selection (all of them by default), one row per statistic.

    Also written to ``selections/compare.csv`` unless ``write_csv`` is false.
    """
    import pandas as pd  # lazy: keeps `nt` start-up light

    run = RunDir(run) if not isinstance(run, RunDir) else run
    pool = Pool.load(run)
    names = list(names) if names else selection_names(run)
    columns = {"pool": describe(pool, np.arange(pool.n))}
    for name in names:
        columns[name] = describe(pool, selection_rows(run, pool, name))
    table = pd.DataFrame(columns)
    table.index.name = "statistic"
    if write_csv:
        write_text(table.to_csv(float_format="%.6g"), run.selections_dir / COMPARE_CSV)
    return table


class CompareConfig(StrictModel):
    names: list[str] | None = Field(None, description="the selections compared (default: every one)")


class CompareSelectionsStage(Stage):
    """``select-compare``: the pool and every selection -> ``selections/compare.csv`` (``value``: the table)."""

    name = "select-compare"
    config_model = CompareConfig
    reads = ("traces.parquet", "annotations.parquet", "embeddings.parquet", "questions.parquet", "selections/*.parquet")
    writes = (f"selections/{COMPARE_CSV}",)

    def inputs(self, run: RunDir) -> list[Path]:
        names = self.config.names or selection_names(run)  # type: ignore[attr-defined]
        tables = [run.traces, run.annotations, run.embeddings, run.questions]
        return [*(p for p in tables if p.exists()), *(run.selection(name) for name in names)]

    def outputs(self, run: RunDir) -> list[Path]:
        return [run.selections_dir / COMPARE_CSV]

    def run(self, ctx: StageContext) -> StageResult:
        table = compare(ctx.run, self.config.names)  # type: ignore[attr-defined]
        return StageResult(counts={"selections": len(table.columns) - 1}, outputs=self.outputs(ctx.run),
                           summary=f"pool and {len(table.columns) - 1} selections", value=table)  # fmt: skip
