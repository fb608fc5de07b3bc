"""Zero-shot domain and field: the question's nearest field description under the sentence-embedding model.

Each field of :mod:`.taxonomy` is embedded as "field (domain): description"; a question gets the
field with the highest cosine similarity and that field's domain. No LLM is called, so this is the
embedded default. Its accuracy against labelled domains (``builtin:sample``) is measured by the stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from naturalthoughts.annotate.base import NO_QUESTION, AnnotateContext, Annotator, Columns, column
from naturalthoughts.annotate.embedder import embedder_name, encode, encode_unique
from naturalthoughts.annotate.taxonomy import FIELDS

if TYPE_CHECKING:
    from naturalthoughts.progress import Task


def label_texts() -> tuple[list[tuple[str, str]], list[str]]:
    """((domain, field) pairs, the text embedded for each)."""
    pairs = [(domain, field) for domain, fields in FIELDS.items() for field in fields]
    texts = [f"{field} ({domain}): {FIELDS[domain][field]}" for domain, field in pairs]
    return pairs, texts


class ZeroShotDomainAnnotator(Annotator):
    name = "domain"
    reads = ("question",)
    writes = ("domain", "field", "domain_method", "domain_error")

    def __init__(self, ctx: AnnotateContext) -> None:
        super().__init__(ctx)
        self.model_name = ctx.config.embeddings.model
        self.pairs, texts = label_texts()
        self.labels = encode(ctx.embedder(self.model_name), texts)

    @property
    def method(self) -> str:
        return f"zero-shot:{embedder_name(self.model_name)}"

    def classify(self, questions: list[str], progress: Task | None = None) -> list[tuple[str, str]]:
        vectors = encode_unique(self.ctx.embedder(self.model_name), questions, progress=progress)
        best = np.argmax(vectors @ self.labels.T, axis=1)
        return [self.pairs[i] for i in best]

    def annotate(self, batch: pa.Table) -> Columns:
        questions = column(batch, "question")
        present = [i for i, q in enumerate(questions) if q]
        task = self.ctx.task("annotate: domain")
        if task is not None and len(present) < len(questions):
            task.advance(len(questions) - len(present))
        labels = dict(zip(present, self.classify([questions[i] for i in present], task), strict=True))
        self.counts["annotated"] += len(present)
        self.counts["failed"] += batch.num_rows - len(present)
        n = batch.num_rows
        return {
            "domain": [labels[i][0] if i in labels else None for i in range(n)],
            "field": [labels[i][1] if i in labels else None for i in range(n)],
            "domain_method": [self.method] * n,
            "domain_error": [None if i in labels else NO_QUESTION for i in range(n)],
        }
