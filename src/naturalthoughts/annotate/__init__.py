"""Annotation: domain and field, meta-reasoning strategies, verbosity, length, correctness, models-disagree,
embeddings. Python API: :func:`annotate` and :func:`compare`; the CLI is ``nt annotate``."""

from naturalthoughts.annotate.compare import CompareReport, compare
from naturalthoughts.annotate.config import AnnotateConfig
from naturalthoughts.annotate.stage import AnnotateResult, annotate

__all__ = ["AnnotateConfig", "AnnotateResult", "CompareReport", "annotate", "compare"]
