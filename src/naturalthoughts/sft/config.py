"""Configuration of ``nt sft-data`` (and of the SFT data that ``nt train`` builds first)."""

from __future__ import annotations

from pydantic import Field, field_validator

from naturalthoughts.config import StrictModel
from naturalthoughts.sft.mix import parse_mix

DEFAULT_MAX_LENGTH = 16384  # the paper's maximum response length


class SftDataConfig(StrictModel):
    mix: str = Field(
        "none",
        description="System-1/System-2 mixing policy: none | random:P | difficulty | length:T (docs/training.md)",
    )
    seed: int = Field(0, ge=0, description="seed of the mixing choices: the same seed gives the same examples")
    max_length: int = Field(
        DEFAULT_MAX_LENGTH,
        ge=16,
        description="training length in the student's tokens; an example that does not fit is dropped, never cut",
    )
    student: str | None = Field(
        None, description="student model folder whose chat template renders the examples; None: bundled SmolLM2"
    )
    chat_template: str | None = Field(
        None,
        description="a Jinja chat template file to render and train with instead of the student's (default: TRL's "
        "training template for the student's family when the installed TRL has one, else the student's own)",
    )
    adaptive_share: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="share of examples (of either mode) written without a mode instruction, so the adaptive mode "
        "(no instruction at inference) has training data",
    )

    @field_validator("mix")
    @classmethod
    def _valid_mix(cls, value: str) -> str:
        return parse_mix(value).text  # raises ValueError with the grammar; normalises "random:.4" -> "random:0.4"
