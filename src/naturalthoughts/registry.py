"""The one stage registry: every stage, one line each, in pipeline order.

Everything that lists stages is built from :data:`STAGES`: the ``nt`` command list (a stage's ``cli`` module
registers its command), the sections of a pipeline YAML (:func:`naturalthoughts.pipeline.pipeline_model`), the
stages of ``nt run`` and of every ``nt study`` cell (each stage class says which instances a pipeline needs,
:meth:`naturalthoughts.stage.Stage.pipeline_stages`; the runner's order follows the files they declare to read
and write, this list breaking ties) and the stage table of ``docs/architecture.md``.

A new stage is its package (a :class:`~naturalthoughts.stage.Stage` subclass and its pydantic config), one line
here and, when it has a command of its own, one module under ``naturalthoughts/cli/`` with a ``register(app)``.
Importing this module is cheap: classes are named as ``"module:Class"`` strings and imported on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from naturalthoughts.errors import Fix

if TYPE_CHECKING:
    from pydantic import BaseModel

    from naturalthoughts.stage import Stage

# How a stage's section of a pipeline YAML behaves: ``always`` (a mapping, defaults when absent), ``default`` (as
# always, but ``null`` leaves the stage out), ``optional`` (absent or null: the stage is not part of the run),
# ``list`` (a list of mappings: one stage instance each).
Presence = Literal["always", "default", "optional", "list"]


@dataclass(frozen=True)
class StageSpec:
    """One registered stage."""

    name: str  # the stage name: the manifest key (or its prefix, ``select:NAME``)
    stage: str  # "module:Class" of its Stage subclass
    config: str  # "module:Class" of its pydantic config model
    section: str | None = None  # its section of a pipeline YAML; None: not part of `nt run`
    presence: Presence = "always"
    # The module that registers its command: a module of naturalthoughts.cli, else any importable module; None: none.
    cli: str | None = None
    description: str = ""  # the pipeline section's help text
    run_by: Fix | None = None  # without a command of its own: the command (with its options) that runs it

    @property
    def command(self) -> str | None:
        """The command that runs this stage: its own (named after its CLI module) or the one it is run by."""
        if self.cli is not None:
            return self.cli.rsplit(".", 1)[-1].replace("_", "-")
        return self.run_by.command if self.run_by is not None else None

    def fix(self) -> Fix:
        """Running this stage again, as a :class:`~naturalthoughts.errors.Fix` (the CLI shows the command)."""
        if self.run_by is not None:
            return self.run_by
        return Fix(self.command or "run")

    def stage_class(self) -> type[Stage]:
        return _load(self.stage)  # type: ignore[no-any-return]

    def config_model(self) -> type[BaseModel]:
        return _load(self.config)  # type: ignore[no-any-return]


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


_NT = "naturalthoughts"

# The registry, in pipeline order. Stages without a section run only through their command (or another's).
STAGES: list[StageSpec] = [
    StageSpec("ingest", f"{_NT}.ingest.stage:IngestStage", f"{_NT}.ingest.config:IngestConfig", "ingest", cli="ingest"),
    StageSpec("generate", f"{_NT}.generate.stage:GenerateStage", f"{_NT}.generate.config:GenerateConfig", "generate",
              cli="generate"),
    StageSpec("generate-estimate", f"{_NT}.generate.estimate:GenerateEstimateStage",
              f"{_NT}.generate.config:GenerateConfig", run_by=Fix("generate", estimate=True)),
    StageSpec("annotate", f"{_NT}.annotate.stage:AnnotateStage", f"{_NT}.annotate.config:AnnotateConfig", "annotate",
              cli="annotate"),
    StageSpec("annotate-compare", f"{_NT}.annotate.compare:CompareStage", f"{_NT}.annotate.config:AnnotateConfig",
              run_by=Fix("annotate", compare="A,B")),
    StageSpec("select", f"{_NT}.select.stage:SelectStage", f"{_NT}.select.config:SelectConfig", "select", "list",
              cli="select", description="the selections: one stage each"),
    StageSpec("select-compare", f"{_NT}.select.compare:CompareSelectionsStage", f"{_NT}.select.compare:CompareConfig",
              run_by=Fix("select", compare=True)),
    StageSpec("sft-data", f"{_NT}.sft.stage:SftDataStage", f"{_NT}.sft.config:SftDataConfig", "sft", "optional",
              cli="sft_data", description="SFT data of every student (the System-1/System-2 mix)"),
    StageSpec("train", f"{_NT}.train.stage:TrainStage", f"{_NT}.train.config:TrainConfig", "train", "optional",
              cli="train", description="how every student is trained; absent: no students"),
    StageSpec("eval", f"{_NT}.eval.stage:EvalStage", f"{_NT}.eval.config:EvalConfig", "eval", "optional", cli="eval",
              description="evaluation of every student (engine: the student's folder)"),
    StageSpec("study-table", f"{_NT}.study.stage:StudyTableStage", f"{_NT}.study.config:StudyGrid",
              run_by=Fix("study", "CONFIG")),
    StageSpec("report", f"{_NT}.report.stage:ReportStage", f"{_NT}.report.config:ReportConfig", "report", "default",
              cli="report", description="the HTML report (null: none)"),
    StageSpec("export", f"{_NT}.export.stage:ExportStage", f"{_NT}.export.stage:ExportConfig", cli="export"),
    StageSpec("export-data", f"{_NT}.export_data.stage:ExportDataStage", f"{_NT}.export_data.config:ExportDataConfig",
              cli="export_data"),
]  # fmt: skip


def register(spec: StageSpec, *, before: str | None = None) -> StageSpec:
    """Add ``spec`` to the registry (before the stage named ``before``, else at the end); returns it.

    The registry's own stages are the lines of :data:`STAGES`; this is for stages defined elsewhere (a plugin, a
    test). Registering a name twice is an error."""
    if any(s.name == spec.name for s in STAGES):
        raise ValueError(f"stage {spec.name!r} is registered already")
    index = next((i for i, s in enumerate(STAGES) if s.name == before), len(STAGES))
    STAGES.insert(index, spec)
    return spec


def unregister(name: str) -> None:
    """Remove the stage ``name`` (for tests that registered one)."""
    STAGES[:] = [s for s in STAGES if s.name != name]


def specs() -> list[StageSpec]:
    """Every registered stage, in pipeline order."""
    return list(STAGES)


def spec(name: str) -> StageSpec:
    for entry in STAGES:
        if entry.name == name:
            return entry
    raise KeyError(f"no stage {name!r} is registered ({', '.join(s.name for s in STAGES)})")


def pipeline_specs() -> list[StageSpec]:
    """The stages with a section in a pipeline YAML (the stages ``nt run`` can run)."""
    return [s for s in STAGES if s.section is not None]


def stage_classes() -> dict[str, type[Stage]]:
    """name -> Stage class of every registered stage, in pipeline order (imports each stage's package)."""
    return {s.name: s.stage_class() for s in STAGES}


def command_names() -> list[str]:
    """The commands of the stages that have one, in pipeline order."""
    return [s.command for s in STAGES if s.cli is not None and s.command is not None]


def command_modules() -> list[str]:
    """The CLI modules of the stages that have a command, in pipeline order."""
    return list(dict.fromkeys(s.cli for s in STAGES if s.cli is not None))
