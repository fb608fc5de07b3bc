"""A selection made by hand, then left behind when the traces change (``nt run`` refreshes only its own).

The decision (README, "Errors and exit codes"): the report leaves such a selection out, with a warning naming the
exact command that makes it again (its recorded method, size, seed and name); a stage that reads it (``nt
sft-data --selection``) stops with exit 3 naming the same command. The command works as printed.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from naturalthoughts.atomic import write_parquet
from naturalthoughts.report.synthetic import write_synthetic_run
from naturalthoughts.rundir import RunDir
from nt_cli import nt


def change_traces(run: RunDir) -> None:
    """As a rerun of generate with other settings would: one trace gets another response."""
    table = pq.read_table(run.traces)
    answers = table["answer"].to_pylist()
    hashes = table["response_hash"].to_pylist()
    answers[0], hashes[0] = "A different answer.", "0" * 16
    table = table.set_column(table.schema.get_field_index("answer"), "answer", pc.cast(answers, table["answer"].type))
    table = table.set_column(table.schema.get_field_index("response_hash"), "response_hash", pc.cast(hashes, "string"))
    write_parquet(table, run.traces)


def test_a_stale_hand_made_selection_is_left_out_with_the_command_that_refreshes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_synthetic_run(tmp_path / "run", n=40)
    root = str(run.root)
    assert nt("select", "--run", root, "--method", "random", "--size", "5", "--seed", "3", "--name", "mine") == 0
    change_traces(run)
    capsys.readouterr()

    assert nt("report", "--run", root) == 0  # the report is built: a stale selection does not block it
    err = capsys.readouterr().err
    expected = shlex.join(["nt", "select", "--run", root, "--method", "random", "--size", "5", "--seed", "3",
                           "--name", "mine"])  # fmt: skip
    assert "selection mine was made from older traces: left out of the report" in err and expected in err, err
    page = run.report.read_text(encoding="utf-8")
    assert "Left out: selections made from older traces" in page

    # A stage that reads it stops with exit 3 and the same command...
    assert nt("sft-data", "--run", root, "--selection", "mine") == 3
    err = capsys.readouterr().err
    command = re.search(r"run `(nt select [^`]*)` first", err.replace("\n", " "))
    assert command is not None and command.group(1) == expected, err
    # ...which works as printed, and the refreshed selection is back in the report.
    assert nt(*shlex.split(command.group(1))[1:]) == 0
    assert nt("report", "--run", root) == 0
    assert "left out" not in capsys.readouterr().err
    assert "Left out: selections" not in run.report.read_text(encoding="utf-8")
