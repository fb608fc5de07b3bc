"""Several samples per question as a difficulty signal: the pass_rate annotation (real annotate stage, verdicts from
the one checker) and selection by it (the difficulty method, the min/max_pass_rate filters, filter:correct)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from naturalthoughts.annotate import AnnotateConfig, annotate
from naturalthoughts.rundir import RunDir
from naturalthoughts.select import select
from test_annotate_support import qid, write_questions, write_traces

# question -> how many of its 4 samples answer right
SOLVED = {"Q hard": 1, "Q medium": 3, "Q never": 0, "Q easy": 4}


def pool(run: RunDir, samples: int = 4) -> None:
    write_questions(run, [{"question": q, "reference_answer": "18"} for q in SOLVED])
    traces = []
    for question, right in SOLVED.items():
        for sample in range(samples):
            answer = "The answer is \\boxed{18}." if sample < right else "The answer is \\boxed{17}."
            traces.append({"trace_id": f"{question}-{sample}", "question_id": qid(question), "sample": sample,
                           "reasoning": f"reasoning {question} {sample}", "answer": answer})  # fmt: skip
    write_traces(run, traces)


def annotated(run: RunDir) -> dict[str, dict]:
    return {row["trace_id"]: row for row in pq.read_table(run.annotations).to_pylist()}


def test_pass_rate_is_the_share_of_verified_samples_on_every_trace_of_the_question(run_dir: RunDir) -> None:
    pool(run_dir)
    config = AnnotateConfig(batch_rows=3)  # the samples of a question straddle batches
    config.length.tokenizer = "approx"
    result = annotate(run_dir, config, only=["pass_rate"], quiet=True, force=True)
    assert result is not None and "correctness" in result.annotators  # the verdicts it needs came along
    rows = annotated(run_dir)
    assert len(rows) == 16
    for question, right in SOLVED.items():
        for sample in range(4):
            row = rows[f"{question}-{sample}"]
            assert (row["pass_rate"], row["pass_samples"]) == (right / 4, 4)
            assert row["correct"] is (sample < right) and row["correct_method"] == "number"
    assert result.counts["pass_rate"]["solved"] == 3


def test_difficulty_selects_the_hardest_solved_questions_first(run_dir: RunDir) -> None:
    pool(run_dir)
    config = AnnotateConfig()
    config.length.tokenizer = "approx"
    annotate(run_dir, config, only=["length", "correctness", "pass_rate"], quiet=True, force=True)

    def picked(method: str, size: int) -> list[str]:
        select(run_dir, method=method, size=size, name="s", allow_smaller=True, force=True)
        return pq.read_table(run_dir.selection("s")).sort_by("rank").column("trace_id").to_pylist()

    # rejection sampling + difficulty: Q hard's one verified trace, then Q medium's three, then Q easy's four
    order = picked("filter:correct>difficulty", 8)
    assert order[0] == "Q hard-0" and set(order[1:4]) == {f"Q medium-{i}" for i in range(3)}
    assert set(order[4:]) == {f"Q easy-{i}" for i in range(4)}
    # never-solved questions have no verified trace: left out unless asked for, then last
    assert not any(t.startswith("Q never") for t in picked("difficulty", 16))
    assert all(t.startswith("Q never") for t in picked("difficulty(unsolved=true)", 16)[-4:])
    assert set(picked("filter:max_pass_rate(0.5)>random", 16)) == {f"Q hard-{i}" for i in range(4)} | {
        f"Q never-{i}" for i in range(4)}  # fmt: skip
    assert set(picked("filter:min_pass_rate(0.9)>random", 16)) == {f"Q easy-{i}" for i in range(4)}


def test_difficulty_refuses_a_pool_without_pass_rates(run_dir: RunDir) -> None:
    from naturalthoughts.errors import NTError

    pool(run_dir)
    config = AnnotateConfig()
    config.length.tokenizer = "approx"
    annotate(run_dir, config, only=["length", "correctness"], quiet=True, force=True)
    with pytest.raises(NTError, match="pass_rate"):
        select(run_dir, method="difficulty", size=2, name="s", force=True)
