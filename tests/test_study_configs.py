"""Every example config in configs/ validates against the config models it will be run with.

A file's pipeline sections go through ``naturalthoughts.pipeline.load_pipeline_config`` (so an unknown key or a bad
value fails as it would for ``nt run``); a study file goes through ``load_study_config``. Sections that the
pipeline config does not have yet are validated by their stage's own config model (the section ``sft`` by
SftDataConfig...), and a section that no model knows fails. Selection expressions are checked as ``nt run`` checks
them before any work.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from naturalthoughts.config import validate
from naturalthoughts.pipeline import PipelineConfig, load_pipeline_config, pipeline_plan
from naturalthoughts.rundir import RunDir

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
# Sections and the model that validates each while the pipeline config does not have it.
SECTION_MODELS = {
    "sft": ("naturalthoughts.sft.config", "SftDataConfig"),
    "train": ("naturalthoughts.train.config", "TrainConfig"),
    "eval": ("naturalthoughts.eval.config", "EvalConfig"),
    "report": ("naturalthoughts.report.config", "ReportConfig"),
    "study": ("naturalthoughts.study.config", "StudyGrid"),
}


def test_there_are_example_configs() -> None:
    names = {p.name for p in CONFIGS}
    assert {"teacher-openai-endpoint.yaml", "teacher-deepseek-api.yaml", "natural-reasoning-hub.yaml",
            "student-llama-3.1-8b-gpu.yaml", "study-cpu.yaml", "study-paper-gpu.yaml"} <= names  # fmt: skip


def _section_model(section: str) -> Any | None:
    module, name = SECTION_MODELS[section]
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:  # that stage is not built yet in this tree: its section is checked once it is
        return None


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_example_config_validates(path: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    known = set(PipelineConfig.model_fields)
    extra = {k: v for k, v in data.items() if k not in known}
    unknown = sorted(set(extra) - set(SECTION_MODELS))
    assert not unknown, f"{path.name}: sections no config model knows: {unknown}"
    pipeline_part = tmp_path / path.name
    pipeline_part.write_text(yaml.safe_dump({k: v for k, v in data.items() if k in known}), encoding="utf-8")
    config = load_pipeline_config(pipeline_part)
    from naturalthoughts.select.stage import SelectStage

    for step in pipeline_plan(config).selections:  # the expression parses and its parameters are valid
        SelectStage(step).check(RunDir(tmp_path / "run"))
    for section, value in extra.items():
        model = _section_model(section)
        if model is not None:
            validate(model, value or {}, source=f"{path.name} (section {section})")
    if "study" in data:
        from naturalthoughts.study.config import load_study_config
        from naturalthoughts.study.grid import expand, select_stage, sft_stage, train_stage

        study = load_study_config(path)
        cells = expand(study.study)
        assert cells, f"{path.name}: the grid has no cell"
        for cell in cells:  # every cell's configs validate (a grid value repeated in a section is an error)
            select_stage(cell, study.study).check(RunDir(tmp_path / "run"))
            sft_stage(cell, study).check(RunDir(tmp_path / "run"))
            assert train_stage(cell, study).config.seed == cell.seed
