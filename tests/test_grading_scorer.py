"""The one checker against an independent scorer: reasoning-gym's own ``score_answer`` on its own generated items.

Replies in the format reasoning-gym's prompts ask for (``<answer>...</answer>``) are scored by reasoning-gym's own
extraction and scorer and by the checker: the verdicts must agree. Free-form replies (how a model that was not told
the format answers: "The GCD of 617 and 228 is 1.", "Yes, it does follow.", an answer followed by numbered premises)
are graded by the checker as a careful human would, and what the checker extracts is exactly what the task's scorer
accepts (score 1.0) when the checker says correct, and never when it says wrong.
"""

from __future__ import annotations

from typing import Any

import pytest

reasoning_gym = pytest.importorskip("reasoning_gym")
from reasoning_gym.utils import extract_answer  # noqa: E402

from naturalthoughts.text.grading import check_output, kind_of  # noqa: E402

TASKS = ("gcd", "lcm", "basic_arithmetic", "chain_sum", "leg_counting", "syllogism")


def entries(task: str, size: int = 12, seed: int = 7) -> tuple[Any, list[dict[str, Any]]]:
    dataset = reasoning_gym.create_dataset(task, size=size, seed=seed)
    return dataset, [dataset[i] for i in range(size)]


def wrong_answer(answer: str) -> str:
    if answer in ("Yes", "No"):
        return "No" if answer == "Yes" else "Yes"
    return str(int(answer) + 7)


def think(final: str) -> str:
    return f"<think>\nLet me work it out carefully.\n</think>\n\n{final}"


def free_forms(task: str, entry: dict[str, Any], answer: str) -> list[str]:
    """How models answer when not told the format, each stating ``answer``."""
    if task == "syllogism":
        return [f"{answer}, it does{'' if answer == 'Yes' else ' not'} follow.",
                f"{answer}\n\n1. {entry['question'].splitlines()[1][3:]}\n2. The conclusion is checked against it.",
                f"Checking each premise in turn, the answer is {answer.lower()}."]  # fmt: skip
    numbers = entry["metadata"].get("numbers") or [3, 4]
    return [
        f"Answer: The result for {numbers[0]} and {numbers[-1]} is {answer}.",
        f"\\boxed{{{answer}}}",
        f"The answer is {answer}.\n\nCheck:\n1. Step one uses {numbers[0]}.\n2. Step two gives {numbers[-1]}.",
        f"So we get **{answer}**, which is {len(numbers)} numbers combined.",
    ]


@pytest.mark.parametrize("task", TASKS)
def test_answer_tags_agree_with_the_tasks_own_scorer(task: str) -> None:
    dataset, items = entries(task)
    for entry in items:
        for answer in (entry["answer"], wrong_answer(entry["answer"])):
            output = think(f"Working shown above.\n<answer>{answer}</answer>")
            independent = dataset.score_answer(extract_answer(output), entry) == 1.0
            ours = check_output(kind_of(entry["answer"]), entry["answer"], output, thinking=True)
            assert bool(ours.correct) is independent, (task, answer, ours)


@pytest.mark.parametrize("task", TASKS)
def test_free_form_answers_read_as_the_tasks_scorer_accepts(task: str) -> None:
    dataset, items = entries(task, seed=11)
    for entry in items:
        for answer, right in ((entry["answer"], True), (wrong_answer(entry["answer"]), False)):
            for final in free_forms(task, entry, answer):
                ours = check_output(kind_of(entry["answer"]), entry["answer"], think(final), thinking=True)
                assert bool(ours.correct) is right, (task, final, ours)
                assert ours.extracted is not None, (task, final)
                assert (dataset.score_answer(ours.extracted, entry) == 1.0) is right, (task, final, ours.extracted)


def test_the_issues_cases() -> None:
    gcd = reasoning_gym.create_dataset("gcd", size=1, seed=0)
    entry = {"question": "Find the GCD of 617, 228.", "answer": "1", "metadata": {}}
    gcd_reply = check_output("number", "1", "Answer: The GCD of 617 and 228 is 1.")
    assert (gcd_reply.correct, gcd_reply.extracted) == (True, "1")  # was read as 617
    assert gcd.score_answer(gcd_reply.extracted, entry) == 1.0
    follows = check_output("text", "Yes", "Yes, it does follow.")
    assert (follows.correct, follows.extracted) == (True, "Yes")  # an exact match against "Yes" failed
    premises = check_output("text", "Yes", "Yes\n\n1. All dogs are doctors\n2. Some doctors are insects")
    assert premises.correct  # was graded by the last number, "2"


