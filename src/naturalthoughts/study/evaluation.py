"""The study's evaluations read back: one row per (model, mode, benchmark) for the study table.

The eval stages themselves are built by :func:`naturalthoughts.eval.stage.eval_stage` (shared with ``nt run``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from naturalthoughts.errors import Fix, MissingInputError
from naturalthoughts.eval.models import BASE_MODEL
from naturalthoughts.eval.stage import eval_stage
from naturalthoughts.rundir import RunDir

__all__ = ["BASE_MODEL", "SUMMARY_FILE", "eval_outputs", "eval_stage", "read_eval_records", "read_eval_results"]

SUMMARY_FILE = "summary.parquet"
SAMPLES_FILE = "samples.parquet"


def eval_outputs(run: RunDir, model: str) -> list[Path]:
    return [run.eval_dir / model / SUMMARY_FILE, run.eval_dir / model / SAMPLES_FILE]


def read_eval_records(run: RunDir, model: str) -> list[dict[str, Any]]:
    """The per-sample records of one evaluated model, with the columns paired statistics read."""
    import pyarrow.parquet as pq

    from naturalthoughts.eval.compare import PAIRED_COLUMNS

    path = run.eval_dir / model / SAMPLES_FILE
    if not path.exists():
        raise MissingInputError(f"{path} does not exist: the study's evaluation of {model} has not run; run {{fix}} "
                                "again to finish it.", fix=Fix("study", "CONFIG").at(run))  # fmt: skip
    names = set(pq.read_schema(path).names)
    return pq.read_table(path, columns=[c for c in PAIRED_COLUMNS if c in names]).to_pylist()


def read_eval_results(run: RunDir, model: str) -> list[dict[str, Any]]:
    """``[{"mode", "benchmark", "accuracy", "stderr", "items", "mean_tokens"}]``: the whole-benchmark rows of one
    evaluated model (a thinking budget goes into the mode: ``think@512``); binomial standard error over samples
    when the evaluation has one seed."""
    import pyarrow.parquet as pq

    from naturalthoughts.eval.rows import mode_label, standard_error

    path = run.eval_dir / model / SUMMARY_FILE
    if not path.exists():
        raise MissingInputError(f"{path} does not exist: the study's evaluation of {model} has not run; run {{fix}} "
                                "again to finish it.", fix=Fix("study", "CONFIG").at(run))  # fmt: skip
    out = []
    for row in pq.read_table(path).to_pylist():
        if row.get("subset") is not None or row.get("accuracy") is None:
            continue
        out.append({"mode": mode_label(row["mode"], row.get("budget")), "benchmark": row["benchmark"],
                    "accuracy": row["accuracy"], "stderr": standard_error(row)[0], "items": row.get("items") or 0,
                    "mean_tokens": row.get("mean_tokens")})  # fmt: skip
    return out
