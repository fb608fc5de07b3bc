"""`nt annotate` end to end through the CLI entry point (real files, no LLM)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from naturalthoughts.rundir import RunDir
from nt_cli import nt
from test_annotate_support import make_run

REASONING = "Wait, that's wrong. Let me verify: 6 * 7 = 42. Alternatively, suppose we add 40 and 2."


def test_cli_annotates_and_prints_summary(run_dir: RunDir, capsys: pytest.CaptureFixture[str]) -> None:
    make_run(
        run_dir,
        [
            {"question": "6 times 7?", "reasoning": REASONING, "answer": "\\boxed{42}", "reference_answer": "42"},
            {"question": "Capital of France?", "reasoning": "Paris.", "answer": "Paris", "reference_answer": None},
        ],
    )
    code = nt(
        "annotate", "--run", str(run_dir.root), "--only", "length,strategies,correctness", "--tokenizer", "approx", "-q"
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "annotate: 2 traces" in out and "bad model replies: 0" in out
    rows = pq.read_table(run_dir.annotations).to_pylist()
    assert rows[0]["strategies"] == [
        "self_verification",
        "backtracking",
        "exploring_alternatives",
        "hypothesis_testing",
    ]
    assert rows[0]["correct"] is True and rows[0]["correct_method"] == "number"
    assert rows[1]["correct"] is None


def test_cli_missing_traces_names_generate(run_dir: RunDir, capsys: pytest.CaptureFixture[str]) -> None:
    code = nt("annotate", "--run", str(run_dir.root), "--only", "length")
    assert code == 3
    assert "nt generate" in capsys.readouterr().err


def test_cli_config_file_and_unknown_key(run_dir: RunDir, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    make_run(run_dir, [{"question": "q?", "reasoning": REASONING, "answer": "a"}])
    good = tmp_path / "good.yaml"
    good.write_text("annotate:\n  annotators: [length, verbosity]\n  length:\n    tokenizer: approx\n")
    assert nt("annotate", "--run", str(run_dir.root), "-c", str(good), "-q") == 0
    (row,) = pq.read_table(run_dir.annotations).to_pylist()
    assert row["tokenizer"] == "approx:chars/4" and row["verbosity_method"] == "proxy:trigram-repetition"
    assert row["strategies"] is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("annotate:\n  lenght: {}\n")
    assert nt("annotate", "--run", str(run_dir.root), "-c", str(bad)) == 2
    assert "unknown key 'lenght'" in capsys.readouterr().err


def test_cli_compare(run_dir: RunDir, capsys: pytest.CaptureFixture[str]) -> None:
    make_run(
        run_dir, [{"question": f"q{i}", "reasoning": REASONING if i else "plain", "answer": "a"} for i in range(3)]
    )
    assert nt("annotate", "--run", str(run_dir.root), "--compare", "lexical,lexical", "--tokenizer", "approx") == 0
    out = capsys.readouterr().out
    assert "lexical vs lexical" in out and "backtracking" in out and "1.00" in out
    assert not run_dir.annotations.exists()  # --compare writes no annotations
    assert nt("annotate", "--run", str(run_dir.root), "--compare", "lexical") == 2
