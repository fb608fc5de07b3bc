"""The report in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright, offline flags).

Each test opens report.html from file://, records every console message, page error, failed request and request
URL, and checks what a person would: plots and tables drawn, filters that change what the trace browser shows
(against counts computed here from the Parquet tables), a trace read with its annotations, nothing escaping from
data into the page, and no error and no request leaving the run directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from naturalthoughts.progress import quiet_reporter
from naturalthoughts.report import ReportConfig, ReportStage
from naturalthoughts.report.synthetic import HOSTILE, write_synthetic_run
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner

CHROMIUM = Path("/usr/bin/chromium")
# The flags that keep Chromium off the (closed) network; Playwright adds --headless and a fresh --user-data-dir.
OFFLINE_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)")


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=OFFLINE_FLAGS)
        yield browser
        browser.close()


@dataclass
class Opened:
    page: object
    console: list[str] = field(default_factory=list)  # "type: text" of every console message
    errors: list[str] = field(default_factory=list)  # page errors and failed requests
    requests: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        bad = [m for m in self.console if m.split(":", 1)[0] in ("error", "warning")]
        return bad + self.errors + [u for u in self.requests if not u.startswith(("file://", "data:"))]


def open_report(browser: object, report: Path, width: int = 1400) -> Opened:
    page = browser.new_page(viewport={"width": width, "height": 1000})  # type: ignore[attr-defined]
    opened = Opened(page)
    page.on("console", lambda m: opened.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: opened.errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: opened.errors.append(f"request failed: {r.url} {r.failure}"))
    page.on("request", lambda r: opened.requests.append(r.url))
    page.goto(report.as_uri())
    page.wait_for_selector("body[data-browser-ready='1']", timeout=30_000)
    return opened


def build(run: RunDir, **config: object) -> dict:
    with Runner(run, reporter=quiet_reporter()) as runner:
        outcome = runner.run_stage(ReportStage(ReportConfig(**config)))
    assert outcome.status == "done"
    assert outcome.value["section_errors"] == {}
    return outcome.value


def count_text(opened: Opened) -> tuple[int, int]:
    text = opened.page.inner_text("#tb-count")  # type: ignore[attr-defined]
    shown, total = re.fullmatch(r"([\d,]+) of ([\d,]+) traces", text.strip()).groups()  # type: ignore[union-attr]
    return int(shown.replace(",", "")), int(total.replace(",", ""))


def choose(opened: Opened, select_id: str, label: str) -> None:
    opened.page.select_option(f"#{select_id}", label=label)  # type: ignore[attr-defined]


def domain_counts(run: RunDir) -> dict[str, int]:
    counts = pc.value_counts(pq.read_table(run.annotations, columns=["domain"])["domain"]).to_pylist()
    return {c["values"]: c["counts"] for c in counts}


def visible_column(opened: Opened, column: int) -> list[str]:
    return opened.page.eval_on_selector_all(  # type: ignore[attr-defined]
        "#tb-rows tr", f"rows => rows.map(r => r.children[{column}].textContent)"
    )


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    return write_synthetic_run(tmp_path_factory.mktemp("report") / "run", n=240)


def test_report_renders_filters_and_reads_a_trace(chromium: object, small_run: RunDir, tmp_path: Path) -> None:
    info = build(small_run)
    assert info["inline"] and info["side_files"] == 0  # a small run is one self-contained file
    opened = open_report(chromium, small_run.report)
    page = opened.page

    # Plots are drawn (inline SVG with a real size) in the pool, selection and ledger sections.
    for section, at_least in (("pool", 4), ("selections", 3), ("ledger", 1)):
        sizes = page.eval_on_selector_all(f"#{section} svg.plot", "s => s.map(e => e.getBoundingClientRect().width)")
        assert len(sizes) >= at_least and min(sizes) > 200, (section, sizes)
        assert page.locator(f"#{section} svg.plot text").count() > 5  # axis labels and titles are text
    # Tables: per-domain pool table, the compare table, the ledger with every stage of the manifest.
    assert page.locator("#pool table.domains tbody tr").count() == len(domain_counts(small_run))
    compare_rows = page.locator("#selections table.compare tbody tr").count()
    assert compare_rows > 10
    stages = page.eval_on_selector_all("#ledger table tbody tr td:first-child", "c => c.map(e => e.textContent)")
    assert {"ingest", "generate", "annotate", "select:random-60", "select:disagree-60", "total"} <= set(stages)
    assert page.locator("#sft .badge.not-run").count() == 1  # sections of stages that did not run say so

    # The trace browser: every trace, a page of them, and filters that change what is shown.
    assert count_text(opened) == (240, 240)
    assert page.locator("#tb-rows tr").count() == 50
    first_page = visible_column(opened, 0)
    page.click("#tb-next")
    assert visible_column(opened, 0) != first_page and visible_column(opened, 0)[0] == "51"
    law = domain_counts(small_run)["Law"]
    choose(opened, "f-domain", "Law")
    assert count_text(opened) == (law, 240)
    assert set(visible_column(opened, 2)) == {"Law"}
    selected = set(pq.read_table(small_run.selection("random-60"))["trace_id"].to_pylist())
    annotations = pq.read_table(small_run.annotations, columns=["trace_id", "domain", "correct"]).to_pylist()
    expected = sum(1 for a in annotations if a["domain"] == "Law" and a["trace_id"] in selected)
    choose(opened, "f-selection", "random-60")
    assert count_text(opened)[0] == expected
    choose(opened, "f-correct", "no")
    expected_wrong = sum(1 for a in annotations if a["domain"] == "Law" and a["trace_id"] in selected
                         and a["correct"] is False)  # fmt: skip
    assert count_text(opened)[0] == expected_wrong
    assert set(visible_column(opened, 5)) <= {"no"}
    page.click("#tb-reset")
    assert count_text(opened) == (240, 240)

    # Read one trace: the question that tries to inject a script is shown as text, with its annotations.
    page.locator("#tb-rows tr").first.click()
    page.wait_for_selector("#tb-detail h3")
    detail = page.text_content("#tb-detail")
    assert HOSTILE[0] in detail
    assert "models disagree" in detail and "strategy density" in detail and "Reasoning" in detail
    assert page.evaluate("window.__pwned") is None  # nothing from the data ran as script
    page.locator("#tb-rows tr").nth(1).click()
    page.wait_for_function("document.querySelector('#tb-detail').innerText.includes('onerror')")
    assert page.evaluate("window.__pwned") is None and page.locator("#tb-detail img").count() == 0

    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 50_000
    assert opened.problems() == []
    page.close()


def test_side_files_load_on_demand_over_file_url(chromium: object, small_run: RunDir, tmp_path: Path) -> None:
    info = build(small_run, inline_limit_mb=0, chunk_kb=16, preview_rows=64)  # force report_data/ chunks
    data = small_run.root / "report_data"
    assert not info["inline"] and info["side_files"] == len(list(data.glob("*.js"))) > 4
    assert 'id="nt-chunk-' not in small_run.report.read_text()
    opened = open_report(chromium, small_run.report)
    page = opened.page
    page.wait_for_function("!document.querySelector('#tb-rows td.question').textContent.startsWith('…')")
    assert HOSTILE[0][:40] in page.inner_text("#tb-rows tr:first-child td.question")
    choose(opened, "f-sort", "longest reasoning")
    page.locator("#tb-rows tr").first.click()
    page.wait_for_selector("#tb-detail h3")
    tokens = pq.read_table(small_run.annotations, columns=["trace_id", "reasoning_tokens"]).to_pylist()
    longest = max(tokens, key=lambda t: t["reasoning_tokens"])
    assert longest["trace_id"] in page.inner_text("#tb-detail h3")
    loaded = page.eval_on_selector_all("script[src]", "s => s.map(e => e.getAttribute('src'))")
    assert loaded and all(src.startswith("report_data/") for src in loaded)
    assert len(loaded) < info["side_files"]  # only the chunks on screen were loaded
    assert opened.problems() == []
    page.close()


@pytest.mark.slow
def test_100k_traces_page_is_bounded_and_usable(chromium: object, tmp_path: Path) -> None:
    n = 100_000
    run = write_synthetic_run(tmp_path / "big", n=n, text_words=30)
    info = build(run)
    assert not info["inline"]  # 100k trace texts do not go into the page
    html_bytes = run.report.stat().st_size
    assert html_bytes < 45 * n + 1_500_000, html_bytes  # the index: tens of bytes a trace, no texts
    assert html_bytes < 0.2 * info["side_bytes"]
    largest_chunk = max(p.stat().st_size for p in (run.root / "report_data").glob("t-*.js"))
    assert largest_chunk < 2 * ReportConfig().chunk_kb * 1024

    opened = open_report(chromium, run.report)
    page = opened.page
    assert count_text(opened) == (n, n)
    assert page.locator("#tb-rows tr").count() == 50  # only one page is ever in the DOM
    counts = domain_counts(run)
    domain = sorted(counts)[2]
    choose(opened, "f-domain", domain)
    assert count_text(opened) == (counts[domain], n)
    assert set(visible_column(opened, 2)) == {domain}
    pages = int(page.inner_text("#tb-page").split(" of ")[1])
    assert pages == -(-counts[domain] // 50)
    for _ in range(3):
        page.click("#tb-next")
    assert page.inner_text("#tb-page").startswith("page 4 of")
    row = int(visible_column(opened, 0)[-1]) - 1
    page.locator("#tb-rows tr").last.click()
    page.wait_for_selector("#tb-detail h3")
    trace_ids = pq.read_table(run.traces, columns=["trace_id"])["trace_id"]
    assert trace_ids[row].as_py() in page.inner_text("#tb-detail h3")
    assert page.locator("#tb-rows tr").count() == 50
    assert opened.problems() == []
    page.screenshot(path=str(tmp_path / "report-100k.png"))
    page.close()
