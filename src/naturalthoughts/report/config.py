"""Configuration of ``nt report`` (and the ``report`` section of a pipeline config)."""

from __future__ import annotations

from pydantic import Field

from naturalthoughts.config import StrictModel


class ReportConfig(StrictModel):
    title: str | None = Field(None, description="page title [default: the run directory's name]")
    inline_limit_mb: float = Field(
        4.0, ge=0, description="trace texts up to this size are inlined into report.html (one file that opens "
        "anywhere); larger runs keep them in report_data/ beside it, loaded on demand"
    )  # fmt: skip
    chunk_kb: int = Field(512, ge=16, description="target size of one report_data/ file of full trace texts")
    preview_rows: int = Field(256, ge=16, description="traces per report_data/ file of question previews")
    preview_chars: int = Field(140, ge=20, description="characters of the question shown in the trace list")
    page_size: int = Field(50, ge=5, le=1000, description="traces per page of the trace browser")
