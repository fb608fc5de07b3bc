"""Benchmark loaders read the installed data packages (and files in the real Hub schema)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts import benchmarks
from naturalthoughts.benchmarks import BenchmarkUnavailable
from naturalthoughts.benchmarks.math500.loader import last_boxed
from naturalthoughts.errors import ConfigError, OfflineError


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("gpqa_diamond", 198),
        ("gsm8k", 1319),
        ("aime2025", 30),
        ("mmlu", 14042),
        ("math500", 500),
        ("arc_challenge", 1172),
        ("medqa", 1273),
    ],
)
def test_bundled_loaders_return_the_official_counts(name: str, count: int) -> None:
    items = benchmarks.load(name)
    assert len(items) == count == benchmarks.REGISTRY[name].expected
    assert len({item.id for item in items}) == count, "item ids are unique"
    assert all(item.question and item.answer and item.benchmark == name for item in items)
    if items[0].choices is not None:
        assert all(item.answer_text in item.choices for item in items)


def test_decontamination_defaults_are_bundled_benchmarks() -> None:
    from naturalthoughts.ingest.config import DEFAULT_DECONTAMINATE

    assert set(DEFAULT_DECONTAMINATE) <= set(benchmarks.BUNDLED)
    assert {"gpqa_diamond", "math500"} <= set(DEFAULT_DECONTAMINATE), "the paper's bundled benchmarks"


def test_item_contents_are_parsed() -> None:
    gsm8k = benchmarks.load("gsm8k")
    assert gsm8k[0].id == "test-0" and gsm8k[0].answer == "18" and "Janet" in gsm8k[0].question
    aime = benchmarks.load("aime2025")
    assert aime[0].ref == "aime2025:2025-I-1" and aime[0].answer == "70"
    assert all(item.answer.isdigit() for item in aime)
    mmlu = benchmarks.load("mmlu")
    assert all(item.answer in "ABCD" and len(item.choices) == 4 for item in mmlu)
    assert not any(item.question == "question" for item in mmlu), "stray CSV header rows are dropped"
    gpqa = benchmarks.load("gpqa_diamond")
    assert {item.answer for item in gpqa} == set("ABCD"), "options are shuffled so the answer is not always A"
    assert benchmarks.load("gpqa_diamond")[5].choices == gpqa[5].choices, "the shuffle is stable"
    math = benchmarks.load("math500")
    assert math[0].answer == r"\left( 3, \frac{\pi}{2} \right)"  # the package's stored field says \le(3,...
    assert {item.metadata["level"] for item in math} == {1, 2, 3, 4, 5}
    assert benchmarks.get("math500").subset(math[0]) == f"level {math[0].metadata['level']}"
    arc = benchmarks.load("arc_challenge")
    assert arc[0].ref == "arc_challenge:Mercury_7175875" and arc[0].answer == "C"
    assert arc[0].question.startswith("An astronomer observes") and not arc[0].question.endswith("Answer:")
    assert {len(item.choices) for item in arc} == {3, 4, 5} and {item.answer for item in arc} == set("ABCD")
    medqa = benchmarks.load("medqa")
    assert medqa[0].answer_text == "Tell the attending that he cannot fail to disclose this mistake"
    assert {len(item.choices) for item in medqa} == {5} and medqa[0].metadata["step"] == "step1"


def test_last_boxed_balances_braces() -> None:
    assert last_boxed(r"so $\boxed{\frac{1}{2}}$ and then \boxed{x^{2}+1}.") == "x^{2}+1"
    assert last_boxed("no box") is None


MMLU_PRO_ROWS = [
    {
        "question_id": 70,
        "question": "Typical advertising regulatory bodies suggest, for example that adverts must "
        "not: encourage _________, cause unnecessary ________ or _____, and must not cause _______ offence.",
        "options": ["Safe practices, Fear, Jealousy, Trivial", "Unsafe practices, Distress, Fear, Serious"],
        "answer": "B",
        "answer_index": 1,
        "cot_content": "",
        "category": "business",
        "src": "ori_mmlu-business_ethics",
    },
    {
        "question_id": 71,
        "question": "Managers are entrusted to run the company in the best interest of ________.",
        "options": ["Shareholders", "Employees", "Customers"],
        "answer": "A",
        "answer_index": 0,
        "cot_content": "",
        "category": "business",
        "src": "ori_mmlu-business_ethics",
    },
]
SUPERGPQA_ROWS = [
    {
        "uuid": "3c2b1a",
        "question": "Which of the following is the correct order of the stages of mitosis in a eukaryotic cell?",
        "options": ["Prophase, metaphase, anaphase, telophase", "Metaphase, prophase"],
        "answer": "Prophase, metaphase, anaphase, telophase",
        "answer_letter": "A",
        "discipline": "Science",
        "field": "Biology",
        "subfield": "Cell Biology",
        "difficulty": "easy",
        "is_calculation": False,
    },
]


def _write(rows: list[dict], path: Path) -> Path:
    if path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_mmlu_pro_and_supergpqa_load_files_in_the_hub_schema(tmp_path: Path, suffix: str) -> None:
    pro = benchmarks.load("mmlu_pro", str(_write(MMLU_PRO_ROWS, tmp_path / f"pro{suffix}")))
    assert [item.id for item in pro] == ["70", "71"]
    assert pro[0].answer == "B" and pro[0].answer_text.startswith("Unsafe practices")
    assert pro[0].metadata["category"] == "business"
    sgpqa = benchmarks.load("supergpqa", str(_write(SUPERGPQA_ROWS, tmp_path / f"sg{suffix}")))
    assert sgpqa[0].ref == "supergpqa:3c2b1a" and sgpqa[0].answer == "A"
    assert sgpqa[0].answer_text == SUPERGPQA_ROWS[0]["answer"]
    assert sgpqa[0].metadata["field"] == "Biology"


def test_file_backed_benchmarks_explain_what_to_pass() -> None:
    with pytest.raises(BenchmarkUnavailable, match="mmlu_pro=hf:TIGER-Lab/MMLU-Pro"):
        benchmarks.load("mmlu_pro")
    with pytest.raises(OfflineError, match="offline"):
        benchmarks.load("supergpqa", "hf:m-a-p/SuperGPQA")
    with pytest.raises(ConfigError, match="unknown benchmark 'mmlu-pro'"):
        benchmarks.load("mmlu-pro")
    with pytest.raises(ConfigError, match="takes no file"):
        benchmarks.load("gsm8k", "my_gsm8k.jsonl")


def test_math500_also_loads_a_file_in_the_hub_schema(tmp_path: Path) -> None:
    row = {
        "problem": "What is $1+1$?",
        "solution": "We add: $1+1=\\boxed{2}$.",
        "answer": "2",
        "subject": "Prealgebra",
        "level": 1,
        "unique_id": "test/prealgebra/1.json",
    }
    items = benchmarks.load("math500", str(_write([row], tmp_path / "math500.jsonl")))
    assert items[0].ref == "math500:test/prealgebra/1.json" and items[0].answer == "2"
    assert items[0].metadata["subject"] == "Prealgebra"


def test_file_backed_loaders_name_the_bad_row(tmp_path: Path) -> None:
    from naturalthoughts.errors import BadInputError

    broken = dict(MMLU_PRO_ROWS[0])
    del broken["options"]
    with pytest.raises(BadInputError, match="row 2 has no 'options'"):
        benchmarks.load("mmlu_pro", str(_write([MMLU_PRO_ROWS[1], broken], tmp_path / "pro.jsonl")))
    wrong = {**SUPERGPQA_ROWS[0], "answer_letter": "F"}
    with pytest.raises(BadInputError, match="answer_letter 'F' is not one of its 2 options"):
        benchmarks.load("supergpqa", str(_write([wrong], tmp_path / "sg.jsonl")))


def test_mmlu_pro_drops_na_options_and_keeps_the_gold_by_index(tmp_path: Path) -> None:
    row = {**MMLU_PRO_ROWS[0], "options": ["N/A", "first", "N/A", "second"], "answer": "D", "answer_index": 3}
    [item] = benchmarks.load("mmlu_pro", str(_write([row], tmp_path / "pro.jsonl")))
    assert item.choices == ("first", "second") and item.answer == "B" and item.answer_text == "second"
