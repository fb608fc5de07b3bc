"""Annotation: domain and field, meta-reasoning strategies, verbosity, length, correctness, models-disagree,
embeddings. Python API: :class:`AnnotateStage` (through the runner), :func:`annotate` and :func:`compare`
(notebook shortcuts), :func:`stale_annotators` (are the annotations current for these traces?); the CLI is
``nt annotate``."""

from naturalthoughts.annotate.compare import CompareReport, CompareStage, compare
from naturalthoughts.annotate.config import AnnotateConfig
from naturalthoughts.annotate.stage import AnnotateResult, AnnotateStage, annotate
from naturalthoughts.annotate.staleness import refresh_fix, stale_annotators

__all__ = [
    "AnnotateConfig",
    "AnnotateResult",
    "AnnotateStage",
    "CompareReport",
    "CompareStage",
    "annotate",
    "compare",
    "refresh_fix",
    "stale_annotators",
]
