"""`nt ingest`: sources, schema mapping, validation, outputs and the CLI (real files, real libraries)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts.cli import main
from naturalthoughts.errors import BadInputError, ConfigError, MissingInputError, OfflineError
from naturalthoughts.ingest import BadRowsError, ColumnMap, IngestConfig, ingest
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir

QUESTIONS = [
    "A train travels 60 km in 1.5 hours and then 40 km in half an hour. What is its average speed in km per hour?",
    "Explain the doctrine of promissory estoppel in contract law and give an example where a court applied it.",
    "Why does the sky appear blue during the day but red and orange near sunset, in terms of Rayleigh scattering?",
    "Prove that the square root of two is irrational using a proof by contradiction.",
    "What are the main differences between TCP and UDP, and when would a network engineer prefer UDP?",
]

# Decontamination loads every bundled benchmark; tests about other things switch it off to stay fast.
FAST = {"decontaminate": [], "near_dup": False}


def nr_row(i: int, answer: str = "42", response: str | None = "The answer is 42.") -> dict:
    """A row in the NaturalReasoning schema."""
    row: dict = {"question": QUESTIONS[i], "reference_answer": answer}
    row["responses"] = [{"response_model": "Llama3.3-70B-Instruct", "response": response}] if response else []
    return row


def write_jsonl(path: Path, rows: list[dict | str]) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def expected_id(text: str) -> str:
    normalised = " ".join(text.lower().split())
    return hashlib.sha256(normalised.encode()).hexdigest()[:16]


def read_questions(run: RunDir) -> pd.DataFrame:
    return pq.read_table(run.questions).to_pandas()


def assert_accounted(run: RunDir, result) -> None:
    counts = result.counts()
    assert counts["read"] == sum(
        counts[k] for k in ("kept", "duplicates", "near_duplicates", "rejected", "contaminated")
    )
    assert Manifest(run.manifest).latest("ingest")["counts"] == counts
    assert pq.read_metadata(run.questions).num_rows == counts["kept"]
    assert pq.read_metadata(run.rejected).num_rows == counts["read"] - counts["kept"]


# ---- sources and schema ---------------------------------------------------------------------------------
def test_jsonl_in_the_natural_reasoning_schema(tmp_path: Path, run_dir: RunDir) -> None:
    src = write_jsonl(tmp_path / "nr.jsonl", [nr_row(0), nr_row(1, answer="", response=None)])
    result = ingest(run_dir, IngestConfig(**FAST), sources=[str(src)], force=True)
    df = read_questions(run_dir)
    assert result.kept == 2 and list(df.columns) == pa.schema(pq.read_schema(run_dir.questions)).names
    first, second = df.iloc[0], df.iloc[1]
    assert first["id"] == expected_id(QUESTIONS[0]) and first["question"] == QUESTIONS[0]
    assert first["reference_answer"] == "42"
    assert first["other_answer"] == "The answer is 42." and first["other_model"] == "Llama3.3-70B-Instruct"
    assert first["source"] == str(src) and first["source_row"] == 1
    assert pd.isna(second["reference_answer"]), "an empty reference answer becomes null"
    assert pd.isna(second["other_answer"]) and second["source_row"] == 2
    record = Manifest(run_dir.manifest).latest("ingest")
    assert record["status"] == "done" and str(src.resolve()) in record["inputs"]  # outside the run: absolute
    assert_accounted(run_dir, result)


def test_every_file_type_and_folders_give_the_same_questions(tmp_path: Path) -> None:
    rows = [nr_row(i) for i in range(3)]
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", rows[:1])
    (folder / "b.json").write_text(json.dumps(rows[1:2]), encoding="utf-8")
    with open(folder / "c.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["question", "reference_answer", "responses"])
        writer.writeheader()
        writer.writerow({"question": rows[2]["question"], "reference_answer": "42", "responses": "The answer is 42."})
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "all.parquet")

    from_folder = ingest(tmp_path / "r1", IngestConfig(**FAST), sources=[str(folder)], force=True)
    from_parquet = ingest(tmp_path / "r2", IngestConfig(**FAST), sources=[str(tmp_path / "all.parquet")], force=True)
    assert from_folder.kept == from_parquet.kept == 3
    a, b = read_questions(RunDir(tmp_path / "r1")), read_questions(RunDir(tmp_path / "r2"))
    assert list(a["id"]) == list(b["id"]) == [expected_id(q) for q in QUESTIONS[:3]]
    assert list(a["other_answer"]) == list(b["other_answer"]) == ["The answer is 42."] * 3
    assert [Path(s).name for s in a["source"]] == ["a.jsonl", "b.json", "c.csv"]
    assert list(a["source_row"]) == [1, 1, 2], "CSV rows are numbered by line (the header is line 1)"


def test_column_mapping(tmp_path: Path, run_dir: RunDir) -> None:
    src = tmp_path / "custom.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["prompt", "gold", "model_answer", "model", "subject"])
        writer.writerow([QUESTIONS[0], "50", "About 50 km/h.", "gpt-x", "Physics"])
    columns = ColumnMap(
        question="prompt", answer="gold", responses="model_answer", response_model="model", domain="subject"
    )
    ingest(run_dir, IngestConfig(columns=columns, **FAST), sources=[str(src)], force=True)
    row = read_questions(run_dir).iloc[0]
    assert (row["question"], row["reference_answer"]) == (QUESTIONS[0], "50")
    assert (row["other_answer"], row["other_model"], row["domain"]) == ("About 50 km/h.", "gpt-x", "Physics")


def test_a_parquet_file_without_the_question_column_names_the_option(tmp_path: Path, run_dir: RunDir) -> None:
    pq.write_table(pa.table({"prompt": ["x"]}), tmp_path / "p.parquet")
    with pytest.raises(BadInputError, match=r"no column 'question' \(columns: prompt\).*question_col"):
        ingest(run_dir, IngestConfig(**FAST), sources=[str(tmp_path / "p.parquet")], force=True)


def test_reasoning_gym_source(run_dir: RunDir) -> None:
    import reasoning_gym

    result = ingest(
        run_dir, IngestConfig(decontaminate=[]), sources=["reasoning-gym:basic_arithmetic,leg_counting:4:7"], force=True
    )
    df = read_questions(run_dir)
    assert result.read == 8 and result.kept == len(df) == 8
    expected = {e["question"]: e["answer"] for e in reasoning_gym.create_dataset("basic_arithmetic", size=4, seed=7)}
    arithmetic = df[df["source"] == "reasoning-gym:basic_arithmetic:4:7"]  # the spec that generates exactly them
    assert dict(zip(arithmetic["question"], arithmetic["reference_answer"], strict=True)) == expected
    assert list(arithmetic["source_row"]) == [1, 2, 3, 4]
    assert (df["source"] == "reasoning-gym:leg_counting:4:7").sum() == 4


def test_reasoning_gym_task_parameters(run_dir: RunDir) -> None:
    import reasoning_gym

    ingest(
        run_dir, IngestConfig(decontaminate=[]), sources=["reasoning-gym:gcd{max_value=20,min_value=2}:5:3"], force=True
    )
    df = read_questions(run_dir)
    expected = reasoning_gym.create_dataset("gcd", size=5, seed=3, max_value=20, min_value=2)
    assert set(df["question"]) == {e["question"] for e in expected}
    assert set(df["source"]) == {"reasoning-gym:gcd{max_value=20,min_value=2}:5:3"}
    with pytest.raises(ConfigError, match="has no parameter 'max'"):
        ingest(run_dir, IngestConfig(**FAST), sources=["reasoning-gym:gcd{max=20}:5"], force=True)


def test_reasoning_gym_unknown_task_suggests_names(run_dir: RunDir) -> None:
    with pytest.raises(ConfigError, match=r"no task 'basic_arithmatic'.*basic_arithmetic"):
        ingest(run_dir, IngestConfig(**FAST), sources=["reasoning-gym:basic_arithmatic:3"], force=True)
    with pytest.raises(ConfigError, match="reasoning-gym:TASK"):
        ingest(run_dir, IngestConfig(**FAST), sources=["reasoning-gym:basic_arithmetic"], force=True)


def test_hub_source_offline_fails_at_once_with_the_way_out(run_dir: RunDir) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    with pytest.raises(OfflineError) as err:
        ingest(run_dir, IngestConfig(**FAST), sources=["hf:facebook/natural_reasoning"], force=True)
    message = str(err.value)
    assert "offline" in message and "nt ingest natural_reasoning.jsonl" in message
    assert not run_dir.questions.exists()
    # resolving the sources is part of the stage's check, before the runner records an attempt
    assert Manifest(run_dir.manifest).latest("ingest") is None


def test_missing_source_says_what_a_source_is(run_dir: RunDir) -> None:
    with pytest.raises(MissingInputError, match="no such file or folder; a source is"):
        ingest(run_dir, IngestConfig(**FAST), sources=["nope.jsonl"], force=True)


def test_builtin_sample(run_dir: RunDir) -> None:
    from naturalthoughts.ingest.sources import builtin_sample_path

    try:
        path = builtin_sample_path()
    except MissingInputError:
        pytest.skip("src/naturalthoughts/data/sample_questions.jsonl is not written yet")
    lines = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    result = ingest(run_dir, IngestConfig(**FAST), sources=["builtin:sample"], force=True)
    df = read_questions(run_dir)
    assert result.read == lines and result.rejected == 0
    assert set(df["source"]) == {"builtin:sample"} and df["domain"].notna().all()


# ---- validation ---------------------------------------------------------------------------------------
BAD_LINES: list[tuple[bytes, str]] = [
    (b'{"question": ""}', "empty question"),
    (b'{"question": "   "}', "empty question"),
    (b'{"question": null}', "missing question (null)"),
    (b'{"prompt": "hi"}', "missing question (no 'question' field; fields: prompt)"),
    (b'{"question": 17}', "question is not a string (got int)"),
    (b"this is not json", "not JSON"),
    (b'["a", "list"]', "not a JSON object (got list)"),
    (b'{"question": "caf\xe9 au lait?"}', "invalid UTF-8"),
    (b'{"question": "half a pair \\ud800 here"}', "invalid Unicode"),
    (json.dumps({"question": "x" * 501}).encode(), "question too long (501 characters > max_question_chars 500)"),
]


def write_mixed(path: Path) -> Path:
    """Two good rows (lines 1 and 2) followed by every kind of bad line (from line 3)."""
    good = [json.dumps(nr_row(0)).encode(), json.dumps(nr_row(1)).encode()]
    path.write_bytes(b"\n".join(good + [line for line, _ in BAD_LINES]) + b"\n")
    return path


def test_bad_rows_fail_listing_every_one_with_file_and_line(tmp_path: Path, run_dir: RunDir) -> None:
    src = write_mixed(tmp_path / "mixed.jsonl")
    with pytest.raises(BadRowsError) as err:
        ingest(run_dir, IngestConfig(max_question_chars=500, **FAST), sources=[str(src)], force=True)
    message = str(err.value)
    assert f"{len(BAD_LINES)} of {len(BAD_LINES) + 2} rows are invalid" in message
    for line, (_, reason) in enumerate(BAD_LINES, start=3):
        assert f"{src}:{line}: {reason}" in message
    assert [(b.row, b.reason.split(" (")[0]) for b in err.value.bad_rows] == [
        (line, reason.split(" (")[0]) for line, (_, reason) in enumerate(BAD_LINES, start=3)
    ]
    assert not run_dir.questions.exists() and not run_dir.rejected.exists(), "nothing is written"
    assert Manifest(run_dir.manifest).latest("ingest")["status"] == "failed"


def test_invalid_utf8_in_csv_is_caught_per_line(tmp_path: Path, run_dir: RunDir) -> None:
    src = tmp_path / "bad.csv"
    src.write_bytes(
        b"question,reference_answer\n"
        + QUESTIONS[0].encode()
        + b',1\n"na\xefve\nsecond line",2\n'
        + QUESTIONS[1].encode()
        + b",3\n"
    )
    with pytest.raises(BadRowsError, match=rf"{src}:3: invalid UTF-8"):
        ingest(run_dir, IngestConfig(**FAST), sources=[str(src)], force=True)
    result = ingest(run_dir, IngestConfig(skip_bad=True, **FAST), sources=[str(src)], force=True)
    assert result.kept == 2 and list(read_questions(run_dir)["source_row"]) == [2, 5]


def test_skip_bad_keeps_good_rows_and_writes_rejected(tmp_path: Path, run_dir: RunDir) -> None:
    src = write_mixed(tmp_path / "mixed.jsonl")
    result = ingest(
        run_dir, IngestConfig(max_question_chars=500, skip_bad=True, **FAST), sources=[str(src)], force=True
    )
    assert (result.read, result.kept, result.rejected) == (len(BAD_LINES) + 2, 2, len(BAD_LINES))
    rejected = pq.read_table(run_dir.rejected).to_pandas()
    assert set(rejected["kind"]) == {"invalid"}
    assert list(rejected["source_row"]) == list(range(3, 3 + len(BAD_LINES)))
    assert [r.split(" (")[0] for r in rejected["reason"]] == [r.split(" (")[0] for _, r in BAD_LINES]
    assert_accounted(run_dir, result)


def test_error_lists_at_most_50_rows_but_keeps_them_all(tmp_path: Path, run_dir: RunDir) -> None:
    src = write_jsonl(tmp_path / "many.jsonl", [{"question": ""}] * 60)
    with pytest.raises(BadRowsError) as err:
        ingest(run_dir, IngestConfig(**FAST), sources=[str(src)], force=True)
    assert "... and 10 more" in str(err.value) and f"{src}:50:" in str(err.value)
    assert len(err.value.bad_rows) == 60


# ---- outputs and CLI ------------------------------------------------------------------------------------
def test_outputs_read_with_pandas_duckdb_and_datasets(tmp_path: Path, run_dir: RunDir) -> None:
    import datasets
    import duckdb

    src = write_jsonl(tmp_path / "nr.jsonl", [nr_row(0), nr_row(1), nr_row(0), {"question": ""}])
    ingest(run_dir, IngestConfig(skip_bad=True, **FAST), sources=[str(src)], force=True)
    assert len(pd.read_parquet(run_dir.questions)) == 2
    assert duckdb.sql(f"select count(*) from '{run_dir.rejected}' where kind = 'duplicate'").fetchall() == [(1,)]
    loaded = datasets.load_dataset("parquet", data_files=str(run_dir.questions), split="train")
    assert loaded.num_rows == 2 and loaded[0]["id"] == expected_id(QUESTIONS[0])


def test_cli_success_prints_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_jsonl(tmp_path / "nr.jsonl", [nr_row(0), nr_row(0), nr_row(2)])
    main(["ingest", str(src), "--run", str(tmp_path / "run"), "--decontaminate", "none", "--no-near-dup"])
    out = capsys.readouterr().out
    assert "read" in out and "duplicates (exact)" in out and "rejected.parquet" in out
    assert len(pd.read_parquet(tmp_path / "run" / "questions.parquet")) == 2


def test_cli_bad_rows_exit_non_zero_listing_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_jsonl(tmp_path / "bad.jsonl", [nr_row(0), "{oops", {"question": ""}])
    with pytest.raises(SystemExit) as exit_info:
        main(["ingest", str(src), "--run", str(tmp_path / "run"), "--decontaminate", "none"])
    assert exit_info.value.code == 4
    err = " ".join(capsys.readouterr().err.split())
    assert f"{src}:2: not JSON" in err and f"{src}:3: empty question" in err and "--skip-bad" in err
    main(
        [
            "ingest",
            str(src),
            "--run",
            str(tmp_path / "run"),
            "--decontaminate",
            "none",
            "--skip-bad",
            "--question-col",
            "question",
        ]
    )
    assert len(pd.read_parquet(tmp_path / "run" / "rejected.parquet")) == 2


def test_decontaminate_option_parsing() -> None:
    assert IngestConfig(decontaminate="none").decontaminate == []
    config = IngestConfig(decontaminate="gsm8k, mmlu_pro=data/pro.parquet,supergpqa=hf:m-a-p/SuperGPQA")
    assert config.benchmark_sources() == {
        "gsm8k": None,
        "mmlu_pro": "data/pro.parquet",
        "supergpqa": "hf:m-a-p/SuperGPQA",
    }
    assert IngestConfig().benchmark_sources() == dict.fromkeys(["gpqa_diamond", "mmlu", "gsm8k", "aime2025", "math500"])
