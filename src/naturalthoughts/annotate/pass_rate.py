"""Pass rate: the share of a question's samples whose answer is verified correct, on every trace of the question.

With ``generate.samples: k`` each question has k traces; their ``correct`` verdicts (the ``correctness``
annotation: the task's own scorer for reasoning-gym questions, the one answer checker for math, numbers and option
letters) give the question's ``pass_rate`` = correct / graded and ``pass_samples`` = graded (samples with a verdict;
a trace without a reference or a failed request counts in neither). It is the verifiable-task analogue of the
paper's models-disagree signal: a question the teacher solves 1 time in 4 is hard for it, one it always solves is
easy, one it never solves has no verified trace to learn from. Selection uses it through the ``difficulty`` method
and the ``min_pass_rate`` / ``max_pass_rate`` filters (docs/selection.md).

The rate needs every sample of a question, and traces are annotated in batches: the batches are written with the
column empty, and :meth:`PassRateAnnotator.finish` fills it in one more pass over ``annotations.parquet``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.annotate.base import Annotator, Columns, column
from naturalthoughts.atomic import parquet_writer


class PassRateAnnotator(Annotator):
    name = "pass_rate"
    reads = ("question_id", "correct")
    writes = ("pass_rate", "pass_samples")
    requires = ("correctness",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.graded: Counter[str] = Counter()
        self.right: Counter[str] = Counter()

    @property
    def method(self) -> str:
        return "share of the question's samples verified correct"

    def annotate(self, batch: pa.Table) -> Columns:
        for question, correct in zip(column(batch, "question_id"), column(batch, "correct"), strict=True):
            if correct is not None:
                self.graded[question] += 1
                self.right[question] += bool(correct)
        empty: list[Any] = [None] * batch.num_rows
        return {"pass_rate": empty, "pass_samples": list(empty)}

    def rates(self) -> dict[str, float]:
        return {question: self.right[question] / graded for question, graded in self.graded.items()}

    def finish(self) -> None:
        """Fill ``pass_rate`` and ``pass_samples`` now that every sample has its verdict."""
        path = self.ctx.run.annotations
        rates = self.rates()
        source = pq.ParquetFile(path)
        schema = source.schema_arrow
        with parquet_writer(path, schema) as writer:
            for batch in source.iter_batches(batch_size=self.ctx.config.batch_rows):
                questions = batch.column("question_id").to_pylist()
                table = pa.Table.from_batches([batch], schema=schema)
                filled = {
                    "pass_rate": pa.array([rates.get(q) for q in questions], pa.float64()),
                    "pass_samples": pa.array([self.graded.get(q) for q in questions], pa.int64()),
                }
                for name, values in filled.items():
                    table = table.set_column(schema.get_field_index(name), schema.field(name), values)
                writer.write_table(table)
        solved = sum(1 for rate in rates.values() if rate > 0)
        self.counts.update({"questions": len(rates), "solved": solved})
        self.extra["mean_pass_rate"] = float(pc.mean(pa.array(list(rates.values()))).as_py() or 0.0) if rates else None
