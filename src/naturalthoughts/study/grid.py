"""The study grid: cells, their names, and the stages of each cell.

A cell is one (selection expression, size, mix policy, seed). Its stages are ``select`` -> ``sft-data`` ->
``train`` -> ``eval``, each with a per-cell manifest key, so the runner skips every stage of a finished cell and
resumes an interrupted one where it stopped. Names (the keys and the run-directory folders):

- selection ``LABEL-SIZE-sSEED`` (``LABEL-SIZE`` when seeds do not redraw the selection), e.g. ``random-10k-s0``;
- SFT data, model and evaluation ``LABEL-SIZE-MIX-sSEED``, e.g. ``random-10k-none-s0``, ``disagree-1k-random-0.4-s2``.

Cells that differ only in their seed form one row (a *group*) of the result table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from naturalthoughts.eval.models import section_data
from naturalthoughts.pipeline import PipelinePlan, Student
from naturalthoughts.study.config import GridSelection, StudyGrid


def human_size(size: int) -> str:
    from naturalthoughts.select.stage import human_size as select_human_size

    return select_human_size(size)


def mix_slug(mix: str) -> str:
    from naturalthoughts.sft.mix import parse_mix

    return parse_mix(mix).slug


@dataclass(frozen=True)
class Group:
    """A row of the result table: the cells that differ only in their seed."""

    label: str
    size: int
    mix: str

    @property
    def name(self) -> str:
        return f"{self.label}-{human_size(self.size)}-{mix_slug(self.mix)}"


@dataclass(frozen=True)
class Cell:
    selection: GridSelection
    size: int
    mix: str
    seed: int
    reseed_selection: bool = True

    @property
    def group(self) -> Group:
        return Group(self.selection.label, self.size, self.mix)

    @property
    def selection_name(self) -> str:
        base = f"{self.selection.label}-{human_size(self.size)}"
        return f"{base}-s{self.seed}" if self.reseed_selection else base

    @property
    def selection_seed(self) -> int:
        return self.seed if self.reseed_selection else 0

    @property
    def name(self) -> str:
        """The cell's SFT data, model and evaluation name."""
        return f"{self.group.name}-s{self.seed}"


def expand(grid: StudyGrid) -> list[Cell]:
    """Every cell, selections x sizes x mixes x seeds, in that order (a study runs them in this order)."""
    return [Cell(selection, size, mix, seed, grid.reseed_selection)
            for selection in grid.selections for size in grid.sizes for mix in grid.mixes
            for seed in grid.seeds]  # fmt: skip


def groups(grid: StudyGrid) -> list[Group]:
    return list(dict.fromkeys(cell.group for cell in expand(grid)))


def _section(config: Any, name: str, **fixed: Any) -> dict[str, Any]:
    """The study file's ``name`` section with the grid's values; a grid value set there too is an error."""
    from naturalthoughts.errors import ConfigError

    data = section_data(config, name)
    clash = sorted(k for k in fixed if k in data and data[k] != fixed[k])
    if clash:
        raise ConfigError(f"study file: `{name}.{clash[0]}` is set by the study grid per cell; remove it from "
                          f"the `{name}` section (use study.mixes / study.seeds).")  # fmt: skip
    return {**data, **fixed}


def select_config(cell: Cell, grid: StudyGrid) -> Any:
    from naturalthoughts.config import validate
    from naturalthoughts.select.config import SelectConfig

    return validate(SelectConfig, {"method": cell.selection.method, "size": cell.size, "seed": cell.selection_seed,
                                   "name": cell.selection_name, "allow_smaller": grid.allow_smaller,
                                   "default_filter": cell.selection.default_filter},
                    source=f"study cell {cell.name}")  # fmt: skip


def cell_student(cell: Cell, config: Any) -> Student:
    """The cell as a student of the pipeline: its selection, its name, its SFT data and training configs."""
    from naturalthoughts.config import validate
    from naturalthoughts.pipeline import sft_for_student
    from naturalthoughts.sft.config import SftDataConfig
    from naturalthoughts.train.config import TrainConfig

    sft = validate(SftDataConfig, _section(config, "sft", mix=cell.mix, seed=cell.seed),
                   source="study file (section sft)")  # fmt: skip
    train = validate(TrainConfig, _section(config, "train", seed=cell.seed), source="study file (section train)")
    return Student(cell.selection_name, cell.name, sft_for_student(config, sft), train)


def select_stage(cell: Cell, grid: StudyGrid) -> Any:
    from naturalthoughts.select.stage import SelectStage

    return SelectStage(select_config(cell, grid))


def sft_stage(cell: Cell, config: Any) -> Any:
    from naturalthoughts.sft.stage import SftDataStage

    student = cell_student(cell, config)
    return SftDataStage(student.sft, selection=student.selection, name=student.name)


def train_stage(cell: Cell, config: Any) -> Any:
    from naturalthoughts.train.stage import TrainStage

    student = cell_student(cell, config)
    return TrainStage(student.train, sft=student.name, name=student.name)


def study_plan(config: Any) -> PipelinePlan:
    """The study as a pipeline plan: the pool stages and selections of the file, then every cell as a student
    (its selection, SFT data, training and evaluation), the untrained student's evaluation and the study table.
    Cells that share a selection (seeds that do not redraw it) share its stage."""
    from naturalthoughts.select.stage import SelectStage

    grid = config.study
    cells = expand(grid)
    selections = list(config.select)  # the file's own selections first
    names = {SelectStage(step).selection_name for step in selections}
    for cell in cells:
        if cell.selection_name not in names:
            names.add(cell.selection_name)
            selections.append(select_config(cell, grid))
    return PipelinePlan(
        config,
        selections=selections,
        students=[cell_student(cell, config) for cell in cells],
        evaluate=True,
        evaluate_base=grid.evaluate_base,
        study=grid,
    )
