"""nt report without a browser: sections from whatever tables exist, escaping, the stage contract, the CLI.

The run directories are written in the real table schemas (naturalthoughts.report.synthetic); what the page does
in a browser is tested in test_report_browser.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from naturalthoughts.cli import main
from naturalthoughts.errors import MissingInputError
from naturalthoughts.manifest import Manifest, new_record_id, now
from naturalthoughts.progress import quiet_reporter
from naturalthoughts.report import ReportConfig, ReportStage, build_report
from naturalthoughts.report.html import script_json
from naturalthoughts.report.ledger import ledger_rows
from naturalthoughts.report.synthetic import HOSTILE, write_synthetic_run
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    return write_synthetic_run(tmp_path / "run", n=120)


def run_report(run: RunDir, config: ReportConfig | None = None):
    with Runner(run, reporter=quiet_reporter()) as runner:
        return runner.run_stage(ReportStage(config or ReportConfig()))


def test_script_json_cannot_close_a_script_element() -> None:
    hostile = {"q": HOSTILE[0], "r": HOSTILE[1], "s": HOSTILE[2], "nan": float("nan")}
    text = script_json(hostile)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {**hostile, "nan": None}


def test_report_builds_every_section_from_the_tables(run: RunDir) -> None:
    outcome = run_report(run)
    assert outcome.status == "done"
    info = outcome.value
    assert info["section_errors"] == {} and info["traces"] == 120
    assert set(info["not_run"]) == {"sft", "training", "evaluation", "study"}
    html = run.report.read_text(encoding="utf-8")
    for section in ("pool", "selections", "traces", "ledger", "provenance"):
        assert f'<section id="{section}">' in html
    assert html.count("<svg") >= 8
    record = Manifest(run.manifest).latest("report", ("done",))
    assert record["counts"]["traces"] == 120 and record["outputs"]["report.html"]["bytes"] == len(html.encode())


def test_data_is_escaped_in_the_static_page(run: RunDir) -> None:
    # A selection whose recorded expression is HTML: the static tables must show it as text.
    Manifest(run.manifest).put({"id": new_record_id(), "stage": "select:random-30", "status": "done",
                                "started_at": now(), "finished_at": now(), "usage": {},
                                "config": {"expression": "<script>window.__pwned=1</script>"}})  # fmt: skip
    run_report(run)
    html = run.report.read_text(encoding="utf-8")
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S)
    assert not any("__pwned" in s and "\\u003c" not in s for s in scripts)  # in data only as escaped JSON
    assert "window.__pwned = 1</script>" not in html


def test_page_references_nothing_outside_the_run_directory(run: RunDir) -> None:
    run_report(run, ReportConfig(inline_limit_mb=0))
    html = run.report.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html and "url(http" not in html
    assert "default-src 'none'" in html  # and the page forbids fetches besides
    data = run.root / "report_data"
    assert len(list(data.glob("t-*.js"))) >= 1 and len(list(data.glob("p-*.js"))) >= 1


def test_rerun_is_up_to_date_until_an_input_changes(run: RunDir) -> None:
    assert run_report(run).status == "done"
    again = run_report(run)
    assert again.status == "up-to-date"
    from naturalthoughts.report.synthetic import write_selection

    write_selection(run, "first-10", list(range(10)))
    third = run_report(run)
    assert third.status == "done" and "selections/first-10.parquet" in third.reason
    assert "first-10" in run.report.read_text(encoding="utf-8")


def test_same_inputs_give_the_same_page(run: RunDir) -> None:
    build_report(run)
    first = run.report.read_bytes()
    build_report(run)
    assert run.report.read_bytes() == first


def test_a_broken_table_shows_its_error_and_the_rest_still_builds(run: RunDir) -> None:
    run.selection("broken").write_bytes(b"this is not parquet")
    outcome = run_report(run)
    errors = outcome.value["section_errors"]
    assert set(errors) == {"selections"} and "broken" in errors["selections"]
    html = run.report.read_text(encoding="utf-8")
    assert "this section could not be built" in html and '<section id="pool">' in html
    assert outcome.record["section_errors"] == errors  # and the manifest says so


def test_report_before_any_trace_says_what_to_run(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", n=20)
    for table in (run.traces, run.annotations):
        table.unlink()
    for path in run.selections_dir.glob("*.parquet"):
        path.unlink()
    info = run_report(run).value
    assert info["section_errors"] == {} and "traces" in info["not_run"] and "pool" in info["not_run"]
    assert "nt generate --run" in run.report.read_text(encoding="utf-8")


def test_report_of_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match="not a run directory"):
        run_report(RunDir(tmp_path / "nothing"))


def test_ledger_adds_up_every_attempt() -> None:
    usage = {"requests_sent": 10, "cache_hits": 0, "errors": 1, "prompt_tokens": 100, "completion_tokens": 1000,
             "cost_usd": 0.5, "seconds": 60}  # fmt: skip
    stages = {"generate": [{"status": "interrupted", "seconds": 60, "usage": usage},
                           {"status": "done", "seconds": 30, "usage": {**usage, "cache_hits": 10}}]}  # fmt: skip
    (row,) = ledger_rows(stages)
    assert row["status"] == "done" and row["runs"] == 2 and row["seconds"] == 90
    assert row["completion_tokens"] == 2000 and row["cost_usd"] == 1.0 and row["cache_hits"] == 10


def test_nt_report_command(run: RunDir, capsys: pytest.CaptureFixture[str]) -> None:
    main(["report", "--run", str(run.root), "--quiet", "--title", "My <run>"])
    out = capsys.readouterr().out
    assert "report.html" in out and "120 traces" in out
    assert "<title>My &lt;run&gt;</title>" in run.report.read_text(encoding="utf-8")
    main(["report", "--run", str(run.root), "--quiet", "--title", "My <run>"])
    assert "up to date" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--run", str(run.root / "missing"), "--quiet"])
    assert exit_info.value.code == 3


def test_stale_annotations_are_flagged_with_the_refresh_command(run: RunDir) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    traces = pq.read_table(run.traces)  # regenerated traces: the same ids, other responses
    column = traces.schema.get_field_index("response_hash")
    pq.write_table(traces.set_column(column, "response_hash", pa.array(["new"] * traces.num_rows)), run.traces)
    build_report(run)
    html = run.report.read_text(encoding="utf-8")
    assert "computed from older traces" in html and f"nt annotate --run {run.root} --only" in html
