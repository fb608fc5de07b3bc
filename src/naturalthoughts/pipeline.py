"""``nt run``: the whole pipeline from one YAML config, as a list of stages given to the runner.

Everything here is read from the stage registry (:mod:`naturalthoughts.registry`):

- :func:`pipeline_model` is the YAML's model: a few run-wide keys, then one section per registered stage that has
  one, validated by that stage's own config model;
- :class:`PipelinePlan` is a config resolved into what the stages need (the selections, the students);
  :func:`pipeline_stages` asks every registered stage for its instances
  (:meth:`naturalthoughts.stage.Stage.pipeline_stages`) and puts them in the order their declared inputs and
  outputs require (:func:`dependency_order`);
- :func:`run_stages` hands them to one :class:`~naturalthoughts.runner.Runner`, which validates every stage first
  (a bad selection expression fails before generation starts), skips the stages that are up to date and resumes
  the one that was cut. A budget stop (``stopped``) ends the run; an ``incomplete`` stage does not (the caller
  reports it at the end).
"""

from __future__ import annotations

import functools
import importlib.resources
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, create_model, field_validator

from naturalthoughts import registry
from naturalthoughts.config import StrictModel, load_section
from naturalthoughts.errors import ConfigError
from naturalthoughts.ingest.layouts import TraceSourceSpec
from naturalthoughts.progress import Reporter
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner, StageOutcome
from naturalthoughts.stage import Stage


class PipelineBase(StrictModel):
    """One YAML for the whole pipeline: these run-wide keys and a section per registered stage. The sections after
    ``select`` are optional: without ``train`` the pipeline ends with the selections (and the report); with it,
    every selection named in ``students`` (default: all) gets SFT data (``sft``), a student (``train``) and, with
    ``eval``, an evaluation beside the untrained student's."""

    run_dir: str = "runs/default"
    sources: list[str | TraceSourceSpec] = Field(
        default_factory=lambda: ["builtin:sample"],
        description="question sources (as the ingest stage reads them); a reasoning-gym source may also be a mapping "
        "{reasoning-gym: {tasks: {TASK: {PARAM: VALUE}}, size: N, seed: S}}; a source with per-source options a "
        "mapping with `source`, `traces` (r1 | split | messages: it carries responses, so no generate stage runs), "
        "the *_col keys, `teacher`, `tokenizer` (docs/traces.md)",
    )
    students: list[str] | None = Field(None, description="selection names that get a student (default: all)")
    evaluate_base: bool = Field(True, description="also evaluate the untrained student, as `base`")

    @field_validator("sources", mode="before")
    @classmethod
    def _reasoning_gym_mappings(cls, value: Any) -> Any:
        """A ``{reasoning-gym: {...}}`` source becomes its spec string (one form for ingest and the manifest)."""
        from naturalthoughts.text.tasks import spec_text

        if not isinstance(value, list):
            return value
        return [spec_text(v) if isinstance(v, dict) and "reasoning-gym" in v else v for v in value]


def _section_field(spec: registry.StageSpec) -> tuple[Any, Any]:
    model = spec.config_model()
    described = {"description": spec.description} if spec.description else {}
    if spec.presence == "list":
        return list[model], Field(default_factory=list, **described)  # type: ignore[valid-type]
    if spec.presence == "optional":
        return model | None, Field(None, **described)
    if spec.presence == "default":
        return model | None, Field(default_factory=model, **described)
    return model, Field(default_factory=model, **described)


@functools.lru_cache(maxsize=8)
def _model_for(sections: tuple[registry.StageSpec, ...]) -> type[PipelineBase]:
    fields = {spec.section: _section_field(spec) for spec in sections}
    return create_model("PipelineConfig", __base__=PipelineBase, __doc__=PipelineBase.__doc__, **fields)  # type: ignore[call-overload,no-any-return]


def pipeline_model() -> type[PipelineBase]:
    """The pipeline YAML's model, with a section for every registered stage that has one."""
    return _model_for(tuple(registry.pipeline_specs()))


