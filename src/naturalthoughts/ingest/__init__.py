"""The ingest stage: question sources -> ``questions.parquet`` in a run directory.

Python API (a notebook can call it without the CLI)::

    from naturalthoughts.ingest import IngestConfig, IngestStage, ingest
    result = ingest(["natural_reasoning.jsonl"], "runs/demo", IngestConfig(skip_bad=True))
    # or, with the up-to-date check: Runner("runs/demo").run_stage(IngestStage(config, sources=[...]))
    result.counts()  # read, kept, duplicates, near_duplicates, rejected, contaminated
"""

from naturalthoughts.ingest.config import ColumnMap, IngestConfig
from naturalthoughts.ingest.stage import IngestResult, IngestStage, ingest
from naturalthoughts.ingest.validation import BadRow, BadRowsError

__all__ = ["BadRow", "BadRowsError", "ColumnMap", "IngestConfig", "IngestResult", "IngestStage", "ingest"]
