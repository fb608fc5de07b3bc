"""Embeddings of each question (or reasoning trace) to ``embeddings.parquet``, aligned with ``trace_id``.

Vectors are L2-normalised float32 from a sentence-transformers model (by default the bundled
all-MiniLM-L6-v2). They live in their own file so ``annotations.parquet`` stays light. Distinct texts
in a batch are encoded once (several samples of one question share its vector).
"""

from __future__ import annotations

import contextlib
from typing import Any

import pyarrow as pa

from naturalthoughts.annotate.base import AnnotateContext, Annotator, Columns, column
from naturalthoughts.annotate.embedder import embedder_name, encode_unique
from naturalthoughts.atomic import parquet_writer
from naturalthoughts.tables import embeddings_schema


class EmbeddingsAnnotator(Annotator):
    name = "embeddings"
    reads = ("question", "reasoning")
    writes = ()  # its output is embeddings.parquet, not annotation columns

    def __init__(self, ctx: AnnotateContext) -> None:
        super().__init__(ctx)
        self.cfg = ctx.config.embeddings
        self.model = ctx.embedder(self.cfg.model)
        self.dim = int(self.model.get_embedding_dimension())
        schema = embeddings_schema(self.dim)
        metadata = {"model": embedder_name(self.cfg.model), "dim": str(self.dim), "of": self.cfg.of}
        self.schema = schema.with_metadata(metadata)
        self._stack = contextlib.ExitStack()  # the file appears only when finish() closes it cleanly
        self._writer: Any = self._stack.enter_context(parquet_writer(ctx.run.embeddings, self.schema))

    @property
    def method(self) -> str:
        return embedder_name(self.cfg.model)

    def annotate(self, batch: pa.Table) -> Columns:
        texts = [t or "" for t in column(batch, "question" if self.cfg.of == "question" else "reasoning")]
        vectors = encode_unique(self.model, texts, self.cfg.batch_size, self.ctx.task("annotate: embeddings"))
        flat = pa.array(vectors.reshape(-1), pa.float32())
        table = pa.Table.from_arrays(
            [batch.column("trace_id"), batch.column("question_id"), pa.FixedSizeListArray.from_arrays(flat, self.dim)],
            schema=self.schema,
        )
        self._writer.write_table(table)
        self.counts["annotated"] += batch.num_rows
        return {}

    def finish(self) -> None:
        self._stack.close()

    def abort(self) -> None:
        error = RuntimeError("annotate failed")
        self._stack.__exit__(type(error), error, None)  # discards the temporary file
