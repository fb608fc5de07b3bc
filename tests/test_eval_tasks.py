"""`nt eval` on generated reasoning-gym items: the items, the prompt the tasks' scorers expect, grading by each task's
own ``score_answer`` on every sample, items of the pool left out. A loopback server answers with replies written for
the test (the real HTTP engine, the real eval stage and records in between)."""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts import benchmarks
from naturalthoughts.atomic import write_parquet
from naturalthoughts.cli.eval import parse_benches
from naturalthoughts.eval import EvalConfig, EvalStage
from naturalthoughts.progress import Reporter
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner
from naturalthoughts.tables import QUESTIONS
from naturalthoughts.text import tasks
from test_annotate_support import ReplayServer

reasoning_gym = pytest.importorskip("reasoning_gym")
from reasoning_gym.utils import extract_answer  # noqa: E402

SPEC = "gcd{max_value=60},syllogism,lcm:6:999"


def wrong(answer: str) -> str:
    return {"Yes": "No", "No": "Yes"}.get(answer, str(int(answer) + 1) if answer.lstrip("-").isdigit() else "x")


def reply_for(items: dict[str, Any], body: dict[str, Any]) -> str:
    """One of five reply styles per item (by a hash of its question): a tagged right or wrong answer, a free-form
    right answer, a free-form sentence with the answer at its end, or no answer at all."""
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    item = next(it for question, it in items.items() if question in prompt)
    style = int(hashlib.sha256(item.question.encode()).hexdigest(), 16) % 5
    answer = item.answer
    return [
        f"<think>\nworking\n</think>\n<answer>{answer}</answer>",
        f"<think>\nworking\n</think>\n<answer>{wrong(answer)}</answer>",
        f"<think>\nworking\n</think>\nThe answer is {answer}.",
        f"<think>\nworking\n</think>\nAfter checking every case, it comes to {answer}",
        "<think>\nworking and working",
    ][style]


def run_eval(run: RunDir, config: EvalConfig) -> Any:
    with Runner(run, reporter=Reporter(mode="off")) as runner:
        return runner.run_stage(EvalStage(config, model_name="replay"))


def test_reasoning_gym_items_are_graded_by_each_tasks_own_scorer(run_dir: RunDir) -> None:
    items = {item.question: item for item in benchmarks.load("reasoning_gym", SPEC)}
    assert len(items) == 18 and {it.metadata["task"] for it in items.values()} == {"gcd", "syllogism", "lcm"}
    with ReplayServer(lambda body: reply_for(items, body)) as server:
        config = EvalConfig(engine=server.engine(), benchmarks=[f"reasoning-gym:{SPEC}"], modes=["no-think"],
                            prefill=False, max_tokens=64, concurrency=2)  # fmt: skip
        run_eval(run_dir, config)
        prompts = [next(m["content"] for m in b["messages"] if m["role"] == "user") for b in server.bodies]
    assert all(p.endswith(tasks.ANSWER_FORMAT) for p in prompts), "the answer format the tasks' scorers expect"
    rows = pq.read_table(run_dir.eval_dir / "replay" / "samples.parquet").to_pylist()
    assert len(rows) == len(items)
    assert [row["error"] for row in rows if row["error"]] == []
    for row in rows:
        _task, entry, generated = tasks.entry_for(*_source(items, row))
        tagged = extract_answer(row["output"])
        if tagged is not None:  # reasoning-gym's own pipeline: its extraction, its scorer
            assert row["score"] == generated.score_answer(tagged, entry) and row["correct"] is (row["score"] == 1.0)
        if row["extracted"] is not None:  # whatever the checker read is scored by the task's scorer
            assert row["score"] == generated.score_answer(row["extracted"], entry), row
        else:
            assert row["correct"] is False and row["score"] in (0.0, None)
    styles = {row["output"].count("<answer>") for row in rows}
    assert styles == {0, 1}
    [whole] = [r for r in pq.read_table(run_dir.eval_dir / "replay" / "summary.parquet").to_pylist() if not r["subset"]]
    assert whole["mean_score"] is not None and 0 < whole["accuracy"] < 1
    assert whole["answered_accuracy"] >= whole["accuracy"] and whole["extraction_failure_rate"] > 0


def _source(items: dict[str, Any], row: dict[str, Any]) -> tuple[str, int]:
    item = next(it for it in items.values() if it.id == row["item_id"])
    return item.metadata["source"], item.metadata["row"]


def test_items_that_are_questions_of_the_pool_are_left_out(run_dir: RunDir) -> None:
    from naturalthoughts.ingest.text import normalise_one, question_id

    items = benchmarks.load("reasoning_gym", "gcd:4:3")
    pooled = items[1].question
    pool = [{"id": question_id(normalise_one(pooled)), "question": pooled, "source": "test", "source_row": 1}]
    write_parquet(pa.Table.from_pylist(pool, schema=QUESTIONS), run_dir.questions)
    by_question = {item.question: item for item in items}
    with ReplayServer(lambda body: reply_for(by_question, body)) as server:
        config = EvalConfig(
            engine=server.engine(),
            benchmarks=["reasoning-gym:gcd:4:3"],
            modes=["no-think"],
            prefill=False,
            concurrency=2,
        )
        outcome = run_eval(run_dir, config)
    rows = pq.read_table(run_dir.eval_dir / "replay" / "samples.parquet").to_pylist()
    assert sorted(r["item_id"] for r in rows) == sorted(i.id for i in items if i.question != pooled)
    assert outcome.result.counts["left_out_items"] == 1


def test_bench_option_reads_task_lists_with_commas_and_parameters() -> None:
    names, sources = parse_benches(["gsm8k,reasoning-gym:gcd{max_value=100,min_value=2},syllogism:70:7,math500"])
    assert names == ["gsm8k", "reasoning_gym", "math500"]
    assert sources == {"reasoning_gym": "gcd{max_value=100,min_value=2},syllogism:70:7"}
    task_set = tasks.parse_task_set(sources["reasoning_gym"])
    assert [t.text for t in task_set.tasks] == ["gcd{max_value=100,min_value=2}", "syllogism"]
    assert (task_set.size, task_set.seed) == (70, 7)
    from naturalthoughts.errors import ConfigError

    with pytest.raises(ConfigError, match="has no parameter 'maxvalue'"):
        tasks.parse_task_set("gcd{maxvalue=3}:5")
    with pytest.raises(ConfigError, match="did you mean one of: gcd"):
        tasks.parse_task_set("gdc:5")
