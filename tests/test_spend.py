"""The durable spend ledger against a counting local server: SIGKILLs at random moments never make a budget
forget what was sent, and the manifest, the ledger and the server agree on how many requests went out.

The server (``countingserver.py``) replies after a random delay with fixed token counts, so every request costs
exactly ``UNIT`` dollars at the prices below; what it *received* is what a provider would bill.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from countingserver import CountingServer
from naturalthoughts.atomic import write_parquet
from naturalthoughts.engines.cache import recorded_spend
from naturalthoughts.manifest import Manifest
from naturalthoughts.tables import QUESTIONS

NT = [sys.executable, "-m", "naturalthoughts"]
ENV = {**os.environ, "COLUMNS": "200", "NT_PROGRESS": "lines"}
CONCURRENCY = 4
UNIT = 0.01  # dollars per request: 20 prompt tokens at $250/M + 10 completion tokens at $500/M
BUDGET = 0.30  # 30 requests
QUESTION_COUNT = 80


@pytest.fixture
def server() -> Iterator[CountingServer]:
    with CountingServer(delay_s=(0.05, 0.4), prompt_tokens=20, completion_tokens=10) as counting:
        yield counting


def write_questions(run: Path, count: int) -> None:
    rows = [{"id": f"q{i:03d}", "question": f"What is {i} plus {i}?", "source": "test"} for i in range(count)]
    run.mkdir(parents=True, exist_ok=True)
    write_parquet(pa.Table.from_pylist(rows, schema=QUESTIONS), run / "questions.parquet")


def command(run: Path, server: CountingServer, *extra: str, budget: float = BUDGET) -> list[str]:
    return [*NT, "generate", "--run", str(run), "--base-url", server.base_url, "--model", "m",
            "--api-key-env", "NT_NO_KEY", "--prompt-template", "think-tags", "--max-tokens", "16",
            "--concurrency", str(CONCURRENCY), "--max-cost", str(budget), "--price-input", "250",
            "--price-output", "500", "-q", *extra]  # fmt: skip


def kill_at_a_random_moment(run: Path, server: CountingServer, rng: random.Random) -> bool:
    """Start generate, let requests flow, SIGKILL it after a random delay. False when it finished first."""
    before = server.received
    proc = subprocess.Popen(command(run, server), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.monotonic() + 120
    while server.received == before and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.8))
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return True


@pytest.mark.slow
def test_sigkills_at_random_moments_never_make_the_budget_forget(tmp_path: Path, server: CountingServer) -> None:
    run = tmp_path / "run"
    write_questions(run, QUESTION_COUNT)
    rng = random.Random(21)
    kills = 0
    for _ in range(5):
        kills += kill_at_a_random_moment(run, server, rng)
    assert kills >= 3, "the runs should have been cut short, not finished"

    # The rerun with the same budget counts everything the killed runs sent (in flight included) and stops.
    final = subprocess.run(command(run, server), capture_output=True, text=True, env=ENV, timeout=300)
    assert final.returncode == 6, final.stderr  # budget stop
    assert "earlier runs included" in final.stderr
    received = server.received
    again = subprocess.run(command(run, server), capture_output=True, text=True, env=ENV, timeout=300)
    assert again.returncode == 6 and server.received == received  # nothing more is sent once it is spent
    assert "budget: spent $0.3" in again.stdout, again.stdout  # spent vs budget, in the command's output

    spent = recorded_spend(run / "cache" / "responses.sqlite", scope="generate", whole_history=False)
    assert spent is not None
    # Never forgotten: every request the server received is on the ledger (the ledger may hold a request reserved
    # in the instant before a kill, that never reached the server: counted, conservatively, as spent).
    assert received <= spent.requests <= received + kills * CONCURRENCY, (received, spent)
    # The budget held: what the server billed is at most the budget, plus the requests in flight at the kills
    # (left reserved in the ledger), plus the ones in flight when the last run reached the budget.
    in_flight = spent.reserved + (CONCURRENCY - 1)
    assert received * UNIT <= BUDGET + in_flight * UNIT + 1e-9, (received, spent)
    # The manifest agrees with the ledger: killed runs got their usage from it when the next run found them.
    records = Manifest(run / "manifest.json").records("generate")
    assert sum(r["status"] == "killed" for r in records) >= kills - 1  # a kill before the record was written
    assert sum((r.get("usage") or {}).get("requests_sent", 0) for r in records) == spent.requests
    killed_in_flight = sum((r.get("usage") or {}).get("reserved_in_flight", 0) for r in records)
    assert killed_in_flight == spent.reserved
    # The report shows spent vs budget, from the ledger.
    report = subprocess.run([*NT, "report", "--run", str(run), "-q"], capture_output=True, text=True, env=ENV)
    assert report.returncode == 0, report.stderr
    page = (run / "report.html").read_text(encoding="utf-8")
    assert f"generate budget: spent ${spent.cost_usd:,.4f} of ${BUDGET:,.4f}" in page


@pytest.mark.slow
def test_an_uninterrupted_run_agrees_exactly_and_the_estimate_shows_spent_vs_budget(
    tmp_path: Path, server: CountingServer
) -> None:
    run = tmp_path / "run"
    write_questions(run, 12)
    estimate = subprocess.run(
        command(run, server, "--estimate", "--estimate-size", "2", budget=0.5),
        capture_output=True, text=True, env=ENV, timeout=300,
    )  # fmt: skip
    assert estimate.returncode == 0, estimate.stderr
    assert "spent so far (this budget)" in estimate.stdout and "$0.0200" in estimate.stdout, estimate.stdout
    assert "$0.0200 of $0.5000" in estimate.stdout, estimate.stdout
    done = subprocess.run(command(run, server, budget=0.5), capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "budget: spent $0.1200 of $0.5000 (12 requests, 2 of them by earlier runs)" in done.stdout, done.stdout
    ever = recorded_spend(run / "cache" / "responses.sqlite", scope="generate")
    assert ever is not None and ever.requests == server.received == 12 and ever.reserved == 0
    records = Manifest(run / "manifest.json").records("generate")
    sent = (
        records[-1]["usage"]["requests_sent"]
        + Manifest(run / "manifest.json").records("generate-estimate")[-1]["usage"]["requests_sent"]
    )
    assert sent == ever.requests == server.received
    assert abs(ever.cost_usd - 12 * UNIT) < 1e-9
    # The work finished: the budget counts afresh (a forced rerun is answered from the cache, for free).
    assert recorded_spend(run / "cache" / "responses.sqlite", scope="generate", whole_history=False) is None


def test_a_request_left_in_flight_is_priced_when_a_later_run_answers_it(tmp_path: Path) -> None:
    """In flight at a kill: counted at its worst case (so a rerun's budget stops early by up to max_tokens a
    request); once a later run answers the same request, at what that answer cost, in the same transaction, and
    the running ledger's carried spend drops by the difference. Real SQLite, the real recorder and ledger."""
    from naturalthoughts.engines import ChatRequest, ChatResult, ResponseCache, SamplingParams
    from naturalthoughts.engines.cached import SpendRecorder
    from naturalthoughts.generate.ledger import Ledger, Prices, Spend

    prices = Prices(250.0, 500.0)
    request = ChatRequest(messages=({"role": "user", "content": "x" * 79},), params=SamplingParams(max_tokens=1000))
    answer = ChatResult(text="4", prompt_tokens=20, completion_tokens=10)
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        killed = SpendRecorder(cache, "generate", "killed-run", prices.cost)
        killed.reserve("k1", request)  # in flight when its process died
        killed.reserve("k2", request)
        killed.reserve("k3", request)
        worst = cache.spent("generate")
        assert (worst.requests, worst.reserved, worst.estimated) == (3, 3, 0)
        assert (worst.prompt_tokens, worst.completion_tokens) == (3 * 20, 3 * 1000)  # 79 characters: 79 // 4 + 1

        carried = Spend(worst.prompt_tokens, worst.completion_tokens, worst.cost_usd, worst.requests, worst.reserved)
        ledger = Ledger(prices, max_cost=1.0, carried=carried)
        rerun = SpendRecorder(cache, "generate", "rerun", prices.cost, on_estimated=ledger.estimated)
        rerun.settle(rerun.reserve("k1", request), "k1", answer)  # the same request, answered
        rerun.settle(rerun.reserve("k2", request), "k2", ChatResult(text="4"))  # no usage reported: no estimate
        rerun.settle(rerun.reserve("k3", request), "k3", ChatResult(error="HTTP 500"))  # failed: no estimate
        in_flight = rerun.reserve("k4", request)  # this run's own reservation is its own

        spent = cache.spent("generate")
        assert (spent.requests, spent.reserved, spent.estimated) == (7, 4, 1)  # k2, k3 of the killed run, k4
        unit = prices.cost(20, 10)
        k1 = 2 * unit  # the orphan at its twin's cost, and the twin
        assert spent.cost_usd == pytest.approx(k1 + 2 * prices.cost(20, 1000) + prices.cost(20, 1000))
        assert ledger.carried.cost_usd == pytest.approx(unit + 2 * prices.cost(20, 1000))
        assert (ledger.carried.requests, ledger.carried.reserved, ledger.carried.estimated) == (3, 3, 1)
        assert ledger.carried.total_tokens == 30 + 2 * 1020
        assert cache.spent(attempt="killed-run").estimated == 1 and cache.spent(attempt="rerun").estimated == 0

        # Work that finished closes the budget: an orphan from before is history, no longer estimated by answers.
        cache.settle(in_flight, "k4", answer, unit, "generate", "rerun")
        cache.close_budget("generate", "rerun")
        assert rerun.cache.settle(None, "k2", answer, unit, "generate", "third") is None
        assert cache.spent("generate", whole_history=True).estimated == 1
