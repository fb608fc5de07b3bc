"""Agreement of the one answer checker with verdicts recorded elsewhere (a held-back set of real model outputs).

Reads a file of model outputs with their gold answers and recorded verdicts (JSONL, JSON, CSV or Parquet), grades
every output with :func:`naturalthoughts.text.grading.check_output`, and prints the agreement and each disagreement
(gold, what the checker read and how, the recorded verdict, the end of the output), so a person can read who was
right.

Columns are found by name (or given): the output (``output``, ``response``, ``completion``, ``model_output``,
``generation``, ``text``), the gold (``gold``, ``answer``, ``target``, ``reference_answer``, ``reference``), the
recorded verdict (``correct``, ``is_correct``, ``verdict``, ``label``, ``score``; numbers above 0.5 count as correct).

Usage: ``.venv/bin/python benchmarks/grading_agreement.py FILE [--kind number] [--thinking] [--show 30]``, e.g. the
GSM8K check: 1,319 DeepSeek-R1-Distill-Qwen-1.5B outputs, ``--kind number`` (target: at least 99.7% agreement).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

OUTPUTS = ("output", "response", "completion", "model_output", "generation", "text")
GOLDS = ("gold", "answer", "target", "reference_answer", "reference")
VERDICTS = ("correct", "is_correct", "verdict", "label", "score")


def column(row: dict[str, Any], given: str | None, names: tuple[str, ...], what: str) -> str:
    if given:
        return given
    for name in names:
        if name in row:
            return name
    raise SystemExit(f"no {what} column: give one (columns: {', '.join(row)})")


def as_verdict(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "correct"}
    return bool(value is not None and float(value) > 0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--kind", default="number", choices=["number", "math", "choice", "text"])
    parser.add_argument("--output-column")
    parser.add_argument("--gold-column")
    parser.add_argument("--verdict-column")
    parser.add_argument("--n-options", type=int, help="choice: options per question")
    parser.add_argument("--thinking", action="store_true", help="outputs were asked to reason (think/adaptive)")
    parser.add_argument("--show", type=int, default=30, help="disagreements to print")
    args = parser.parse_args()

    from naturalthoughts.benchmarks.datafiles import read_records
    from naturalthoughts.text.grading import check_output

    rows = read_records(args.file)
    if not rows:
        raise SystemExit(f"{args.file}: no rows")
    out = column(rows[0], args.output_column, OUTPUTS, "output")
    gold = column(rows[0], args.gold_column, GOLDS, "gold")
    recorded = column(rows[0], args.verdict_column, VERDICTS, "verdict")
    disagreements = []
    for number, row in enumerate(rows, 1):
        verdict = check_output(
            args.kind, str(row[gold]), row[out], finish_reason=row.get("finish_reason"), thinking=args.thinking,
            n_options=args.n_options,
        )  # fmt: skip
        if bool(verdict.correct) != as_verdict(row[recorded]):
            disagreements.append((number, row, verdict))
    agree = len(rows) - len(disagreements)
    print(f"{args.file}: {agree:,} of {len(rows):,} verdicts agree ({100 * agree / len(rows):.2f}%)")
    for number, row, verdict in disagreements[: args.show]:
        tail = " ".join(str(row[out] or "")[-240:].split())
        print(f"\n- row {number}: gold {row[gold]!r}, recorded {as_verdict(row[recorded])}, checker {verdict.correct} "
              f"(read {verdict.extracted!r} by {verdict.method})\n  ...{tail}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