PipelineConfig = pipeline_model()


def default_config_path() -> Path:
    return Path(str(importlib.resources.files("naturalthoughts") / "configs" / "default.yaml"))


def load_pipeline_config(path: str | os.PathLike[str] | None, run_dir: str | None = None) -> Any:
    return load_section(pipeline_model(), path or default_config_path(), None, {"run_dir": run_dir})


# ---- the plan: a config resolved into stages --------------------------------------------------------------------


@dataclass(frozen=True)
class Student:
    """One student of a pipeline: its selection, the name of its SFT data, model and evaluation, and how its SFT
    data is built and (``train`` set) how it is trained."""

    selection: str
    name: str
    sft: Any  # SftDataConfig
    train: Any | None = None  # TrainConfig


@dataclass
class PipelinePlan:
    """A pipeline (or study) config resolved into what the stages need. Stage classes read it in
    :meth:`~naturalthoughts.stage.Stage.pipeline_stages`: their section (:meth:`section`), the selections, the
    students, whether the trained students and the untrained one are evaluated."""

    config: Any
    selections: list[Any] = field(default_factory=list)  # SelectConfig, one per selection stage
    students: list[Student] = field(default_factory=list)
    evaluate: bool = False  # every trained student gets an evaluation
    evaluate_base: bool = False  # so does the untrained student
    study: Any = None  # the study grid (nt study only)

    @property
    def run(self) -> RunDir:
        return RunDir(self.config.run_dir)

    @property
    def sources_carry_traces(self) -> bool:
        """Whether a source of the pipeline carries responses (imported traces: nothing to generate for them)."""
        from naturalthoughts.ingest.layouts import imports_traces

        return bool(imports_traces(getattr(self.config, "sources", [])))

    def section(self, stage: str) -> Any:
        """The config section of the registered stage ``stage`` (None when absent or not in this config)."""
        name = registry.spec(stage).section
        return getattr(self.config, name, None) if name is not None else None


def student_selections(config: Any, names: list[str]) -> list[str]:
    """The selection names that get a student: ``students``, checked against the selections, or all of them."""
    if config.students is None:
        return names
    unknown = [name for name in config.students if name not in names]
    if unknown:
        raise ConfigError(f"students: {', '.join(unknown)} is not the name of a selection ({', '.join(names)})")
    return list(config.students)


def sft_for_student(config: Any, sft: Any) -> Any:
    """The SFT data config of a student: the student of ``train`` renders it, so one chat template serves both."""
    train = getattr(config, "train", None)
    student = train.get("student") if isinstance(train, dict) else getattr(train, "student", None)
    if student and not sft.student:
        return sft.model_copy(update={"student": student})
    return sft


def pipeline_plan(config: Any) -> PipelinePlan:
    from naturalthoughts.select.stage import SelectStage
    from naturalthoughts.sft.config import SftDataConfig
    from naturalthoughts.sft.stage import sft_name

    plan = PipelinePlan(config, selections=list(config.select))
    if config.train is None and config.sft is None:
        return plan
    sft = sft_for_student(config, config.sft or SftDataConfig())
    names = [SelectStage(step).selection_name for step in config.select]
    for selection in student_selections(config, names):
        plan.students.append(Student(selection, sft_name(selection, sft.mix), sft, config.train))
    plan.evaluate = config.train is not None and config.eval is not None
    plan.evaluate_base = plan.evaluate and config.evaluate_base
    return plan


def plan_stages(plan: PipelinePlan) -> list[Stage]:
    """Every registered stage's instances for ``plan``, in dependency order; two stages with one key are refused."""
    stages: list[Stage] = []
    for spec in registry.specs():
        stages.extend(spec.stage_class().pipeline_stages(plan))
    _check_unique_keys(stages)
    return dependency_order(stages, plan.run)


def pipeline_stages(config: Any) -> list[Stage]:
    """Every stage of the pipeline, in order."""
    return plan_stages(pipeline_plan(config))


