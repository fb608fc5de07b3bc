"""Evaluation items must never be in a training pool: find the items whose word n-grams occur in the run's questions.

It reuses ingest's decontamination index (read-only): the evaluated items are indexed and the run's
``questions.parquet`` is checked against them, batch by batch. ``nt ingest`` already drops such questions against
the benchmarks it was told about; this check catches the rest (a benchmark added later, a pool ingested with
decontamination off, a different n).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from naturalthoughts.benchmarks import BenchmarkItem

BATCH_ROWS = 65_536


def contaminated_refs(items: list[BenchmarkItem], questions: Path, n: int) -> dict[str, str]:
    """``{item ref: a question id that overlaps it}`` for the items sharing ``n``-word n-grams with ``questions``
    (``benchmark:id`` refs; empty when the file does not exist)."""
    if not items or not questions.exists():
        return {}
    from naturalthoughts.ingest.decontamination import BenchmarkIndex
    from naturalthoughts.ingest.text import question_ids, tokenise, words

    index = BenchmarkIndex(items, n=n)
    found: dict[str, str] = {}
    source = pq.ParquetFile(questions)
    columns = [c for c in ("id", "question") if c in source.schema_arrow.names]
    for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=columns):
        texts, tokens = tokenise(batch.column("question"))
        ids = batch.column("id").to_pylist() if "id" in columns else question_ids(texts)
        for question_id, hit in zip(ids, index.check(words(tokens), question_ids(texts)), strict=True):
            if hit is not None:
                found.setdefault(hit.matched, question_id)
    return found


def warning(found: dict[str, str], total: int, questions: Path, n: int) -> str:
    shown = ", ".join(sorted(found)[:5]) + (" ..." if len(found) > 5 else "")
    return (
        f"{len(found)} of {total} evaluated items share {n}-word n-grams with questions in {questions} ({shown}): "
        "they may be in the training pool, so their scores can be inflated (column `contaminated` in samples.parquet)."
        " Re-ingest with these benchmarks in ingest.decontaminate to drop them from the pool."
    )


def pool_refs(items: list[BenchmarkItem], questions: Path) -> dict[str, str]:
    """``{item ref: question id}`` for the items whose question *is* a question of the run's pool (the same
    normalised text). For generated, templated items (reasoning-gym), where every item shares its template's
    n-grams with every other, this exact match is the contamination check."""
    if not items or not questions.exists():
        return {}
    from naturalthoughts.ingest.text import normalise_one, question_id

    wanted = {question_id(normalise_one(item.question)): item.ref for item in items}
    found: dict[str, str] = {}
    for batch in pq.ParquetFile(questions).iter_batches(batch_size=BATCH_ROWS, columns=["id"]):
        for question in batch.column("id").to_pylist():
            if question in wanted:
                found[wanted[question]] = question
    return found
