"""Annotate's correctness and eval's grading give the same verdict on the same answer and gold: every number, math,
option-letter and thinking-block case of the regression corpus goes through the real annotate stage (as a teacher
trace with the gold as its reference answer) and through the benchmark graders eval uses (as a think-mode output)."""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq

from naturalthoughts import benchmarks
from naturalthoughts.annotate import annotate
from naturalthoughts.benchmarks import BenchmarkItem, GradeOptions
from naturalthoughts.benchmarks.choice import options_block
from naturalthoughts.rundir import RunDir
from naturalthoughts.text.think import parse_response
from test_annotate import approx_config
from test_annotate_support import make_run, qid
from test_grading_corpus import CASES

BENCHMARK = {"number": "gsm8k", "math": "math500"}


def comparable(case: dict[str, Any]) -> bool:
    """Cases both stages see the same way: the project's reading, and a teacher that reasons (annotate assumes it)."""
    reasons = case.get("thinking", False) or case.get("finish_reason", "stop") == "stop"
    return case["kind"] != "text" and case.get("style", "default") == "default" and reasons


def as_item(number: int, case: dict[str, Any]) -> BenchmarkItem:
    question = f"Question {number} ({case['id']}): what is asked?"
    if case["kind"] != "choice":
        return BenchmarkItem(BENCHMARK[case["kind"]], case["id"], question, case["gold"])
    texts = tuple(case.get("options") or [f"option {letter}" for letter in "ABCDEFGHIJ"[: case["n_options"]]])
    name = "gpqa_diamond" if len(texts) == 4 else "mmlu_pro"
    return BenchmarkItem(name, case["id"], f"{question}\n\n{options_block(texts)}", case["gold"], texts)


def test_annotate_correctness_and_eval_give_identical_verdicts(run_dir: RunDir) -> None:
    cases = [case for case in CASES if comparable(case)]
    assert len(cases) >= 170
    items = [as_item(number, case) for number, case in enumerate(cases)]
    traces = []
    for item, case in zip(items, cases, strict=True):
        parsed = parse_response(case["output"])
        traces.append({"question": item.question, "reference_answer": item.answer, "reasoning": parsed.reasoning,
                       "answer": parsed.answer, "finish_reason": case.get("finish_reason", "stop")})  # fmt: skip
    make_run(run_dir, traces)
    annotate(run_dir, approx_config(), only=["correctness"], quiet=True, force=True)
    annotated = {row["question_id"]: row for row in pq.read_table(run_dir.annotations).to_pylist()}
    differ = []
    for item, case in zip(items, cases, strict=True):
        grader = benchmarks.get(item.benchmark).grade
        assert grader is not None
        options = GradeOptions(finish_reason=case.get("finish_reason", "stop"), thinking=True)
        evaluated = grader(item, case["output"], options).correct
        row = annotated[qid(item.question)]
        if row["correct"] is not evaluated:
            differ.append((case["id"], row["correct"], row["correct_method"], evaluated))
        if case["kind"] == "choice":
            assert row["correct_method"] == "choice", "a letter reference with options laid out is a choice"
    assert not differ, f"annotate and eval disagree: {differ}"
    # and both agree with the corpus's human verdict
    pairs = zip(items, cases, strict=True)
    assert all(annotated[qid(item.question)]["correct"] is case["verdict"] for item, case in pairs)
