"""Row validation: the checks that run on whole columns, and the error that lists every bad row.

Rows that could not be parsed already carry a reason from :mod:`naturalthoughts.ingest.sources`;
here a row gets the first reason that applies: missing (null) question, empty question, question
over the size limit. Empty reference answers become null (NaturalReasoning leaves many empty).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from naturalthoughts.errors import BadInputError, Fix

MAX_LISTED = 50  # bad rows printed in an error message; rejected.parquet (with --skip-bad) has all


@dataclass(frozen=True)
class BadRow:
    source: str
    row: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.row}: {self.reason}"


class BadRowsError(BadInputError):
    """Input rows are invalid and ``skip_bad`` is not set. ``bad_rows`` holds every one of them."""

    def __init__(self, bad_rows: list[BadRow], rows_read: int) -> None:
        self.bad_rows = bad_rows
        listed = "\n".join(f"  {row}" for row in bad_rows[:MAX_LISTED])
        more = f"\n  ... and {len(bad_rows) - MAX_LISTED} more" if len(bad_rows) > MAX_LISTED else ""
        super().__init__(
            f"{len(bad_rows)} of {rows_read} rows are invalid (file:line: reason):\n{listed}{more}\n"
            "Nothing was written. Fix them, or keep the good rows and write the bad ones with their reasons to "
            "rejected.parquet: {fix}.",
            fix=Fix("", skip_bad=True),
        )


def _first_reason(current: pa.Array, condition: pa.Array, reason: pa.Array | str) -> pa.Array:
    """Set ``reason`` where ``condition`` holds and no earlier reason was given."""
    apply = pc.and_(pc.is_null(current), pc.fill_null(condition, False))
    return pc.if_else(apply, reason, current)


def validate(batch: pa.Table, max_question_chars: int) -> pa.Table:
    """Fill the ``invalid`` column of a staging batch; blank reference answers become null."""
    question = batch.column("question").combine_chunks()
    invalid = batch.column("invalid").combine_chunks()
    invalid = _first_reason(invalid, pc.is_null(question), "missing question (null)")
    stripped_length = pc.utf8_length(pc.utf8_trim_whitespace(question))
    invalid = _first_reason(invalid, pc.equal(stripped_length, 0), "empty question")
    length = pc.utf8_length(question)
    too_long = pc.greater(length, max_question_chars)
    if pc.any(too_long).as_py():
        message = pc.binary_join_element_wise(
            "question too long (",
            pc.cast(length, pa.string()),
            f" characters > max_question_chars {max_question_chars})",
            "",
        )
        invalid = _first_reason(invalid, too_long, message)
    answer = batch.column("reference_answer").combine_chunks()
    blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(answer)), 0)
    answer = pc.if_else(pc.fill_null(blank, False), pa.scalar(None, pa.string()), answer)
    batch = batch.set_column(batch.schema.get_field_index("reference_answer"), "reference_answer", answer)
    return batch.set_column(batch.schema.get_field_index("invalid"), "invalid", invalid)


def bad_rows(batch: pa.Table) -> list[BadRow]:
    bad = batch.filter(pc.is_valid(batch.column("invalid")))
    return [
        BadRow(s, r, why)
        for s, r, why in zip(
            bad.column("source").to_pylist(),
            bad.column("source_row").to_pylist(),
            bad.column("invalid").to_pylist(),
            strict=True,
        )
    ]
