"""The report's evaluation section and the trace browser's evaluation records, from the real eval stage (the tiny
Llama on the transformers engine, GSM8K and open-ended questions taken from the run's own pool)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from naturalthoughts.eval.config import EvalConfig
from naturalthoughts.eval.stage import EvalStage
from naturalthoughts.progress import quiet_reporter
from naturalthoughts.report import ReportStage
from naturalthoughts.report.synthetic import write_synthetic_run
from naturalthoughts.runner import Runner
from test_report_browser import CHROMIUM, OFFLINE_FLAGS, open_report


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)")
def test_evaluation_table_plot_and_records_of_pool_questions(tmp_path: Path, tiny_llama_dir: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", n=30, text_words=8)
    questions = pq.read_table(run.questions)
    held_out = tmp_path / "held-out.parquet"  # pool questions with a reference, as an open-ended benchmark
    pq.write_table(questions.filter(pc.is_valid(questions["reference_answer"])), held_out)
    engine = {"engine": "transformers", "model": str(tiny_llama_dir), "dtype": "float32", "batch_size": 8}
    config = EvalConfig(engine=engine, judge=engine, benchmarks=["gsm8k", "open_ended"],
                        sources={"open_ended": str(held_out)}, limit=4, max_tokens=8, modes=["think", "no-think"],
                        judge_max_tokens=12)  # fmt: skip
    with Runner(run, reporter=quiet_reporter()) as runner:
        runner.run_stage(EvalStage(config, model_name="tiny"))
        outcome = runner.run_stage(ReportStage())
    assert outcome.value["section_errors"] == {} and "evaluation" not in outcome.value["not_run"]
    html = run.report.read_text(encoding="utf-8")
    section = html[html.index('<section id="evaluation">') :]
    section = section[: section.index("</section>")]
    assert section.count("<svg") == 2 and "gsm8k: accuracy against mean tokens" in section
    summary = [r for r in pq.read_table(run.eval_dir / "tiny" / "summary.parquet").to_pylist() if not r["subset"]]
    assert section.count("<tr><td>tiny</td>") == len(summary) == 4

    samples = pq.read_table(run.eval_dir / "tiny" / "samples.parquet").to_pylist()
    evaluated = {r["item_id"] for r in samples if r["benchmark"] == "open_ended"}
    question_ids = pq.read_table(run.traces)["question_id"].to_pylist()
    rows = [i for i, q in enumerate(question_ids) if q in evaluated]
    assert rows
    expected = [r for r in samples if r["item_id"] == question_ids[rows[0]]]
    assert len(expected) == 2  # one sample in each mode
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=OFFLINE_FLAGS)
        opened = open_report(browser, run.report)
        opened.page.locator("#tb-rows tr").nth(rows[0]).click()
        opened.page.wait_for_selector("#tb-detail table")
        records = opened.page.eval_on_selector_all("#tb-detail table tr", "r => r.map(e => e.textContent)")
        assert len(records) == 1 + len(expected)  # the header and one line per record
        assert sorted(line.split("open_ended")[0] for line in records[1:]) == ["tinyno-think", "tinythink"]
        assert opened.problems() == []
        browser.close()
