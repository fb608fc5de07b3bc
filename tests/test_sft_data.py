"""nt sft-data: chat-format SFT examples with System-1/System-2 mixing, built from real Parquet run tables.

``make_run`` (also used by the train and export tests) writes questions, traces, a selection and annotations in
the schemas of ``naturalthoughts.tables``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts import tables
from naturalthoughts.errors import ConfigError, Fix, MissingInputError
from naturalthoughts.progress import quiet_reporter
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner
from naturalthoughts.sft import SftDataConfig, SftDataStage, parse_mix, sft_name
from naturalthoughts.sft.examples import SYSTEM1, SYSTEM2
from naturalthoughts.text import modes

SELECTION = "pick"


def _trace(i: int, reasoning: str, answer: str, complete: bool = True, error: str | None = None) -> dict:
    return {
        "trace_id": f"t{i:03d}", "question_id": f"q{i:03d}", "sample": 0, "teacher": "test:teacher",
        "reasoning": reasoning, "answer": answer, "finish_reason": "stop" if complete else "length",
        "complete": complete, "reasoning_tokens": len(reasoning) // 4, "answer_tokens": len(answer) // 4,
        "prompt_tokens": 10, "latency_s": 0.1, "error": error,
    }  # fmt: skip


def make_run(
    root: Path,
    n: int = 10,
    long_reasoning: set[int] = frozenset(),
    incomplete: set[int] = frozenset(),
    disagree: dict[int, bool | None] | None = None,
    repeat: str | None = None,
) -> RunDir:
    """A run directory with ``n`` questions, one trace each, all selected (rank = index).

    ``long_reasoning`` traces get a reasoning of about 2,000 tokens; ``repeat`` makes every trace the same text
    (a repeated batch, for the loss test)."""
    run = RunDir(root).ensure()
    questions, traces, annotations = [], [], []
    for i in range(n):
        question = f"What is {i} plus {i}?"
        reasoning = f"We add {i} and {i}. Adding gives {2 * i}. Let me check: {i} + {i} = {2 * i}."
        if i in long_reasoning:
            reasoning = " ".join(["Consider each step carefully and again."] * 300)
        answer = f"The answer is {2 * i}."
        if repeat is not None:
            question, reasoning, answer = "Say the word.", repeat, "Done."
        questions.append({"id": f"q{i:03d}", "question": question, "reference_answer": str(2 * i),
                          "source": "test", "source_row": i + 1})  # fmt: skip
        traces.append(_trace(i, reasoning, answer, complete=i not in incomplete))
        value = (disagree or {}).get(i)
        annotations.append({"trace_id": f"t{i:03d}", "question_id": f"q{i:03d}", "disagree": value})
    pq.write_table(pa.Table.from_pylist(questions, schema=tables.QUESTIONS), run.questions)
    pq.write_table(pa.Table.from_pylist(traces, schema=tables.TRACES), run.traces)
    pq.write_table(pa.Table.from_pylist(annotations, schema=tables.ANNOTATIONS), run.annotations)
    selection = [{"trace_id": f"t{i:03d}", "rank": i, "score": None, "method": "random"} for i in range(n)]
    table = pa.Table.from_pylist(selection, schema=tables.SELECTION)
    table = table.replace_schema_metadata(
        {"naturalthoughts.select.expression": "random", "naturalthoughts.select.seed": "0"}
    )
    run.selections_dir.mkdir(exist_ok=True)
    pq.write_table(table, run.selection(SELECTION))
    return run


def build(run: RunDir, **config) -> tuple[dict, Path]:
    stage = SftDataStage(SftDataConfig(**config), selection=SELECTION)
    with Runner(run, reporter=quiet_reporter()) as runner:
        outcome = runner.run_stage(stage)
    return outcome.record, run.sft_dir / stage.args["name"]


def read(folder: Path) -> pa.Table:
    return pq.read_table(folder / "train.parquet")


def test_system2_and_system1_examples_use_the_shared_mode_strings(run_dir: RunDir) -> None:
    make_run(run_dir.root, n=6)
    record, folder = build(run_dir, mix="random:0.5", seed=3)
    rows = read(folder).to_pylist()
    assert folder.name == "pick+random-0.5"
    for row in rows:
        system, user, assistant = row["messages"]
        assert user == {
            "role": "user",
            "content": f"What is {int(row['question_id'][1:])} plus {int(row['question_id'][1:])}?",
        }
        if row["mode"] == SYSTEM2:
            assert system["content"] == modes.THINK_INSTRUCTION and row["instruction"] == "think"
            assert (
                assistant["content"].startswith(modes.THINK_PREFILL)
                and "</think>\n\nThe answer is" in assistant["content"]
            )
            assert assistant["content"] != modes.system1_target(assistant["content"])
        else:
            assert system["content"] == modes.NO_THINK_INSTRUCTION and row["instruction"] == "no-think"
            assert assistant["content"].startswith(modes.NO_THINK_MARKER)
            assert assistant["content"] == modes.NO_THINK_MARKER + assistant["content"][len(modes.NO_THINK_MARKER) :]
            assert "We add" not in assistant["content"]
        assert row["completion_tokens"] < row["tokens"] <= 16384
    assert record["status"] == "done" and record["shares"]["system2"] == 0.5


@pytest.mark.parametrize(("mix", "n", "expected"), [("random:0.4", 10, 4), ("random:0.25", 10, 3), ("random:0", 7, 0),
                                                    ("random:1", 7, 7), ("none", 5, 5)])  # fmt: skip
def test_random_shares_are_exact_for_a_seed(tmp_path: Path, mix: str, n: int, expected: int) -> None:
    chosen = []
    for seed in (0, 0, 1):
        run = make_run(tmp_path / f"run-{len(chosen)}", n=n)
        record, folder = build(run, mix=mix, seed=seed)
        table = read(folder)
        system2 = [r["trace_id"] for r in table.to_pylist() if r["mode"] == SYSTEM2]
        assert len(system2) == expected == record["counts"]["system2"]
        assert record["counts"]["system1"] == n - expected
        assert record["shares"]["system2"] == pytest.approx(expected / n)
        chosen.append(system2)
    assert chosen[0] == chosen[1]  # the same seed picks the same examples
    if 0 < expected < n and n >= 10:
        assert chosen[0] != chosen[2]  # another seed, another subset of the same size


def test_difficulty_mix_follows_disagreement_and_unknown_keeps_the_trace(run_dir: RunDir) -> None:
    make_run(run_dir.root, n=5, disagree={0: True, 1: False, 2: True, 3: None, 4: False})
    record, folder = build(run_dir, mix="difficulty")
    modes_by_trace = {r["trace_id"]: r["mode"] for r in read(folder).to_pylist()}
    assert modes_by_trace == {"t000": SYSTEM2, "t001": SYSTEM1, "t002": SYSTEM2, "t003": SYSTEM2, "t004": SYSTEM1}
    assert record["counts"]["difficulty_unknown"] == 1 and record["shares"]["system2"] == pytest.approx(0.6)
    assert "annotations.parquet" in record["inputs"]


def test_length_mix_keeps_reasoning_above_the_threshold(run_dir: RunDir) -> None:
    make_run(run_dir.root, n=4, long_reasoning={2})
    _, folder = build(run_dir, mix="length:100")
    rows = {r["trace_id"]: r for r in read(folder).to_pylist()}
    assert rows["t002"]["mode"] == SYSTEM2 and rows["t002"]["reasoning_tokens"] > 100
    assert all(rows[t]["mode"] == SYSTEM1 and rows[t]["reasoning_tokens"] <= 100 for t in ("t000", "t001", "t003"))


def test_over_long_and_incomplete_are_dropped_and_counted_never_truncated(run_dir: RunDir) -> None:
    make_run(run_dir.root, n=6, long_reasoning={1}, incomplete={4})
    record, folder = build(run_dir, max_length=512)
    table = read(folder)
    assert sorted(table.column("trace_id").to_pylist()) == ["t000", "t002", "t003", "t005"]
    assert max(table.column("tokens").to_pylist()) <= 512
    counts = record["counts"]
    assert (counts["selected"], counts["examples"], counts["too_long"], counts["incomplete"]) == (6, 4, 1, 1)
    dropped = {r["trace_id"]: r for r in pq.read_table(folder / "dropped.parquet").to_pylist()}
    assert dropped["t001"]["reason"] == "too_long" and dropped["t001"]["tokens"] > 512
    assert dropped["t004"]["reason"] == "incomplete"


def test_a_made_up_next_turn_is_not_trained_and_is_counted(run_dir: RunDir) -> None:
    run = make_run(run_dir.root, n=3)
    traces = pq.read_table(run.traces).to_pylist()
    traces[1]["answer"] = "Final Answer:\nYes\n\nYou are correct, the answer is yes."  # the default's teacher wrote it
    pq.write_table(pa.Table.from_pylist(traces, schema=tables.TRACES), run.traces)
    record, folder = build(run_dir)
    targets = {row["trace_id"]: row["messages"][-1]["content"] for row in read(folder).to_pylist()}
    assert targets["t001"].endswith("</think>\n\nFinal Answer:\nYes")
    assert targets["t002"].endswith("</think>\n\nThe answer is 4.")
    assert record["counts"]["answers_cut"] == 1
    assert pq.read_table(run.traces).column("answer")[1].as_py().endswith("the answer is yes."), "traces unchanged"


def test_adaptive_share_drops_the_instruction_for_an_exact_share(run_dir: RunDir) -> None:
    make_run(run_dir.root, n=10)
    record, folder = build(run_dir, mix="random:0.5", adaptive_share=0.3)
    rows = read(folder).to_pylist()
    adaptive = [r for r in rows if r["instruction"] == "adaptive"]
    assert len(adaptive) == 3 == record["counts"]["adaptive"]
    assert all(m["role"] != "system" for r in adaptive for m in r["messages"])


def test_exports_load_with_datasets_and_carry_the_mode(run_dir: RunDir) -> None:
    from datasets import load_dataset

    make_run(run_dir.root, n=6)
    _, folder = build(run_dir, mix="random:0.5")
    parquet = load_dataset("parquet", data_files=str(folder / "train.parquet"), split="train")
    jsonl = load_dataset("json", data_files=str(folder / "train.jsonl"), split="train")
    sharegpt = load_dataset("json", data_files=str(folder / "sharegpt.json"), split="train")
    assert len(parquet) == len(jsonl) == len(sharegpt) == 6
    assert parquet[0]["messages"][-1]["role"] == "assistant" and parquet["mode"] == jsonl["mode"] == sharegpt["mode"]
    assert sorted(set(parquet["mode"])) == [SYSTEM1, SYSTEM2]
    assert jsonl[0]["messages"] == parquet[0]["messages"]
    first = sharegpt[0]
    assert [t["from"] for t in first["conversations"]] == ["human", "gpt"]
    assert first["conversations"][1]["value"] == parquet[0]["messages"][-1]["content"]
    assert first["system"] == parquet[0]["messages"][0]["content"]
    info = json.loads((folder / "dataset_info.json").read_text())
    assert (
        info["naturalthoughts"]["file_name"] == "sharegpt.json" and info["naturalthoughts"]["formatting"] == "sharegpt"
    )
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["traces_fingerprint"] == run_dir.traces_fingerprint() and meta["selection"]["expression"] == "random"


def test_second_run_is_up_to_date_and_a_new_mix_writes_a_new_folder(run_dir: RunDir) -> None:
    make_run(run_dir.root, n=4)
    build(run_dir)
    stage = SftDataStage(SftDataConfig(), selection=SELECTION)
    with Runner(run_dir, reporter=quiet_reporter()) as runner:
        assert runner.run_stage(stage).status == "up-to-date"
    _, folder = build(run_dir, mix="random:0.5")
    assert folder.name == "pick+random-0.5" and (run_dir.sft_dir / SELECTION / "train.parquet").exists()


def test_errors_name_what_to_do(run_dir: RunDir) -> None:
    make_run(run_dir.root, n=3)
    with pytest.raises(MissingInputError, match=r"absent\.parquet does not exist") as caught:
        Runner(run_dir, reporter=quiet_reporter()).run_stage(SftDataStage(SftDataConfig(), selection="absent"))
    assert caught.value.fix == Fix("select", method="EXPR", size="N", name="absent").at(run_dir)
    with pytest.raises(ConfigError, match="mix 'random:2'"):
        from naturalthoughts.config import validate

        validate(SftDataConfig, {"mix": "random:2"})
    with pytest.raises(ValueError, match="none \\| random:P"):
        parse_mix("sometimes")
    assert sft_name("pick", "length:2000") == "pick+length-2000" and sft_name("pick", "none") == "pick"
    # (a selection made from older traces, per its manifest record: tests/test_stale_selection.py)
    # a selection whose trace is gone (traces regenerated) is stale
    traces = pq.read_table(run_dir.traces).slice(0, 2)
    pq.write_table(traces, run_dir.traces)
    with pytest.raises(MissingInputError, match="the traces changed after the selection") as caught:
        build(run_dir)
    assert caught.value.fix is not None and caught.value.fix.command == "select"
