"""The correctness flag an imported trace set ships (``traces.source_correct``: OpenR1-Math's math-verify verdict,
NuminaMath-QwQ's ``correct``, s1K's grade): the ``correctness`` annotator measures how often its own verdict agrees
with it, and reuses it where it has none (no reference answer, or a long one without the judge).

``annotate.correctness.source_flag``: ``fallback`` (the default: the flag fills only what the annotator could not
decide), ``prefer`` (the flag wherever the source has one, e.g. a verifier's verdict you trust more than a reference
match), ``ignore``. Rows decided by the flag read ``correct_method = source``; the agreement is counted over the rows
both decided (``source_compared``, ``source_agree`` in the manifest) and said in a note.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa

SOURCE_METHOD = "source"


def apply_source_flags(
    batch: pa.Table, correct: list[Any], method: list[Any], error: list[Any], mode: str, counts: Counter[str]
) -> None:
    """Compare with and fill from ``source_correct`` (in place), as ``mode`` says."""
    if mode == "ignore" or "source_correct" not in batch.column_names:
        return
    for i, flag in enumerate(batch.column("source_correct").to_pylist()):
        if flag is None:
            continue
        if correct[i] is not None:
            counts["source_compared"] += 1
            counts["source_agree"] += correct[i] == flag
            if mode != "prefer":
                continue
        correct[i], method[i], error[i] = flag, SOURCE_METHOD, None
        counts["method:source"] += 1


def agreement_note(counts: Counter[str]) -> str | None:
    """One line on how often the annotator agreed with the source's flag (None when nothing was compared)."""
    compared = counts.get("source_compared", 0)
    if not compared:
        return None
    agree = counts.get("source_agree", 0)
    return (
        f"correctness: agrees with the source's own correctness flag on {agree:,} of {compared:,} traces "
        f"({agree / compared:.1%}) where both decided"
    )