def test_annotate_correctness_scores_generated_questions_with_their_tasks_scorer(tmp_path: Any) -> None:
    """A pool ingested from reasoning-gym: correctness uses each task's own scorer through the one checker
    (``correct_method = reasoning-gym:TASK``), never a judge, on the teacher's free-form answers."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from naturalthoughts.annotate import AnnotateConfig, annotate
    from naturalthoughts.atomic import write_parquet
    from naturalthoughts.ingest import IngestConfig, ingest
    from naturalthoughts.rundir import RunDir
    from naturalthoughts.tables import TRACES

    run = RunDir(tmp_path / "run").ensure()
    ingest(run, IngestConfig(decontaminate=[]), sources=["reasoning-gym:gcd{max_value=50},syllogism:6:5"], force=True)
    questions = pq.read_table(run.questions).to_pylist()
    traces, expected = [], {}
    for number, question in enumerate(questions):
        answer = question["reference_answer"]
        said = answer if number % 2 == 0 else wrong_answer(answer)
        final = f"Answer: {said}." if question["source"].startswith("reasoning-gym:gcd") else f"{said}, it follows."
        traces.append({"trace_id": f"t{number}", "question_id": question["id"], "sample": 0, "teacher": "t",
                       "reasoning": "thinking", "answer": final, "finish_reason": "stop", "complete": True,
                       "response_hash": f"h{number}"})  # fmt: skip
        expected[f"t{number}"] = number % 2 == 0
    write_parquet(pa.Table.from_pylist(traces, schema=TRACES), run.traces)
    config = AnnotateConfig()
    config.correctness.use_judge = True  # a judge is configured, and never asked
    annotate(run, config, only=["correctness"], quiet=True, force=True)
    rows = pq.read_table(run.annotations).to_pylist()
    assert {row["trace_id"]: row["correct"] for row in rows} == expected
    assert {row["correct_method"] for row in rows} == {"reasoning-gym:gcd", "reasoning-gym:syllogism"}


def test_models_disagree_under_a_tasks_scorer_an_answer_and_no_answer_differ(tmp_path: Any) -> None:
    """On reasoning-gym questions the checker decides models-disagree where one answer says something its scorer
    reads and the other says nothing (the bundled teacher's second answers are often a question back): they differ.
    Two non-answers still go to the judge, asked once here."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from naturalthoughts.annotate import AnnotateConfig, annotate
    from naturalthoughts.atomic import write_parquet
    from naturalthoughts.ingest import IngestConfig, ingest
    from naturalthoughts.rundir import RunDir
    from naturalthoughts.tables import TRACES
    from test_annotate_support import ReplayServer

    run = RunDir(tmp_path / "run").ensure()
    ingest(run, IngestConfig(decontaminate=[]), sources=["reasoning-gym:syllogism:4:5"], force=True)
    questions = pq.read_table(run.questions)
    references = questions.column("reference_answer").to_pylist()
    non_answer = "To clarify, can you please provide the correct answer?"
    pairs = [  # (teacher's answer, second answer) per question
        (f"{references[0]}, it follows.", references[0]),  # both right: same
        (f"{references[1]}, it follows.", non_answer),  # an answer and none: differ
        ("I would need more premises.", non_answer),  # two non-answers: the judge
        (f"{wrong_answer(references[3])}, it follows.", non_answer),  # a wrong answer and none: differ
    ]
    others = pa.array([second for _, second in pairs], pa.string())
    write_parquet(questions.set_column(questions.schema.get_field_index("other_answer"), "other_answer", others),
                  run.questions)  # fmt: skip
    traces = [
        {"trace_id": f"t{number}", "question_id": question_id, "sample": 0, "teacher": "t", "reasoning": "thinking",
         "answer": answer, "finish_reason": "stop", "complete": True, "response_hash": f"h{number}"}
        for number, (question_id, (answer, _)) in enumerate(zip(questions.column("id").to_pylist(), pairs, strict=True))
    ]  # fmt: skip
    write_parquet(pa.Table.from_pylist(traces, schema=TRACES), run.traces)
    with ReplayServer(lambda body: '{"same_final_answer": true}') as server:
        config = AnnotateConfig(judge_engine=server.engine(), max_attempts=2)
        annotate(run, config, only=["disagree"], quiet=True, force=True)
    assert len(server.prompts()) == 1 and "I would need more premises." in server.prompts()[0]
    rows = {row["trace_id"]: row for row in pq.read_table(run.annotations).to_pylist()}
    assert [rows[f"t{n}"]["disagree"] for n in range(4)] == [False, True, False, True]
    assert [rows[f"t{n}"]["disagree_judge"] for n in (0, 1, 3)] == ["checker:reasoning-gym:syllogism"] * 3
    assert rows["t2"]["disagree_judge"].startswith("llm:")
    assert rows["t1"]["disagree_raw"] == f"{references[1]} | (no answer)"
