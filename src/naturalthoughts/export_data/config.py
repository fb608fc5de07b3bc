"""Configuration of ``nt export-data``: where the dataset folder goes, what its card says, where it is pushed."""

from __future__ import annotations

from pydantic import Field

from naturalthoughts.config import StrictModel

DEFAULT_TASKS = ["text-generation", "question-answering"]


class ExportDataConfig(StrictModel):
    out: str = Field(description="the dataset folder to write (replaced as a whole when it exists)")
    license: str = Field(
        "unknown",
        description="the card's license field (a Hub license id: apache-2.0, mit, cc-by-4.0, other...): set it to the "
        "terms of the sources you exported; unknown says nobody set it",
    )
    pretty_name: str | None = Field(None, description="the card's title (default: the selection or SFT set's name)")
    task_categories: list[str] = Field(default_factory=lambda: list(DEFAULT_TASKS), description="card metadata")
    language: list[str] = Field(
        default_factory=list, description="language codes for the card (e.g. en); none: omitted"
    )
    shard_rows: int = Field(50_000, gt=0, description="rows per Parquet shard (data/train-0000K-of-0000N.parquet)")
    push_to_hub: str | None = Field(
        None, description="OWNER/NAME: upload the folder as a Hub dataset (needs network and HF_TOKEN in the env)"
    )
    private: bool = Field(False, description="create the Hub dataset private (with push_to_hub)")
