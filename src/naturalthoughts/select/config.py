"""Configuration of ``nt select`` (and the ``select`` section of a pipeline config)."""

from __future__ import annotations

from pydantic import Field

from naturalthoughts.config import StrictModel
from naturalthoughts.names import Name


class SelectConfig(StrictModel):
    method: str = Field("random", description="selection expression, e.g. filter:complete,correct>disagree>strategy")
    size: int = Field(gt=0, description="number of traces to select")
    seed: int = Field(0, ge=0, description="seed of every random choice (same seed, same file)")
    name: Name | None = Field(None, description="output name (selections/NAME.parquet)")
    allow_smaller: bool = Field(False, description="take every eligible trace when fewer than size are eligible")
    default_filter: bool = Field(True, description="apply complete,max_tokens(16384) unless overridden")
