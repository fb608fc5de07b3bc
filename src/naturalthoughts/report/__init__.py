"""``nt report``: one self-contained HTML page for a run directory (see docs/report.md)."""

from naturalthoughts.report.config import ReportConfig
from naturalthoughts.report.stage import ReportStage, build_report

__all__ = ["ReportConfig", "ReportStage", "build_report"]
