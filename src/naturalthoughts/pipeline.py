"""``nt run``: the whole pipeline from one YAML config, as a list of stages given to the runner.

:class:`PipelineConfig` composes every stage's config (each lives beside its stage); :func:`pipeline_stages`
turns it into stages in order; :func:`run_pipeline` hands them to one :class:`~naturalthoughts.runner.Runner`,
which validates every stage first (a bad selection expression fails before generation starts), skips the
stages that are up to date and resumes the one that was cut.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import Field

from naturalthoughts.annotate.config import AnnotateConfig
from naturalthoughts.config import StrictModel, load_section
from naturalthoughts.errors import ConfigError
from naturalthoughts.eval.config import EvalConfig
from naturalthoughts.generate.config import GenerateConfig
from naturalthoughts.ingest.config import IngestConfig
from naturalthoughts.progress import Reporter
from naturalthoughts.report.config import ReportConfig
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner, StageOutcome
from naturalthoughts.select.config import SelectConfig
from naturalthoughts.sft.config import SftDataConfig
from naturalthoughts.stage import Stage
from naturalthoughts.train.config import TrainConfig


class PipelineConfig(StrictModel):
    """One YAML for the whole pipeline. The sections after ``select`` are optional: without ``train`` the pipeline
    ends with the selections (and the report); with it, every selection named in ``students`` (default: all) gets
    SFT data (``sft``), a student (``train``) and, with ``eval``, an evaluation beside the untrained student's."""

    run_dir: str = "runs/default"
    sources: list[str] = Field(default_factory=lambda: ["builtin:sample"])
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    annotate: AnnotateConfig = Field(default_factory=AnnotateConfig)
    select: list[SelectConfig] = Field(default_factory=list)
    sft: SftDataConfig | None = Field(None, description="SFT data of every student (the System-1/System-2 mix)")
    train: TrainConfig | None = Field(None, description="how every student is trained; absent: no students")
    students: list[str] | None = Field(None, description="selection names that get a student (default: all)")
    eval: EvalConfig | None = Field(None, description="evaluation of every student (engine: the student's folder)")
    evaluate_base: bool = Field(True, description="also evaluate the untrained student, as `base`")
    report: ReportConfig | None = Field(default_factory=ReportConfig, description="the HTML report (null: none)")


def default_config_path() -> Path:
    return Path(str(importlib.resources.files("naturalthoughts") / "configs" / "default.yaml"))


def load_pipeline_config(path: str | os.PathLike[str] | None, run_dir: str | None = None) -> PipelineConfig:
    return load_section(PipelineConfig, path or default_config_path(), None, {"run_dir": run_dir})


def stage_classes() -> dict[str, type[Stage]]:
    """The one registry of stages, in pipeline order (imported on demand: each pulls in its own libraries)."""
    from naturalthoughts.annotate.stage import AnnotateStage
    from naturalthoughts.eval.stage import EvalStage
    from naturalthoughts.export.stage import ExportStage
    from naturalthoughts.generate.stage import GenerateStage
    from naturalthoughts.ingest.stage import IngestStage
    from naturalthoughts.report.stage import ReportStage
    from naturalthoughts.select.stage import SelectStage
    from naturalthoughts.sft.stage import SftDataStage
    from naturalthoughts.train.stage import TrainStage

    classes: list[type[Stage]] = [
        IngestStage, GenerateStage, AnnotateStage, SelectStage, SftDataStage, TrainStage, EvalStage, ReportStage,
        ExportStage,
    ]  # fmt: skip
    return {cls.name: cls for cls in classes}


def pool_stages(config: PipelineConfig) -> list[Stage]:
    """ingest -> generate -> annotate -> one select per selection: the pool and its subsets."""
    from naturalthoughts.annotate.stage import AnnotateStage
    from naturalthoughts.generate.stage import GenerateStage
    from naturalthoughts.ingest.stage import IngestStage
    from naturalthoughts.select.stage import SelectStage

    stages: list[Stage] = [
        IngestStage(config.ingest, sources=config.sources),
        GenerateStage(config.generate),
        AnnotateStage(config.annotate),
    ]
    stages.extend(SelectStage(step) for step in config.select)
    return stages


