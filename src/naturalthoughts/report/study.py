"""The study section: each study's Table-1-like comparison (written by ``study-table``) with a plot per benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from naturalthoughts import stats
from naturalthoughts.errors import Fix
from naturalthoughts.report import plots
from naturalthoughts.report.html import Section, figures, join, table
from naturalthoughts.rundir import RunDir
from naturalthoughts.study.results import (
    PAIRED_CSV,
    PAIRED_SCOPE,
    STUDY_DIR,
    TABLE_CSV,
    TABLE_MD,
    read_paired,
    read_rows,
    wide,
)


def study_tables(run: RunDir) -> list[Path]:
    folder = run.root / STUDY_DIR
    return sorted(folder.glob(f"*/{TABLE_CSV}")) if folder.exists() else []


def study_input_files(run: RunDir) -> list[Path]:
    """What the section draws: each study's table and, when written, its paired differences."""
    paired = [path.parent / PAIRED_CSV for path in study_tables(run)]
    return study_tables(run) + [path for path in paired if path.exists()]


def study_section(inputs: Any) -> Section:
    paths = study_tables(inputs.run)
    if not paths:
        return Section.not_run("study", "Study", "no study in this run directory.", Fix("study", "CONFIG.yaml"))
    parts = []
    for path in paths:
        rows = read_rows(path)
        header, body = wide(rows)
        svgs = []
        for benchmark in sorted({r.benchmark for r in rows}):
            points = [{"model": r.label if r.size is None else f"{r.label}-{r.size:g}" + (
                "" if r.mix in (None, "none") else f" {r.mix}"), "mode": r.mode, "tokens": r.mean_tokens or 0.0,
                "accuracy": r.accuracy, "stderr": r.stderr} for r in rows if r.benchmark == benchmark]  # fmt: skip
            svgs.append(plots.accuracy_vs_tokens(points, f"{path.parent.name}: {benchmark}",
                                                 f"study-{path.parent.name}-{benchmark}"))  # fmt: skip
        caption = f"{path.parent.name}: accuracy (%) ± standard error; {path.parent / TABLE_MD} has the same table"
        parts.append(join(table(header, body, numeric_from=4, caption=caption), figures(*svgs)))
        paired = read_paired(path.parent / PAIRED_CSV)
        if paired:
            note = f"{path.parent.name}: paired differences. {stats.PAIRED_NOTE} {PAIRED_SCOPE}"
            parts.append(table(stats.PAIRED_HEADER, stats.paired_rows(paired), numeric_from=4, caption=note))
    return Section("study", "Study", join(*parts))
