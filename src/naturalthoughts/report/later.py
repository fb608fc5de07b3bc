"""The SFT data, training and evaluation sections: tables the sft-data, train and eval stages write.

- SFT data: ``sft/NAME/meta.json`` (counts and realised System-1 / System-2 shares of each dataset);
- training: ``models/NAME/loss.parquet`` (LOSS_LOG, one row per logged step) and ``models/NAME/training.json``;
- evaluation: see :mod:`naturalthoughts.report.evaluation`.

Each section lists only what exists and says "not run" (with the command that fills it) when nothing does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from naturalthoughts.errors import Fix
from naturalthoughts.report import plots
from naturalthoughts.report.html import Section, figures, join, number, percent, table
from naturalthoughts.report.inputs import ReportInputs
from naturalthoughts.rundir import RunDir

MAX_CURVE_POINTS = 2000  # a loss curve of more logged steps is thinned (evenly) before it is drawn


def _sft_metas(run: RunDir) -> list[Path]:
    from naturalthoughts.sft.exports import META_JSON

    return sorted(run.sft_dir.glob(f"*/{META_JSON}")) if run.sft_dir.exists() else []


def _model_files(run: RunDir) -> list[Path]:
    from naturalthoughts.train.card import LOSS_PARQUET, TRAINING_JSON

    if not run.models_dir.exists():
        return []
    return sorted(p for name in (LOSS_PARQUET, TRAINING_JSON) for p in run.models_dir.glob(f"*/{name}"))


def input_files(run: RunDir) -> list[Path]:
    from naturalthoughts.report.evaluation import eval_input_files

    return _sft_metas(run) + _model_files(run) + eval_input_files(run)


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


# ---- SFT data --------------------------------------------------------------------------------------------------


def sft_section(inputs: ReportInputs) -> Section:
    metas = [_read_json(p) for p in _sft_metas(inputs.run)]
    if not metas:
        return Section.not_run("sft", "SFT data", "no SFT data yet.",
                               Fix("sft-data", selection="NAME", mix="POLICY").at(inputs.run))  # fmt: skip
    names = [m.get("name", "?") for m in metas]
    shares = {"System-2 (full trace)": [m.get("shares", {}).get("system2", 0.0) for m in metas],
              "System-1 (answer only)": [m.get("shares", {}).get("system1", 0.0) for m in metas]}  # fmt: skip
    svgs = [plots.stacked_hbar(names, shares, "System-1 / System-2 mix", "share of examples", "sft-mix",
                               colors=(plots.PALETTE[0], plots.PALETTE[1]), percent=True)]  # fmt: skip
    rows = []
    for m in metas:
        counts, share = m.get("counts", {}), m.get("shares", {})
        rows.append([m.get("name"), (m.get("selection") or {}).get("name"), m.get("mix"), m.get("seed"),
                     counts.get("examples"), percent(share.get("system2")), percent(share.get("system1")),
                     percent(share.get("adaptive")), counts.get("too_long"), counts.get("incomplete"),
                     counts.get("trained_tokens"), counts.get("max_tokens"), m.get("student")])  # fmt: skip
    header = [
        "SFT data",
        "selection",
        "mix",
        "seed",
        "examples",
        "System-2",
        "System-1",
        "no instruction",
        "dropped: too long",
        "dropped: incomplete",
        "trained tokens",
        "longest example",
        "student",
    ]
    return Section("sft", "SFT data", join(figures(*svgs), table(header, rows, numeric_from=3)))


# ---- training --------------------------------------------------------------------------------------------------


def _thin(xs: np.ndarray, ys: np.ndarray) -> tuple[list[float], list[float]]:
    if len(xs) > MAX_CURVE_POINTS:
        keep = np.unique(np.linspace(0, len(xs) - 1, MAX_CURVE_POINTS).astype(int))
        xs, ys = xs[keep], ys[keep]
    return xs.tolist(), ys.tolist()


def training_section(inputs: ReportInputs) -> Section:
    from naturalthoughts.train.card import LOSS_PARQUET, TRAINING_JSON

    run = inputs.run
    folders = sorted({p.parent for p in _model_files(run)})
    if not folders:
        return Section.not_run("training", "Training", "no student trained yet.",
                               Fix("train", selection="NAME").at(run))  # fmt: skip
    curves: dict[str, tuple[list[float], list[float]]] = {}
    rows = []
    for folder in folders:
        if (folder / LOSS_PARQUET).exists():
            loss = pq.read_table(folder / LOSS_PARQUET, columns=["step", "loss"]).drop_null()
            if loss.num_rows:
                curves[folder.name] = _thin(loss["step"].to_numpy(), loss["loss"].to_numpy())
        info = _read_json(folder / TRAINING_JSON) if (folder / TRAINING_JSON).exists() else {}
        result, hyper = info.get("result", {}), info.get("hyperparameters", {})
        rows.append([folder.name, info.get("sft_name"), info.get("student"), hyper.get("method"),
                     hyper.get("learning_rate"), result.get("steps"), result.get("epochs"), result.get("tokens"),
                     _minutes(result.get("seconds")), result.get("first_loss"), result.get("final_loss")])  # fmt: skip
    svgs = [plots.lines(curves, "Training loss", "optimizer step", "loss per trained token", "train-loss")]
    header = ["model", "SFT data", "student", "method", "learning rate", "steps", "epochs", "tokens", "minutes",
              "first loss", "final loss"]  # fmt: skip
    return Section("training", "Training", join(figures(*svgs) if curves else "", table(header, rows, numeric_from=4)))


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else number(round(seconds / 60, 2))
