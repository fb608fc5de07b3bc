"""Progress measured in tokens: phases move the bar, the rate and ETA come from tokens, and a default generate's
log lines show non-zero progress and a finite ETA before its first trace is finished (read from the log output,
never from the clock)."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pyarrow as pa
import pytest
from rich.console import Console

from naturalthoughts.atomic import write_parquet
from naturalthoughts.progress import Reporter, generated
from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import QUESTIONS


def lines_reporter() -> tuple[Reporter, io.StringIO]:
    out = io.StringIO()
    return Reporter(Console(file=out, width=200), mode="lines", interval_s=0.0), out


def test_a_finished_phase_moves_the_bar_and_gives_a_rate_and_an_eta() -> None:
    reporter, out = lines_reporter()
    caps = {"reasoning": 128, "answer": 128}
    with reporter.task("generate", total=4, unit="traces", tokens_per_item=caps) as task:
        time.sleep(0.01)  # a rate needs a little elapsed time
        assert task.fraction == 0.0 and task.eta_s is None  # nothing done: no rate, no ETA
        task.phase("reasoning", 96)
        # The reasoning's mean (96) replaces its cap: 4 x (96 + 128) expected, 96 of it done.
        assert task.completed == 0 and task.fraction == pytest.approx(96 / 896)
        assert task.rate > 0 and task.eta_s is not None and task.eta_s > 0
        line = task.line()
        assert line.startswith("generate: 0/4 traces (10.7%)") and "reasoning 1/4" in line and "tok/s" in line
        assert "eta ?" not in line
        # The first whole trace: 128 tokens, 96 of them its reasoning (already counted): answers take 32.
        task.advance(1, tokens=128, earlier_phases=96)
        assert task.work is not None and task.work.item_tokens == 128 and task.work.generated == 128
        assert task.fraction == pytest.approx(0.25)
        # A cached trace is done work, but no tokens towards the rate.
        task.advance(1, tokens=128, earlier_phases=96, cached=True)
        assert task.work.generated == 128 and task.fraction == pytest.approx(0.5)
    assert "generate: 2/4 traces (50.0%)" in out.getvalue() and "done in" in out.getvalue()


def test_one_cap_for_items_of_several_phases() -> None:
    reporter, _ = lines_reporter()
    with reporter.task("eval", total=2, unit="samples", tokens_per_item=200) as task:
        task.phase("reasoning", 50)
        assert task.fraction == pytest.approx(50 / 400)
        task.advance(1, tokens=100, earlier_phases=50)  # the mean item is the whole sample: 100
        assert task.work is not None and task.work.item_tokens == 100 and task.fraction == pytest.approx(0.5)


def test_tokens_decoded_before_a_request_ends_count_towards_the_rate_and_the_work() -> None:
    reporter, _ = lines_reporter()
    with reporter.task("eval", total=2, unit="samples", tokens_per_item=100) as task:
        time.sleep(0.01)
        generated(50)  # a batch step of an in-process model: nothing has finished yet
        assert task.completed == 0 and task.rate > 0 and task.fraction == pytest.approx(0.25)
        task.advance(1, tokens=60)  # the request that decoded them ends: not counted twice
        assert task.work is not None and task.work.rate_tokens == 60
    generated(10)  # a closed task hears nothing more
    assert task.work.live == 50


def test_item_tasks_keep_their_rows_per_second() -> None:
    reporter, _ = lines_reporter()
    with reporter.task("ingest", total=10, unit="rows") as task:
        task.advance(5)
        assert task.fraction == 0.5 and "rows/s" in task.line() and "tok/s" not in task.line()


QUESTIONS_TEXT = ["Why is the sky blue?", "What is 17 times 3?", "Name a prime above 50.", "Why do cats purr?"]


@pytest.mark.slow
def test_default_generate_log_shows_progress_and_an_eta_before_any_trace_is_finished(tmp_path: Path) -> None:
    """The embedded default (thinking budget: a reasoning round, then an answer round): lines written during the
    reasoning round, before the first trace is finished, already show progress, tokens/s and a finite ETA."""
    from naturalthoughts.generate import GenerateConfig, GenerateStage
    from naturalthoughts.runner import Runner

    run = RunDir(tmp_path / "run").ensure()
    rows = [{"id": f"q{i}", "question": text, "source": "test"} for i, text in enumerate(QUESTIONS_TEXT * 2)]
    rows = [{**row, "id": f"q{i}", "question": f"{row['question']} (#{i})"} for i, row in enumerate(rows)]
    write_parquet(pa.Table.from_pylist(rows, schema=QUESTIONS), run.questions)
    reporter, out = lines_reporter()
    with Runner(run, reporter=reporter) as runner:
        runner.run_stage(GenerateStage(GenerateConfig()))
    progress = [line for line in out.getvalue().splitlines() if line.startswith("generate: ")]
    early = [line for line in progress if line.startswith("generate: 0/8 traces") and "reasoning" in line]
    assert early, progress
    first = re.match(r"generate: 0/8 traces \((\d+\.\d)%\) · reasoning (\d)/8 · (\d+) tok/s · eta (\S+)", early[0])
    assert first, early[0]
    percent, reasoned, rate, eta = float(first[1]), int(first[2]), int(first[3]), first[4]
    assert percent > 0 and reasoned >= 1 and rate > 0 and eta != "?", early[0]
    log = (run.root / "logs" / "nt.log").read_text()
    assert early[0] in log  # the same lines go to the run's log


def test_the_terminal_bar_shows_counts_phases_and_eta() -> None:
    out = io.StringIO()
    reporter = Reporter(Console(file=out, width=200, force_terminal=True), mode="bar")
    with reporter.task("generate", total=4, unit="traces", tokens_per_item={"reasoning": 128, "answer": 128}) as task:
        time.sleep(0.01)
        task.phase("reasoning", 100)
        task.advance(1, tokens=140, earlier_phases=100)
    drawn = out.getvalue()
    assert "1/4 traces (reasoning 1)" in drawn and "tok/s" in drawn and "eta" in drawn
