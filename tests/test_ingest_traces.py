"""nt ingest --traces: trace sets in the column schemas of the public sets that use each layout, read for real.

The files in ``tests/data/traces/`` were written for this project in the real column schemas of NuminaMath-QwQ-CoT-5M,
OpenR1-Math-220k, OpenThoughts-114k (metadata and default configs), s1K-1.1, AM-DeepSeek-R1-Distilled-1.4M,
OpenThoughts3-1.2M and Bespoke-Stratos-17k (docs/traces.md lists the columns each preset reads).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts.errors import BadInputError, ConfigError, OfflineError
from naturalthoughts.ingest import IngestConfig, IngestStage
from naturalthoughts.ingest.validation import BadRowsError
from naturalthoughts.manifest import Manifest
from naturalthoughts.progress import quiet_reporter
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner
from naturalthoughts.tables import TRACES
from nt_cli import nt

DATA = Path(__file__).parent / "data" / "traces"
FAST = {"near_dup": False, "decontaminate": []}
TEACHER = "deepseek-ai/DeepSeek-R1"


def ingest_traces(run: RunDir, sources: list, **config) -> object:
    with Runner(run, reporter=quiet_reporter()) as runner:
        return runner.run_stage(IngestStage(IngestConfig(**{**FAST, **config}), sources=sources))


def spec(path: Path | str, layout: str, **options) -> dict:
    return {"source": str(path), "traces": layout, "teacher": TEACHER, **options}


def rows(run: RunDir) -> list[dict]:
    return pq.read_table(run.traces).to_pylist()


def questions(run: RunDir) -> dict[str, dict]:
    return {q["id"]: q for q in pq.read_table(run.questions).to_pylist()}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# ---- each preset on its public sets' schemas ------------------------------------------------------------------
def test_r1_preset_on_numinamath_qwq_keeps_the_correct_flag(run_dir: RunDir) -> None:
    outcome = ingest_traces(run_dir, [spec(DATA / "numinamath_qwq_cot.jsonl", "r1")])
    traces, pool = rows(run_dir), questions(run_dir)
    assert [t["source_correct"] for t in traces] == [True, True, False]
    first = traces[0]
    assert pool[first["question_id"]]["question"].startswith("A rectangle has a perimeter")  # prompt
    assert pool[first["question_id"]]["reference_answer"] == "54"  # ground_truth
    assert first["reasoning"].startswith("The perimeter is") and first["answer"].endswith("square centimetres.")
    assert first["complete"] and first["finish_reason"] == "stop" and first["origin"] == "imported"
    assert first["teacher"] == TEACHER and first["sample"] == 0
    assert first["source"] == str(DATA / "numinamath_qwq_cot.jsonl") and first["source_row"] == 1
    assert first["tokenizer"] == "approx:chars/4" and first["completion_tokens"] is None
    assert first["reasoning_tokens"] == -(-len(first["reasoning"]) // 4)
    record = outcome.record
    assert record["counts"]["traces"] == 3 and record["traces"]["with_source_correct"] == 3
    source = record["traces"]["sources"][str(DATA / "numinamath_qwq_cot.jsonl")]
    assert source["columns"]["question"] == "prompt" and source["columns"]["trace"] == "response"
    assert "no tokenizer installed" in record["traces"]["notes"][0]


def test_r1_preset_on_openr1_math_parquet_lists_become_samples(tmp_path: Path, run_dir: RunDir) -> None:
    """OpenR1-Math-220k ships Parquet with list columns: generations[], correctness_math_verify[], finish_reasons[]."""
    records = [json.loads(line) for line in (DATA / "openr1_math_220k.jsonl").read_text().splitlines()]
    parquet = tmp_path / "openr1.parquet"
    pq.write_table(pa.Table.from_pylist(records), parquet)
    outcome = ingest_traces(run_dir, [spec(parquet, "r1")])
    traces = rows(run_dir)
    assert [(t["sample"], t["source_row"]) for t in traces] == [(0, 1), (1, 1), (2, 1), (0, 2), (1, 2)]
    assert [t["source_correct"] for t in traces] == [True, False, False, True, True]
    truncated = traces[2]
    assert truncated["finish_reason"] == "length" and not truncated["complete"] and truncated["answer"] == ""
    assert len({t["question_id"] for t in traces}) == 2 and len({t["trace_id"] for t in traces}) == 5
    assert outcome.record["counts"] == {"read": 5, "kept": 2, "samples": 3, "traces": 5, "duplicates": 0,
                                        "near_duplicates": 0, "rejected": 0, "contaminated": 0}  # fmt: skip
    assert questions(run_dir)[traces[0]["question_id"]]["reference_answer"] == "23"  # answer, not solution


def test_split_preset_on_openthoughts_metadata_and_s1k(run_dir: RunDir) -> None:
    ingest_traces(run_dir, [spec(DATA / "openthoughts_114k_metadata.jsonl", "split"), spec(DATA / "s1k_1.1.jsonl",
                                                                                          "split")])  # fmt: skip
    traces, pool = rows(run_dir), questions(run_dir)
    ot = traces[0]
    assert ot["reasoning"].startswith("Okay, so the sum") and ot["answer"].endswith("degrees.") and ot["complete"]
    assert pool[ot["question_id"]]["reference_answer"] == "720" and pool[ot["question_id"]]["domain"] == "math"
    s1k = [t for t in traces if t["source"].endswith("s1k_1.1.jsonl")]
    assert [t["source_correct"] for t in s1k] == [True, False]  # deepseek_grade Yes / No
    assert s1k[0]["reasoning"].startswith("3^2 = 9") and pool[s1k[0]["question_id"]]["reference_answer"] == "81"


def test_messages_preset_openai_form_on_am_deepseek_r1(run_dir: RunDir) -> None:
    outcome = ingest_traces(run_dir, [spec(DATA / "am_deepseek_r1_distilled.jsonl", "messages")])
    traces, pool = rows(run_dir), questions(run_dir)
    first = traces[0]
    assert pool[first["question_id"]]["question"].startswith("If 5 pencils cost")
    assert pool[first["question_id"]]["reference_answer"] == "3"  # the user turn's info.reference_answer
    assert first["answer"] == "Twelve pencils cost $\\boxed{3}$ dollars."  # <answer> tags read as the answer
    assert first["reasoning"].startswith("One pencil costs") and first["complete"]
    form = outcome.record["traces"]["sources"][str(DATA / "am_deepseek_r1_distilled.jsonl")]["columns"]
    assert form["messages"] == "messages" and form["message_form"] == "openai"


def test_messages_preset_sharegpt_form_several_samples_per_question(run_dir: RunDir) -> None:
    outcome = ingest_traces(run_dir, [spec(DATA / "openthoughts3_1.2m.jsonl", "messages")])
    traces = rows(run_dir)
    by_question: dict[str, list[int]] = {}
    for t in traces:
        by_question.setdefault(t["question_id"], []).append(t["sample"])
    assert sorted(by_question.values(), key=len) == [[0, 1], [0, 1, 2]]
    assert outcome.record["counts"]["samples"] == 3 and outcome.record["counts"]["kept"] == 2
    form = outcome.record["traces"]["sources"][str(DATA / "openthoughts3_1.2m.jsonl")]["columns"]
    assert form["messages"] == "conversations" and form["message_form"] == "sharegpt"


def test_messages_preset_on_bespoke_stratos_keeps_the_system_prompt_and_reads_thought_markers(run_dir: RunDir) -> None:
    ingest_traces(run_dir, [spec(DATA / "bespoke_stratos_17k.jsonl", "messages")])
    first = rows(run_dir)[0]
    assert first["system_prompt"].startswith("Your role as an assistant")
    assert first["reasoning"].startswith("12 * 12 = 144") and first["answer"] == "$\\sqrt{144} = \\boxed{12}$"
    assert first["complete"]


def test_a_system_turn_inside_the_conversation_is_the_system_prompt(tmp_path: Path, run_dir: RunDir) -> None:
    turns = [{"role": "system", "content": "Think step by step."}, {"role": "user", "content": "Earlier?"},
             {"role": "assistant", "content": "Earlier reply."}, {"role": "user", "content": "What is 6 times 7?"},
             {"role": "assistant", "content": "<think>6*7=42</think>42"}]  # fmt: skip
    ingest_traces(run_dir, [spec(write_jsonl(tmp_path / "chat.jsonl", [{"messages": turns}]), "messages")])
    trace = rows(run_dir)[0]
    assert trace["system_prompt"] == "Think step by step." and trace["answer"] == "42"
    assert next(iter(questions(run_dir).values()))["question"] == "What is 6 times 7?"  # the last user turn


def test_csv_and_a_folder_of_files(tmp_path: Path, run_dir: RunDir) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / "a.csv").write_text('question,response\nWhat is 1+1?,"<think>1+1=2</think>2"\n', encoding="utf-8")
    write_jsonl(folder / "b.jsonl", [{"question": "What is 2+2?", "response": "<think>2+2=4</think>4"}])
    ingest_traces(run_dir, [spec(folder, "r1")])
    assert [(t["answer"], Path(t["source"]).name, t["source_row"]) for t in rows(run_dir)] == [
        ("2", "a.csv", 2), ("4", "b.jsonl", 1)]  # fmt: skip


# ---- the same rules as generated traces, validation, dedup, decontamination ------------------------------------
def test_completeness_rules_and_the_length_cap(tmp_path: Path, run_dir: RunDir) -> None:
    records = [
        {"question": "Closed?", "response": "<think>fine</think>yes"},
        {"question": "Unclosed?", "response": "<think>never closed"},
        {"question": "No tags?", "response": "just an answer"},
        {"question": "Empty answer?", "response": "<think>thinking</think>   "},
        {"question": "Too long?", "response": "<think>" + "word " * 100 + "</think>done"},
    ]
    ingest_traces(run_dir, [spec(write_jsonl(tmp_path / "t.jsonl", records), "r1")], max_trace_tokens=100)
    got = {questions(run_dir)[t["question_id"]]["question"]: (t["complete"], t["finish_reason"]) for t in rows(run_dir)}
    assert got == {"Closed?": (True, "stop"), "Unclosed?": (False, "stop"), "No tags?": (False, "stop"),
                   "Empty answer?": (False, "stop"), "Too long?": (False, "length")}  # fmt: skip


def test_bad_rows_are_listed_with_file_and_line_then_skipped_with_their_reasons(
    tmp_path: Path, run_dir: RunDir
) -> None:
    path = tmp_path / "chat.jsonl"
    good = {
        "messages": [{"role": "user", "content": "What is 3+3?"}, {"role": "assistant", "content": "<think>6</think>6"}]
    }
    lines = [
        json.dumps(good),
        json.dumps({"messages": [{"role": "user", "content": "No reply?"}]}),
        "{not json",
        json.dumps({"messages": [{"from": "human", "value": "Other form?"}, {"from": "gpt", "value": "x"}]}),
        json.dumps({"messages": [{"role": "user", "content": "Typed?"}, {"role": "assistant", "content": 7}]}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BadRowsError) as failed:
        ingest_traces(run_dir, [spec(path, "messages")])
    message = str(failed.value)
    assert f"{path}:2: 'messages' has no assistant turn after the last user turn" in message
    assert f"{path}:3: not JSON" in message
    assert f"{path}:4: turn 1 of 'messages' has no role/content" in message and "openai form" in message
    assert f"{path}:5: the assistant turn ('messages') is not text" in message
    assert not run_dir.traces.exists() and not run_dir.questions.exists()
    outcome = ingest_traces(run_dir, [spec(path, "messages")], skip_bad=True)
    assert outcome.record["counts"]["rejected"] == 4 and len(rows(run_dir)) == 1
    rejected = pq.read_table(run_dir.rejected).to_pylist()
    assert [(r["source_row"], r["kind"]) for r in rejected] == [(2, "invalid"), (3, "invalid"), (4, "invalid"),
                                                                (5, "invalid")]  # fmt: skip
    assert rejected[1]["raw"] == "{not json"


def test_duplicates_near_duplicates_and_contamination_with_their_traces(tmp_path: Path, run_dir: RunDir) -> None:
    gsm8k = "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?"  # noqa: E501
    base = "A farmer has seventeen sheep in a field and all but nine of them run away through a hole in the fence; how many sheep remain in the field at the end of the day?"  # noqa: E501
    records = [
        {"question": base, "response": "<think>all but nine</think>9"},
        {"question": base, "response": "<think>all but nine</think>9"},  # the same trace again
        {"question": base, "response": "<think>seventeen minus eight</think>9"},  # another sample
        {"question": base.replace("seventeen", "eighteen"), "response": "<think>x</think>9"},  # near duplicate
        {"question": gsm8k, "response": "<think>16-3-4=9, 9*2=18</think>18"},  # a benchmark question
    ]
    outcome = ingest_traces(run_dir, [spec(write_jsonl(tmp_path / "t.jsonl", records), "r1")],
                            near_dup=True, decontaminate=["gsm8k"])  # fmt: skip
    counts = outcome.record["counts"]
    assert counts == {"read": 5, "kept": 1, "samples": 1, "traces": 2, "duplicates": 1, "near_duplicates": 1,
                      "rejected": 0, "contaminated": 1}  # fmt: skip
    assert [t["sample"] for t in rows(run_dir)] == [0, 1]
    rejected = {r["source_row"]: (r["kind"], r["reason"]) for r in pq.read_table(run_dir.rejected).to_pylist()}
    assert rejected[2][0] == "duplicate" and "same question and response" in rejected[2][1]
    assert rejected[4][0] == "near_duplicate" and rejected[5][0] == "contaminated"


def test_column_errors_name_the_column_the_option_and_the_columns_found(tmp_path: Path, run_dir: RunDir) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [{"problem": "What?", "text": "<think>a</think>b"}])
    with pytest.raises(BadInputError, match=r"no trace column \(tried 'response', 'generations'.*trace_col.*"
                                            r"columns: problem, text"):  # fmt: skip
        ingest_traces(run_dir, [spec(path, "r1")])
    with pytest.raises(BadInputError, match=r"no column 'reply' \(given with trace_col\)"):
        ingest_traces(run_dir, [spec(path, "r1", trace_col="reply")])
    outcome = ingest_traces(run_dir, [spec(path, "r1", trace_col="text")])
    assert outcome.record["counts"]["traces"] == 1
    with pytest.raises(ConfigError, match="need a trace layout"):
        IngestStage(IngestConfig(), sources=[{"source": str(path), "trace_col": "text"}]).check(run_dir)
    with pytest.raises(ConfigError, match="unknown trace layout 'r2'"):
        IngestStage(IngestConfig(), sources=[{"source": str(path), "traces": "r2"}])


def test_the_teachers_tokenizer_counts_when_it_is_installed(
    tmp_path: Path, run_dir: RunDir, tiny_llama_dir: Path
) -> None:
    from naturalthoughts.text.tokens import load_tokenizer

    path = write_jsonl(
        tmp_path / "t.jsonl", [{"question": "Q?", "response": "<think>Let me think about it.</think>Yes."}]
    )
    ingest_traces(run_dir, [{"source": str(path), "traces": "r1", "teacher": str(tiny_llama_dir)}])
    trace = rows(run_dir)[0]
    encode = load_tokenizer(str(tiny_llama_dir)).backend_tokenizer.encode
    assert trace["tokenizer"] == str(tiny_llama_dir)
    assert trace["reasoning_tokens"] == len(encode("Let me think about it.", add_special_tokens=False).ids)
    assert trace["answer_tokens"] == len(encode("Yes.", add_special_tokens=False).ids)


def test_hub_ids_stream_with_the_network_and_fail_at_once_without(run_dir: RunDir, monkeypatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(OfflineError, match="Streaming a trace set needs the network"):
        IngestStage(IngestConfig(), sources=[spec("hf:open-r1/OpenR1-Math-220k", "r1")]).check(run_dir)


def test_a_streamed_dataset_is_read_record_by_record_with_only_the_layouts_columns(tmp_path: Path) -> None:
    """What an hf: source reads once the Hub answered: a `datasets` IterableDataset (streaming=True), here over a
    local Parquet copy of OpenR1-Math's schema, since tests have no network."""
    from datasets import load_dataset

    from naturalthoughts.ingest.config import ColumnMap
    from naturalthoughts.ingest.layouts import TraceSourceSpec
    from naturalthoughts.ingest.trace_sources import HubRecords, TraceSource

    records = [json.loads(line) for line in (DATA / "openr1_math_220k.jsonl").read_text().splitlines()]
    parquet = tmp_path / "train-00000.parquet"
    pq.write_table(pa.Table.from_pylist(records), parquet)
    streamed = load_dataset("parquet", data_files=str(parquet), split="train", streaming=True)
    source = TraceSource(HubRecords("open-r1/OpenR1-Math-220k", dataset=streamed), TraceSourceSpec(**spec("x", "r1")))
    table = pa.concat_tables(source.batches(ColumnMap(), 1024))
    assert source.label == "hf:open-r1/OpenR1-Math-220k" and table.num_rows == 5
    assert table.column("source_row").to_pylist() == [1, 1, 1, 2, 2]
    assert table.column("source_correct").to_pylist() == [True, False, False, True, True]
    assert set(source.columns.read()) == {"problem", "answer", "generations", "correctness_math_verify",
                                          "finish_reasons"}  # fmt: skip


