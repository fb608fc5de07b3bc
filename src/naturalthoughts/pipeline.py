"""``nt run``: every built stage in order, from one YAML config, in one run directory.

Each stage resumes on its own (the response cache, deterministic selections), so running the same
pipeline again after an interruption redoes only what is missing.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from naturalthoughts.annotate.config import AnnotateConfig
from naturalthoughts.config import StrictModel, load_config
from naturalthoughts.generate.config import GenerateConfig
from naturalthoughts.ingest.config import IngestConfig
from naturalthoughts.rundir import RunDir
from naturalthoughts.select.config import SelectConfig

# Stages of the method that later issues build; `nt run` names them so nobody mistakes their absence.
NOT_BUILT = ("train", "eval", "report")


class PipelineConfig(StrictModel):
    run_dir: str = "runs/default"
    sources: list[str] = Field(default_factory=lambda: ["builtin:sample"])
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    annotate: AnnotateConfig = Field(default_factory=AnnotateConfig)
    select: list[SelectConfig] = Field(default_factory=list)


def default_config_path() -> Path:
    return Path(str(importlib.resources.files("naturalthoughts") / "configs" / "default.yaml"))


def load_pipeline_config(path: str | os.PathLike[str] | None, run_dir: str | None = None) -> PipelineConfig:
    return load_config(PipelineConfig, path or default_config_path(), {"run_dir": run_dir})


@dataclass
class StageOutcome:
    stage: str
    summary: str


@dataclass
class PipelineResult:
    run: RunDir
    outcomes: list[StageOutcome] = field(default_factory=list)
    not_built: tuple[str, ...] = NOT_BUILT


def run_pipeline(config: PipelineConfig, on_stage: Callable[[str], Any] | None = None) -> PipelineResult:
    """Run ingest → generate → annotate → select; report which later stages are not built yet."""
    from naturalthoughts.annotate import annotate
    from naturalthoughts.generate import generate
    from naturalthoughts.ingest import ingest
    from naturalthoughts.select import select

    run = RunDir(config.run_dir).ensure()
    result = PipelineResult(run)

    def stage(name: str, fn: Callable[[], object]) -> None:
        if on_stage:
            on_stage(name)
        result.outcomes.append(StageOutcome(name, _summarise(fn())))

    stage("ingest", lambda: ingest(config.sources, run, config.ingest))
    stage("generate", lambda: generate(run, config.generate))
    stage("annotate", lambda: annotate(run, config.annotate))
    for step in config.select:
        stage(
            f"select:{step.name or step.method}",
            lambda s=step: select(
                run, s.method, s.size, seed=s.seed, name=s.name,
                allow_smaller=s.allow_smaller, default_filter=s.default_filter,
            ),
        )
    return result


def _summarise(outcome: object) -> str:
    """A one-line summary of a stage's result: its counts, or what a selection chose."""
    if hasattr(outcome, "selected") and hasattr(outcome, "eligible"):
        return f"{outcome.selected} selected of {outcome.eligible} eligible → {outcome.path}"
    counts = getattr(outcome, "counts", None)
    counts = counts() if callable(counts) else counts
    parts = [f"{k} {v}" for k, v in (counts or {}).items() if not isinstance(v, dict)]
    if isinstance(getattr(outcome, "rows", None), int):
        parts.append(f"rows {outcome.rows}")
    if getattr(outcome, "domain_accuracy", None) is not None:
        parts.append(f"domain accuracy {outcome.domain_accuracy:.1%} (vs the source's labels)")
    return ", ".join(parts) or "done"
