"""Configuration of ``nt study``: a pipeline file (the pool: sources, generate, annotate; and the base configs of
SFT data, training and evaluation) plus a ``study:`` grid of selection expressions x sizes x mix policies x seeds.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from pydantic import Field, create_model, field_validator, model_validator

from naturalthoughts.config import StrictModel, load_section
from naturalthoughts.names import Name
from naturalthoughts.pipeline import pipeline_model

LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"  # no "+": it separates the selection from the mix in SFT names


class GridSelection(StrictModel):
    """One row label of the study: a selection expression (docs/selection.md)."""

    label: str = Field(pattern=LABEL_PATTERN, description="short name in cell names and the table: random, disagree")
    method: str = Field(description="selection expression, e.g. filter:complete,correct>disagree")
    default_filter: bool = Field(True, description="apply complete,max_tokens(16384) unless overridden")


class StudyGrid(StrictModel):
    """The grid. Every (selection, size, mix, seed) is one cell: select -> sft-data -> train -> eval."""

    selections: list[GridSelection] = Field(min_length=1, description="the selection expressions compared")
    sizes: list[int] = Field(min_length=1, description="training-set sizes (the paper: 1k, 10k, 100k, 500k)")
    mixes: list[str] = Field(
        default_factory=lambda: ["none"],
        min_length=1,
        description="System-1/System-2 mixing policies: none | random:P | difficulty | length:T",
    )
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1,
                             description="each cell is trained and evaluated once per seed")  # fmt: skip
    reseed_selection: bool = Field(
        True, description="a seed also redraws the selection (its random choices); false: one selection for all seeds"
    )
    allow_smaller: bool = Field(False, description="a selection with fewer eligible traces takes them all")
    evaluate_base: bool = Field(True, description="also evaluate the untrained student (the table's Base row)")
    name: Name = Field("study", description="folder of the results: RUN/study/NAME/")

    @field_validator("sizes", "seeds")
    @classmethod
    def _distinct(cls, values: list[int]) -> list[int]:
        if len(set(values)) != len(values):
            raise ValueError(f"{values}: each value once")
        if any(v < 0 for v in values):
            raise ValueError(f"{values}: no negative values")
        return values

    @field_validator("mixes")
    @classmethod
    def _valid_mixes(cls, values: list[str]) -> list[str]:
        from naturalthoughts.sft.mix import parse_mix

        texts = [parse_mix(v).text for v in values]
        if len(set(texts)) != len(texts):
            raise ValueError(f"{values}: each mixing policy once")
        return texts

    @model_validator(mode="after")
    def _distinct_labels(self) -> StudyGrid:
        labels = [s.label for s in self.selections]
        if len(set(labels)) != len(labels):
            raise ValueError(f"selection labels {labels}: each label once")
        if any(size == 0 for size in self.sizes):
            raise ValueError("sizes must be positive")
        return self


@functools.lru_cache(maxsize=8)
def _study_model(pipeline: type[StrictModel]) -> type[StrictModel]:
    return create_model(  # type: ignore[call-overload,no-any-return]
        "StudyFile",
        __base__=pipeline,
        __doc__="A study YAML: every pipeline section, and ``study:`` (the grid). The ``sft``, ``train`` and ``eval`` "
        "sections are the base configs of every cell; the grid sets each cell's mix, seed and names.",
        study=(StudyGrid, ...),
    )


def study_model() -> type[StrictModel]:
    """The study YAML's model: the pipeline's (every registered stage's section) plus ``study``."""
    return _study_model(pipeline_model())


def load_study_config(path: str | os.PathLike[str], run_dir: str | None = None) -> Any:
    """The study file at ``path`` (``run_dir`` overrides its run directory)."""
    return load_section(study_model(), path, None, {"run_dir": run_dir})
