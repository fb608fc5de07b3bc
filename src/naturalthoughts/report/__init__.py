"""``nt report``: one self-contained HTML page for a run directory (see docs/report.md)."""

from naturalthoughts.report.config import ReportConfig
from naturalthoughts.report.stage import ReportStage, build_report
from naturalthoughts.shortcuts import shortcut

report = shortcut("report")  # report(run, config=None, *, force=False, quiet=False)

__all__ = ["ReportConfig", "ReportStage", "build_report", "report"]