def student_selections(config: PipelineConfig, selections: list[Stage]) -> list[str]:
    """The selection names that get a student: ``students``, checked against the selections, or all of them."""
    names = [stage.key.split(":", 1)[1] for stage in selections]
    if config.students is None:
        return names
    unknown = [name for name in config.students if name not in names]
    if unknown:
        raise ConfigError(f"students: {', '.join(unknown)} is not the name of a selection ({', '.join(names)})")
    return list(config.students)


def distill_stages(config: PipelineConfig, selections: list[Stage]) -> list[Stage]:
    """sft-data -> train -> eval for each student, the untrained student's eval, in that order."""
    if config.train is None and config.sft is None:
        return []
    from naturalthoughts.eval.models import eval_stage
    from naturalthoughts.sft.stage import SftDataStage
    from naturalthoughts.train.stage import TrainStage

    sft_config = config.sft or SftDataConfig()
    if config.train is not None and config.train.student and not sft_config.student:
        sft_config = sft_config.model_copy(update={"student": config.train.student})  # one chat template for both
    stages: list[Stage] = []
    for selection in student_selections(config, selections):
        sft = SftDataStage(sft_config, selection=selection)
        stages.append(sft)
        if config.train is None:
            continue
        name = sft.args["name"]
        stages.append(TrainStage(config.train, sft=name, name=name))
        if config.eval is not None:
            stages.append(eval_stage(config, model=name))
    if config.train is not None and config.eval is not None and config.evaluate_base:
        stages.append(eval_stage(config, model=None))
    return stages


def pipeline_stages(config: PipelineConfig) -> list[Stage]:
    """Every stage of the pipeline, in order."""
    stages = pool_stages(config)
    stages += distill_stages(config, [s for s in stages if s.name == "select"])
    if config.report is not None:
        from naturalthoughts.report.stage import ReportStage

        stages.append(ReportStage(config.report))
    _check_unique_keys(stages)
    return stages


def _check_unique_keys(stages: list[Stage]) -> None:
    seen: set[str] = set()
    for stage in stages:
        if stage.key in seen:
            raise ConfigError(
                f"two stages of this pipeline are both `{stage.key}` (they would write the same files): "
                "give one of them another `name`"
            )
        seen.add(stage.key)


def run_stages(
    run: RunDir,
    stages: Callable[[], Iterable[Stage]],
    *,
    force: bool | list[str] = False,
    wait: bool = False,
    reporter: Reporter | None = None,
    on_stage: Callable[[str], Any] | None = None,
) -> list[StageOutcome]:
    """Check every stage first (bad config fails before any work), then run them in order through one runner.

    ``stages`` is called twice (once to check, once to run), so a caller can build later stages lazily. A budget
    stop ends the run there (later stages would read a partial result); any error propagates.
    """
    with Runner(run, force=force, wait=wait, reporter=reporter) as runner:
        for stage in stages():
            stage.check(run)
        for stage in stages():
            if on_stage is not None:
                on_stage(stage.key)
            if runner.run_stage(stage).status == "stopped":
                break
        return runner.outcomes


def run_pipeline(
    config: PipelineConfig,
    *,
    force: bool | list[str] = False,
    wait: bool = False,
    reporter: Reporter | None = None,
    on_stage: Callable[[str], Any] | None = None,
) -> list[StageOutcome]:
    """Run every stage of ``config`` (see :func:`run_stages`); returns each stage's outcome."""
    stages = pipeline_stages(config)
    return run_stages(RunDir(config.run_dir), lambda: stages, force=force, wait=wait, reporter=reporter,
                      on_stage=on_stage)  # fmt: skip


def stage_keys(config: PipelineConfig) -> list[str]:
    return [stage.key for stage in pipeline_stages(config)]


def check_force(config: PipelineConfig, force: list[str]) -> None:
    """``nt run --force NAME``: every name must be a stage of this pipeline."""
    keys = stage_keys(config)
    names = {key.split(":", 1)[0] for key in keys}
    unknown = [name for name in force if name not in keys and name not in names]
    if unknown:
        raise ConfigError(f"--force {', '.join(unknown)}: not a stage of this pipeline ({', '.join(keys)})")