def test_cli_options_and_the_exit_code_of_bad_rows(tmp_path: Path, run_dir: RunDir, capsys) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [{"q": "What is 4+4?", "thought": "4+4=8", "final": "8", "ok": "yes"},
                                              {"q": "Broken?", "thought": 5, "final": "x"}])  # fmt: skip
    args = ["ingest", str(path), "--run", str(run_dir.root), "--traces", "split", "--question-col", "q",
            "--reasoning-col", "thought", "--final-col", "final", "--correct-col", "ok", "--teacher", "my-r1",
            "--decontaminate", "none", "--no-near-dup"]  # fmt: skip
    assert nt(*args) == 4
    assert f"{path}:2: reasoning ('thought') is not text (got int)" in capsys.readouterr().err
    assert nt(*args, "--skip-bad") == 0
    trace = rows(run_dir)[0]
    assert trace["teacher"] == "my-r1" and trace["source_correct"] is True and trace["answer"] == "8"
    assert nt("ingest", str(path), "--run", str(run_dir.root), "--trace-col", "x") == 2
    assert "need a trace layout" in capsys.readouterr().err


def test_imported_rows_have_the_traces_schema(run_dir: RunDir) -> None:
    ingest_traces(run_dir, [spec(DATA / "numinamath_qwq_cot.jsonl", "r1")])
    assert pq.read_schema(run_dir.traces).remove_metadata() == TRACES.remove_metadata()
    assert Manifest(run_dir.manifest).latest("ingest")["outputs"].keys() >= {"traces.parquet"}


def test_the_teacher_from_a_column_per_response(tmp_path: Path, run_dir: RunDir) -> None:
    records = [
        {"question": "What is 5+5?", "response": "<think>5+5=10</think>10", "model": "deepseek-r1"},
        {"question": "What is 5+5?", "response": "<think>ten</think>10", "model": "qwq-32b"},
    ]
    path = write_jsonl(tmp_path / "t.jsonl", records)
    outcome = ingest_traces(run_dir, [{"source": str(path), "traces": "r1", "teacher_col": "model"}])
    traces = rows(run_dir)
    assert [(t["teacher"], t["sample"]) for t in traces] == [("deepseek-r1", 0), ("qwq-32b", 1)]
    assert outcome.record["traces"]["sources"][str(path)]["teacher"] == "column model"
