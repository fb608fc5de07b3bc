"""The ingest stage: question sources -> ``questions.parquet`` in a run directory.

Python API (a notebook can call it without the CLI)::

    from naturalthoughts.ingest import IngestConfig, ingest
    result = ingest("runs/demo", IngestConfig(skip_bad=True), sources=["natural_reasoning.jsonl"])
    result.counts()  # read, kept, duplicates, near_duplicates, rejected, contaminated (when it ran: result.status)
"""

from naturalthoughts.ingest.config import ColumnMap, IngestConfig
from naturalthoughts.ingest.stage import IngestResult, IngestStage, ingest
from naturalthoughts.ingest.validation import BadRow, BadRowsError

__all__ = ["BadRow", "BadRowsError", "ColumnMap", "IngestConfig", "IngestResult", "IngestStage", "ingest"]
