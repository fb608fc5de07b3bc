"""The study's own stage, the result table (``study-table:NAME``) after every cell, and the study as a whole.

:func:`run_study` is ``nt study``: the pool stages of the study file (ingest, generate, annotate and its own
selections), every cell's select -> sft-data -> train -> eval in grid order, the base student's evaluation, the
table and the report, all through one runner; the stages are the registered ones
(:func:`naturalthoughts.study.grid.study_plan`). Each stage is skipped when up to date, so a rerun of a finished
study does no work and an interrupted one resumes at the stage that was cut.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from naturalthoughts.errors import Fix, MissingInputError
from naturalthoughts.rundir import RunDir
from naturalthoughts.stage import Stage, StageContext, StageResult
from naturalthoughts.study.config import StudyGrid
from naturalthoughts.study.evaluation import BASE_MODEL, eval_outputs, read_eval_records, read_eval_results
from naturalthoughts.study.grid import Cell, expand
from naturalthoughts.study.results import (
    PAIRED_CSV,
    RESULTS_CSV,
    TABLE_CSV,
    TABLE_MD,
    CellResult,
    aggregate,
    study_dir,
    study_pairs,
    write_results,
)

if TYPE_CHECKING:
    from naturalthoughts.pipeline import PipelinePlan


def _models(grid: StudyGrid) -> list[tuple[str, Cell | None]]:
    models: list[tuple[str, Cell | None]] = [(cell.name, cell) for cell in expand(grid)]
    return ([(BASE_MODEL, None)] if grid.evaluate_base else []) + models


def cell_results(run: RunDir, grid: StudyGrid) -> list[CellResult]:
    """Every evaluated model's results, labelled with its cell (MissingInputError names the first one missing)."""
    out = []
    for model, cell in _models(grid):
        for r in read_eval_results(run, model):
            out.append(CellResult(
                cell=model, label=cell.selection.label if cell else BASE_MODEL, size=cell.size if cell else None,
                mix=cell.mix if cell else None, seed=cell.seed if cell else None, mode=r["mode"],
                benchmark=r["benchmark"], accuracy=r["accuracy"], stderr=r.get("stderr"), items=r["items"],
                mean_tokens=r.get("mean_tokens"),
            ))  # fmt: skip
    return out


def paired_comparisons(run: RunDir, grid: StudyGrid) -> list[Any]:
    """Every group against the base and against the groups that differ from it in one grid dimension, on the same
    items (:func:`naturalthoughts.study.results.study_pairs`); a group's training seeds pair seed by seed."""
    from naturalthoughts import stats

    records: dict[str, list[dict[str, Any]]] = {}
    names: dict[str, Any] = {}
    for model, cell in _models(grid):
        name = cell.group.name if cell else BASE_MODEL
        names.setdefault(name, cell.group if cell else None)
        seed = cell.seed if cell else None
        records.setdefault(name, []).extend({**r, "train_seed": seed} for r in read_eval_records(run, model))
    pairs = study_pairs(list(names.items()))
    return stats.comparisons(records, pairs, replicate="train_seed")


class StudyTableStage(Stage):
    """``study-table:NAME``: every cell's evaluation -> ``study/NAME/{results.csv, table.csv, table.md}``."""

    name = "study-table"
    config_model = StudyGrid
    reads = ("eval/NAME/summary.parquet, eval/NAME/samples.parquet (every cell's, and the base student's)",)
    writes = ("study/NAME/results.csv", "study/NAME/table.csv", "study/NAME/paired.csv", "study/NAME/table.md")

    @classmethod
    def pipeline_stages(cls, plan: PipelinePlan) -> list[Stage]:
        return [cls(plan.study)] if plan.study is not None else []

    @property
    def key(self) -> str:
        return f"study-table:{self.config.name}"  # type: ignore[attr-defined]

    def inputs(self, run: RunDir) -> list[Path]:
        return [path for model, _ in _models(self.config) for path in eval_outputs(run, model)]  # type: ignore[arg-type]

    def outputs(self, run: RunDir) -> list[Path]:
        folder = study_dir(run, self.config.name)  # type: ignore[attr-defined]
        return [folder / RESULTS_CSV, folder / TABLE_CSV, folder / PAIRED_CSV, folder / TABLE_MD]

    def run(self, ctx: StageContext) -> StageResult:
        grid: StudyGrid = self.config  # type: ignore[assignment]
        results = cell_results(ctx.run, grid)
        if not results:
            raise MissingInputError(f"study {grid.name}: no evaluation results; run {{fix}} to evaluate its cells.",
                                    fix=Fix("study", "CONFIG").at(ctx.run))  # fmt: skip
        folder = study_dir(ctx.run, grid.name)
        paired = paired_comparisons(ctx.run, grid)
        written = write_results(folder, results, f"Study {grid.name}", paired)
        rows = aggregate(results)
        marked = sum(c.result.significant for c in paired)
        return StageResult(
            counts={
                "cells": len(expand(grid)),
                "results": len(results),
                "rows": len(rows),
                "paired": len(paired),
                "paired_beyond_2se": marked,
            },
            outputs=written,
            summary=f"{len(rows)} rows ({len({r.benchmark for r in rows})} benchmarks), {len(paired)} paired "
            f"differences ({marked} beyond 2 SE) -> {folder / TABLE_MD}",
            value={"folder": folder, "rows": rows, "paired": paired},
        )


def study_stages(config: Any) -> list[Stage]:
    """Every stage of the study, in the order they run (see :func:`naturalthoughts.study.grid.study_plan`)."""
    from naturalthoughts.pipeline import plan_stages
    from naturalthoughts.study.grid import study_plan

    return plan_stages(study_plan(config))


def stage_keys(config: Any) -> list[str]:
    """The manifest keys of every stage of the study, in order."""
    return [stage.key for stage in study_stages(config)]


def run_study(config: Any, *, force: bool | list[str] = False, wait: bool = False, reporter: Any = None,
              on_stage: Any = None) -> list[Any]:  # fmt: skip
    """Run the whole study through one runner (:func:`naturalthoughts.pipeline.run_stages`: every stage is checked
    before any work); returns every stage's outcome."""
    from naturalthoughts.pipeline import run_stages

    return run_stages(RunDir(config.run_dir), study_stages(config), force=force, wait=wait, reporter=reporter,
                      on_stage=on_stage)  # fmt: skip
