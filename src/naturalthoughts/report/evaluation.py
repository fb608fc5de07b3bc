"""The evaluation section: accuracy (± standard error) and mean response tokens per model, mode and benchmark, from
``eval/NAME/summary.parquet`` (EVAL_SUMMARY); the paired differences between models on the same items, from
``eval/NAME/samples.parquet`` (:mod:`naturalthoughts.stats`, as ``nt eval compare``: every model against the base
student, with its paired standard error, bootstrap CI, no-answer rates and accuracy among answered samples); and the
per-sample records of pool questions for the trace browser.

Standard error: the evaluation's own, over seeds, when it has two seeds or more; with one seed the binomial
standard error over items, sqrt(p (1 - p) / samples), so every point has an error bar (the table says which).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts import stats
from naturalthoughts.errors import Fix
from naturalthoughts.eval.compare import paired_comparisons
from naturalthoughts.eval.rows import mode_label, standard_error
from naturalthoughts.report import plots
from naturalthoughts.report.html import Section, figures, join, number, percent, table
from naturalthoughts.report.inputs import ReportInputs
from naturalthoughts.rundir import RunDir

SUMMARY_FILE = "summary.parquet"
SAMPLES_FILE = "samples.parquet"
# The per-sample columns the trace browser shows beside a pool question that was also an evaluation item.
RECORD_COLUMNS = ["model", "mode", "benchmark", "correct", "reasoning_tokens", "answer_tokens", "extracted", "item_id"]


def _files(run: RunDir, name: str) -> list[Path]:
    return sorted(run.eval_dir.glob(f"*/{name}")) if run.eval_dir.exists() else []


def eval_input_files(run: RunDir) -> list[Path]:
    return _files(run, SUMMARY_FILE) + _files(run, SAMPLES_FILE)


def summary_rows(run: RunDir) -> list[dict[str, Any]]:
    """Every evaluated model's whole-benchmark rows (subset rows left out), in file order."""
    rows = []
    for path in _files(run, SUMMARY_FILE):
        rows += [r for r in pq.read_table(path).to_pylist() if r.get("subset") is None]
    return rows


def evaluation_section(inputs: ReportInputs) -> Section:
    run = inputs.run
    rows = summary_rows(run)
    if not rows:
        return Section.not_run("evaluation", "Evaluation", "no evaluation yet.",
                               Fix("eval", model="NAME").at(run))  # fmt: skip
    body, svgs = [], []
    for benchmark in sorted({r["benchmark"] for r in rows}):
        points = []
        for r in (r for r in rows if r["benchmark"] == benchmark and r.get("accuracy") is not None):
            stderr, _ = standard_error(r)
            points.append({"model": r["model"], "mode": mode_label(r["mode"], r.get("budget")),
                           "tokens": r.get("mean_tokens") or 0.0, "accuracy": r["accuracy"],
                           "stderr": stderr})  # fmt: skip
        svgs.append(plots.accuracy_vs_tokens(points, f"{benchmark}: accuracy against mean tokens",
                                             f"eval-{benchmark}"))  # fmt: skip
    for r in rows:
        stderr, over = standard_error(r)
        accuracy = "–" if r.get("accuracy") is None else f"{100 * r['accuracy']:.1f}" + (
            f" ± {100 * stderr:.1f}" if stderr is not None else "")  # fmt: skip
        body.append([r["model"], r["benchmark"], mode_label(r["mode"], r.get("budget")), r.get("items"),
                     r.get("seeds"), accuracy, over, number(r.get("mean_tokens")), percent(r.get("truncation_rate")),
                     percent(r.get("extraction_failure_rate")), r.get("errors")])  # fmt: skip
    header = ["model", "benchmark", "mode", "items", "seeds", "accuracy (%)", "± over", "mean tokens", "truncated",
              "no answer extracted", "failed requests"]  # fmt: skip
    caption = "Accuracy ± standard error (over seeds; with one seed, binomial over samples)"
    parts = [figures(*svgs), table(header, body, numeric_from=3, caption=caption)]
    paired = paired_comparisons([run.root])
    if paired:
        note = f"Paired differences between models on the same items. {stats.PAIRED_NOTE}"
        parts.append(table(stats.PAIRED_HEADER, stats.paired_rows(paired), numeric_from=4, caption=note))
    return Section("evaluation", "Evaluation", join(*parts))


def records_by_question(inputs: ReportInputs) -> dict[str, list[list[Any]]]:
    """Evaluation records of items that are pool questions (``item_id`` = ``questions.id``, e.g. an open-ended
    benchmark over the run's own questions): question id -> [[model, mode, benchmark, correct, tokens, extracted]]."""
    files = _files(inputs.run, SAMPLES_FILE)
    if not files or not inputs.has_traces:
        return {}
    question_ids = pc.unique(inputs.column("traces", "question_id"))
    out: dict[str, list[list[Any]]] = {}
    for path in files:
        names = pq.read_schema(path).names
        table = pq.read_table(path, columns=[c for c in RECORD_COLUMNS if c in names])
        table = table.filter(pc.is_in(table["item_id"], value_set=question_ids))
        for r in table.to_pylist():
            tokens = (r.get("reasoning_tokens") or 0) + (r.get("answer_tokens") or 0)
            out.setdefault(r["item_id"], []).append([r.get("model"), r.get("mode"), r.get("benchmark"),
                                                     r.get("correct"), tokens, r.get("extracted")])  # fmt: skip
    return out
