"""Ingest on the inputs users really have: byte order marks, missing or mistyped columns, empty pools, the raw text of
rejected lines, truncated files, re-ingesting into a run with traces; and the same errors through the real CLI."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts.errors import BadInputError, Fix
from naturalthoughts.ingest import BadRowsError, ColumnMap, IngestConfig, ingest
from naturalthoughts.manifest import Manifest, fingerprint
from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import TRACES
from test_ingest import FAST, QUESTIONS, nr_row, write_jsonl
from test_select_pools import nt

BOM = b"\xef\xbb\xbf"


def write_csv(path: Path, header: list[str], rows: list[list[str]], bom: bool = False) -> Path:
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def kept_questions(run: RunDir) -> list[str]:
    return pq.read_table(run.questions)["question"].to_pylist()


# ---- byte order marks --------------------------------------------------------------------------------------------


def test_a_utf8_byte_order_mark_is_read_in_csv_jsonl_and_json(tmp_path: Path, run_dir: RunDir) -> None:
    csv_file = write_csv(tmp_path / "excel.csv", ["question", "reference_answer"], [[QUESTIONS[0], "80"]], bom=True)
    assert csv_file.read_bytes().startswith(BOM)
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(BOM + (json.dumps(nr_row(1)) + "\n" + json.dumps(nr_row(2)) + "\n").encode())
    document = tmp_path / "bom.json"
    document.write_bytes(BOM + json.dumps([nr_row(3)]).encode())
    result = ingest(run_dir, IngestConfig(**FAST), sources=[str(csv_file), str(jsonl), str(document)], force=True)
    assert result.kept == 4 and result.rejected == 0
    assert kept_questions(run_dir) == QUESTIONS[:4]
    assert pq.read_table(run_dir.questions)["reference_answer"].to_pylist()[0] == "80"


# ---- missing and mistyped columns --------------------------------------------------------------------------------


def test_a_missing_question_column_lists_the_columns_found(tmp_path: Path, run_dir: RunDir) -> None:
    src = write_csv(tmp_path / "prompts.csv", ["prompt", "gold"], [[QUESTIONS[0], "1"]])
    with pytest.raises(
        BadInputError, match=r"prompts.csv: no column 'question' \(columns: prompt, gold\).*question_col"
    ):
        ingest(run_dir, IngestConfig(**FAST), sources=[str(src)], force=True)
    src = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": QUESTIONS[0], "gold": "1"}] * 2)
    with pytest.raises(BadInputError, match=r"prompts.jsonl: no column 'question' \(columns: prompt, gold\)"):
        ingest(run_dir, IngestConfig(**FAST), sources=[str(src)], force=True)
    # some rows have it: each row without it says which fields it has
    src = write_jsonl(tmp_path / "mixed.jsonl", [nr_row(0), {"Question": QUESTIONS[1]}])
    with pytest.raises(
        BadRowsError, match=r"mixed.jsonl:2: missing question \(no 'question' field; fields: Question\)"
    ):
        ingest(run_dir, IngestConfig(**FAST), sources=[str(src)], force=True)


@pytest.mark.parametrize("kind", ["csv", "jsonl", "json", "parquet"])
def test_a_mapped_column_that_does_not_exist_is_named(tmp_path: Path, run_dir: RunDir, kind: str) -> None:
    rows = [{"question": QUESTIONS[i], "reference_answer": str(i)} for i in range(3)]
    src = tmp_path / f"pool.{kind}"
    if kind == "csv":
        write_csv(src, ["question", "reference_answer"], [list(r.values()) for r in rows])
    elif kind == "jsonl":
        write_jsonl(src, rows)
    elif kind == "json":
        src.write_text(json.dumps(rows), encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist(rows), src)
    mistyped = IngestConfig(columns=ColumnMap(answer="refrence_answer"), **FAST)
    with pytest.raises(BadInputError) as err:
        ingest(run_dir, mistyped, sources=[str(src)], force=True)
    message = str(err.value)
    assert f"{src}: no column 'refrence_answer'" in message and "columns.answer" in message
    assert "columns: question, reference_answer" in message
    assert not run_dir.questions.exists()
    # the defaults name columns a source may lack (no other model's answer, no domain): not an error
    assert ingest(run_dir, IngestConfig(**FAST), sources=[str(src)], force=True).kept == 3


# ---- empty pools ------------------------------------------------------------------------------------------------


def test_an_empty_pool_is_an_error_unless_allowed(tmp_path: Path, run_dir: RunDir) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    for sources in ([str(empty)], ["reasoning-gym:basic_arithmetic:0"]):
        with pytest.raises(BadInputError, match=r"no rows to ingest.*allow_empty"):
            ingest(run_dir, IngestConfig(**FAST), sources=sources, force=True)
        assert not run_dir.questions.exists()
    result = ingest(run_dir, IngestConfig(allow_empty=True, **FAST), sources=[str(empty)], force=True)
    assert result.kept == 0 and pq.read_metadata(run_dir.questions).num_rows == 0

    every_row_bad = write_jsonl(tmp_path / "bad.jsonl", [{"question": ""}, "not json"])
    run = RunDir(tmp_path / "other")
    with pytest.raises(BadInputError) as err:
        ingest(run, IngestConfig(skip_bad=True, **FAST), sources=[str(every_row_bad)], force=True)
    message = str(err.value)
    assert "no question is left of 2 rows read (rejected 2)" in message and err.value.fix == Fix("", allow_empty=True)
    assert f"{every_row_bad}:1: empty question" in message and f"{every_row_bad}:2: not JSON" in message
    assert not run.questions.exists()


# ---- the raw text of rejected rows --------------------------------------------------------------------------------


def test_rejected_rows_keep_their_raw_text(tmp_path: Path, run_dir: RunDir) -> None:
    lines = [
        json.dumps(nr_row(0)).encode(),
        b'{"Question": "capitalised key"}',
        b"{oops",
        b'{"question": "caf\xe9"}',
        json.dumps(nr_row(0)).encode(),  # a duplicate: its question is already in the question column
    ]
    jsonl = tmp_path / "lines.jsonl"
    jsonl.write_bytes(b"\n".join(lines) + b"\n")
    ingest(run_dir, IngestConfig(skip_bad=True, **FAST), sources=[str(jsonl)], force=True)
    rejected = pq.read_table(run_dir.rejected).to_pylist()
    raw = {row["source_row"]: row["raw"] for row in rejected}
    assert raw == {2: '{"Question": "capitalised key"}', 3: "{oops", 4: '{"question": "caf\\xe9"}', 5: None}
    assert [row["kind"] for row in rejected] == ["invalid", "invalid", "invalid", "duplicate"]

    table = write_csv(tmp_path / "rows.csv", ["question", "reference_answer"], [[QUESTIONS[1], "1"], ["  ", "2"]])
    pq.write_table(pa.table({"question": [QUESTIONS[2], None], "reference_answer": ["3", "4"]}), tmp_path / "p.parquet")
    other = RunDir(tmp_path / "other")
    ingest(other, IngestConfig(skip_bad=True, **FAST), sources=[str(table), str(tmp_path / "p.parquet")], force=True)
    rejected = pq.read_table(other.rejected).to_pylist()
    assert [(row["reason"], row["raw"]) for row in rejected] == [
        ("empty question", "  ,2"),  # the line as written
        ("missing question (null)", '{"question": null, "reference_answer": "4"}'),
    ]


# ---- unreadable files ---------------------------------------------------------------------------------------------


def test_truncated_or_empty_files_are_bad_input_naming_the_file(tmp_path: Path, run_dir: RunDir) -> None:
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"question": QUESTIONS * 200}), good)
    truncated, empty = tmp_path / "truncated.parquet", tmp_path / "empty.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    empty.write_bytes(b"")
    zipped = tmp_path / "cut.jsonl.gz"
    zipped.write_bytes(gzip.compress(b"\n".join(json.dumps(nr_row(i % 5)).encode() for i in range(2000)))[:300])
    for path in (truncated, empty, zipped):
        with pytest.raises(BadInputError) as err:
            ingest(run_dir, IngestConfig(**FAST), sources=[str(path)], force=True)
        assert str(err.value).startswith(f"{path}: "), err.value
        assert "truncated" in str(err.value)


# ---- re-ingesting ---------------------------------------------------------------------------------------------


def test_reingesting_into_a_run_with_traces_says_so_and_the_manifest_sees_new_questions(
    tmp_path: Path, run_dir: RunDir, capfd: pytest.CaptureFixture[str]
) -> None:
    first = ingest(
        run_dir,
        IngestConfig(**FAST),
        sources=[str(write_jsonl(tmp_path / "a.jsonl", [nr_row(0), nr_row(1)]))],
        force=True,
    )
    written = Manifest(run_dir.manifest).latest("ingest")["outputs"]["questions.parquet"]["sha256"]
    assert written == fingerprint(run_dir.questions)["sha256"]
    ids = pq.read_table(run_dir.questions)["id"].to_pylist()
    traces = {"trace_id": [f"t{i}" for i in ids], "question_id": ids, "sample": [0, 0]}
    pq.write_table(pa.Table.from_pydict(traces, schema=pa.schema([TRACES.field(k) for k in traces])), run_dir.traces)
    assert first.kept == 2

    ingest(
        run_dir,
        IngestConfig(**FAST),
        sources=[str(write_jsonl(tmp_path / "b.jsonl", [nr_row(1), nr_row(2)]))],
        force=True,
    )
    record = Manifest(run_dir.manifest).latest("ingest")
    assert record["outputs"]["questions.parquet"]["sha256"] != written  # what every later stage compares with
    assert record["traces_of_other_questions"] == 1  # question 0 has traces but is gone
    err = " ".join(capfd.readouterr().err.split())
    assert "holds traces of 1 question(s) that are no longer in questions.parquet" in err
    assert f"nt generate --run {run_dir.root}" in err


# ---- the CLI (a subprocess, as a user runs it) ------------------------------------------------------------------


@pytest.mark.slow
def test_cli_input_errors_name_the_culprit_without_a_traceback(tmp_path: Path) -> None:
    run = str(tmp_path / "run")
    fast = ["--decontaminate", "none", "--no-near-dup"]
    excel = write_csv(tmp_path / "excel.csv", ["question", "reference_answer"], [[QUESTIONS[0], "80"]], bom=True)
    ok = nt("ingest", str(excel), "--run", run, *fast)
    assert ok.returncode == 0, ok.stderr
    assert kept_questions(RunDir(run)) == [QUESTIONS[0]]

    mistyped = nt("ingest", str(excel), "--run", run, *fast, "--answer-col", "answr", "--force")
    assert mistyped.returncode == 4
    assert "no column 'answr'" in mistyped.stderr and "question, reference_answer" in mistyped.stderr

    empty = tmp_path / "empty.csv"
    empty.write_text("question\n", encoding="utf-8")
    nothing = nt("ingest", str(empty), "--run", str(tmp_path / "r2"), *fast)
    assert nothing.returncode == 4 and "--allow-empty" in nothing.stderr and "empty.csv" in nothing.stderr
    allowed = nt("ingest", str(empty), "--run", str(tmp_path / "r2"), *fast, "--allow-empty")
    assert allowed.returncode == 0, allowed.stderr

    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    unreadable = nt("ingest", str(broken), "--run", str(tmp_path / "r3"), *fast)
    assert unreadable.returncode == 4 and f"{broken}: not a readable Parquet file" in unreadable.stderr
    for result in (mistyped, nothing, unreadable):
        assert "Traceback" not in result.stderr + result.stdout