def _check_unique_keys(stages: list[Stage]) -> None:
    seen: set[str] = set()
    for stage in stages:
        if stage.key in seen:
            raise ConfigError(
                f"two stages of this pipeline are both `{stage.key}` (they would write the same files): "
                "give one of them another `name`"
            )
        seen.add(stage.key)


# ---- the order: what a stage reads comes first --------------------------------------------------------------------


def _overlaps(read: Path, written: Path) -> bool:
    """Reading ``read`` sees what writing ``written`` changes: the same path, or one inside the other."""
    return read == written or written in read.parents or read in written.parents


def dependency_order(stages: Sequence[Stage], run: RunDir) -> list[Stage]:
    """``stages`` ordered so every stage comes after the stages that write what it reads (declared ``inputs`` and
    ``outputs``). Among the stages that may run next, the one that reads what ran last goes first (a selection's
    SFT data, training and evaluation follow it, so one student is finished before the next starts); then the
    given order (the registry's) decides. Stages that read each other's outputs keep the given order."""
    absolute = functools.partial(_absolute, run)
    reads = [[absolute(p) for p in stage.inputs(run)] for stage in stages]
    writes = [[absolute(p) for p in stage.outputs(run)] for stage in stages]
    needs = [
        {j for j in range(len(stages)) if j != i and any(_overlaps(r, w) for r in reads[i] for w in writes[j])}
        for i in range(len(stages))
    ]
    position: dict[int, int] = {}
    remaining = list(range(len(stages)))
    while remaining:
        ready = [i for i in remaining if needs[i] <= position.keys()] or remaining[:1]  # a cycle: the given order
        chosen = max(ready, key=lambda i: (max((position[j] for j in needs[i] if j in position), default=-1), -i))
        position[chosen] = len(position)
        remaining.remove(chosen)
    return [stages[i] for i in sorted(position, key=position.__getitem__)]


def _absolute(run: RunDir, path: Path) -> Path:
    return Path(os.path.abspath(path if Path(path).is_absolute() else run.root / path))


# ---- running ------------------------------------------------------------------------------------------------------


def run_stages(
    run: RunDir,
    stages: Sequence[Stage],
    *,
    force: bool | list[str] = False,
    wait: bool = False,
    reporter: Reporter | None = None,
    on_stage: Callable[[str], Any] | None = None,
) -> list[StageOutcome]:
    """Check every stage first (bad config fails before any work), then run them in order through one runner.

    A budget stop ends the run there (later stages would read a partial result); an incomplete stage does not
    (its failed items are left out of what follows; the caller names it at the end); any error propagates."""
    with Runner(run, force=force, wait=wait, reporter=reporter) as runner:
        for stage in stages:
            stage.check(run)
        for stage in stages:
            if on_stage is not None:
                on_stage(stage.key)
            if runner.run_stage(stage).status == "stopped":
                break
        return runner.outcomes


def run_pipeline(
    config: Any,
    *,
    force: bool | list[str] = False,
    wait: bool = False,
    reporter: Reporter | None = None,
    on_stage: Callable[[str], Any] | None = None,
) -> list[StageOutcome]:
    """Run every stage of ``config`` (see :func:`run_stages`); returns each stage's outcome."""
    stages = pipeline_stages(config)
    return run_stages(RunDir(config.run_dir), stages, force=force, wait=wait, reporter=reporter, on_stage=on_stage)


def stage_keys(config: Any) -> list[str]:
    return [stage.key for stage in pipeline_stages(config)]


def check_force(keys: list[str], force: list[str]) -> None:
    """Every stage to force must be a stage key or stage name of this pipeline (``keys``)."""
    names = {key.split(":", 1)[0] for key in keys}
    unknown = [name for name in force if name not in keys and name not in names]
    if unknown:
        raise ConfigError(f"forced stage {', '.join(unknown)}: not a stage of this pipeline ({', '.join(keys)})")
