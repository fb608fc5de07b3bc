"""No fragment of 8 or more characters of an API key reaches any file of the run directory or any output, for
keys straddling every cut length the code uses.

A counting local server answers with error bodies that echo the key at offsets chosen so it straddles each cut
(the 300-character error body, the error object of a 200 reply); the real ``nt generate`` runs against it, and
every file of the run directory (Parquet and SQLite read back as values, everything else as bytes), the terminal
and the log are searched for every 8-character piece of the key. The cuts deeper in (the spend ledger's 500
characters, the manifest's 2,000, annotations' 300) are straddled directly through the real runner and ledger.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from countingserver import CountingServer
from naturalthoughts.annotate.base import ERROR_CHARS as ANNOTATION_ERROR_CHARS
from naturalthoughts.atomic import write_parquet
from naturalthoughts.config import StrictModel
from naturalthoughts.engines import ChatResult
from naturalthoughts.engines.openai_compat import ERROR_BODY_CHARS
from naturalthoughts.generate.ledger import ERROR_MESSAGE_CHARS, Ledger
from naturalthoughts.progress import Reporter
from naturalthoughts.redact import MIN_FRAGMENT, clip, register_secret, scrub
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import RECORDED_ERROR_CHARS, Runner
from naturalthoughts.stage import Stage, StageContext, StageResult
from naturalthoughts.tables import QUESTIONS

NT = [sys.executable, "-m", "naturalthoughts"]
KEY_VARIABLE = "NT_TEST_TEACHER_AUTH"  # a name the "looks like a secret" rule does not catch: only the engine's
KEY = "sk-" + secrets.token_hex(22)  # 47 characters              registration of the key it read protects it
CUTS = (ERROR_BODY_CHARS, ERROR_MESSAGE_CHARS, RECORDED_ERROR_CHARS, ANNOTATION_ERROR_CHARS)


def fragments(key: str = KEY) -> set[str]:
    return {key[i : i + MIN_FRAGMENT] for i in range(len(key) - MIN_FRAGMENT + 1)}


def leaks(text: str) -> list[str]:
    return sorted(piece for piece in fragments() if piece in text)


def straddling_offsets(cut: int, prefix: int = 0) -> list[int]:
    """Where the key must start, after ``prefix`` characters the code adds, to straddle ``cut`` (every split)."""
    return [cut - prefix - inside for inside in range(1, len(KEY))]


# ---- end to end: nt generate against a server that echoes the key ---------------------------------------------


def offsets() -> list[tuple[str, int]]:
    """(how to answer, where the key starts in the body) for every error request."""
    cases = [("400", offset) for offset in straddling_offsets(ERROR_BODY_CHARS)]
    cases += [("500", offset) for offset in straddling_offsets(ERROR_BODY_CHARS)[::6]]
    cases += [("200-error", offset) for offset in straddling_offsets(ERROR_BODY_CHARS)[::3]]
    return cases


def echo_key(number: int, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, bytes] | None:
    """Every other request succeeds (so the run is not "mostly failing"); the rest echo the key they were sent."""
    cases = offsets()
    if number % 2 == 0 or number // 2 >= len(cases):
        return None
    kind, offset = cases[number // 2]
    sent_key = headers.get("authorization", "").removeprefix("Bearer ")
    text = "x" * offset + sent_key + "y" * 400
    if kind == "200-error":
        return 200, json.dumps({"error": text}).encode()
    return int(kind), text.encode()


@pytest.fixture(scope="module")
def server() -> Iterator[CountingServer]:
    with CountingServer(reply=echo_key) as counting:
        yield counting


def run_directory_text(root: Path) -> str:
    """Everything in the run directory as text: Parquet and SQLite values read back, other files as bytes."""
    parts = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        parts.append(path.read_bytes().decode("utf-8", "replace"))
        if path.suffix == ".parquet":
            parts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
        if path.name.endswith(".sqlite"):
            with sqlite3.connect(path) as conn:
                for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                    parts.append(json.dumps(conn.execute(f"SELECT * FROM {table}").fetchall(), default=str))
    return "\n".join(parts)


def nt_generate(run: Path, server: CountingServer, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, KEY_VARIABLE: KEY, "NT_PROGRESS": "lines", "COLUMNS": "200"}
    return subprocess.run(
        [*NT, *extra, "generate", "--run", str(run), "--config", str(run / "generate.yaml"),
         "--base-url", server.base_url, "--model", "m", "--api-key-env", KEY_VARIABLE,
         "--prompt-template", "think-tags", "--max-tokens", "16", "--concurrency", "8"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


def questions(run: Path, count: int) -> None:
    rows = [{"id": f"q{i:03d}", "question": f"What is {i} times 3?", "source": "test"} for i in range(count)]
    run.mkdir(parents=True, exist_ok=True)
    write_parquet(pa.Table.from_pylist(rows, schema=QUESTIONS), run / "questions.parquet")


@pytest.mark.slow
def test_no_key_fragment_anywhere_after_errors_that_echo_it_across_every_cut(
    tmp_path: Path, server: CountingServer
) -> None:
    run = tmp_path / "run"
    questions(run, 2 * len(offsets()) + 2)
    # Retries off (each echo is seen once) and no "mostly failing" verdict: every error row is written.
    (run / "generate.yaml").write_text("engine:\n  engine: openai\n  max_retries: 0\nfailure_share: 1.0\n")
    proc = nt_generate(run, server)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = pq.read_table(run / "traces.parquet").to_pylist()
    errors = [row["error"] for row in rows if row["error"]]
    assert len(errors) == len(offsets())  # every echo became an error row...
    assert all("*" in error for error in errors)  # ...with the key masked (then cut, so the mask may be cut too)
    assert leaks(run_directory_text(run)) == []
    assert leaks(proc.stdout + proc.stderr) == []

    # A run where everything fails: the engine-failure message (terminal, manifest, log) quotes the commonest
    # error; with --debug, the traceback too.
    failing = tmp_path / "failing"
    questions(failing, 6)
    (failing / "generate.yaml").write_text("engine:\n  engine: openai\n  max_retries: 0\n")

    def always_echo(number: int, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, bytes]:
        offset = straddling_offsets(ERROR_BODY_CHARS, len("HTTP 400: "))[number % (len(KEY) - 1)]
        return 400, ("x" * offset + headers["authorization"].removeprefix("Bearer ") + "y" * 300).encode()

    server.reply = always_echo
    try:
        for extra in ((), ("--debug",)):
            proc = nt_generate(failing, server, *extra)
            assert proc.returncode == 7, proc.stderr[-3000:]
            assert "commonest error" in proc.stderr and "***" in proc.stderr
            assert ("Traceback" in proc.stderr) == bool(extra)
            assert leaks(proc.stdout + proc.stderr) == []
    finally:
        server.reply = echo_key
    assert leaks(run_directory_text(failing)) == []


# ---- the deeper cuts, straddled directly ----------------------------------------------------------------------


class LeakyConfig(StrictModel):
    offset: int = 0


class LeakyStage(Stage):
    """A stage whose error message carries the key at ``offset``, and whose progress note and log line do too."""

    name = "leaky"
    config_model = LeakyConfig

    def inputs(self, run: RunDir) -> list[Path]:
        return []

    def outputs(self, run: RunDir) -> list[Path]:
        return [run.root / "never.txt"]

    def run(self, ctx: StageContext) -> StageResult:
        text = "e" * self.config.offset + KEY + "z" * 50  # type: ignore[attr-defined]
        ctx.progress.note(text)
        ctx.log.info("detail: %s", text)
        raise RuntimeError(text)


@pytest.mark.parametrize("cut", CUTS)
def test_a_key_straddling_a_cut_leaves_no_fragment(tmp_path: Path, cut: int) -> None:
    register_secret(KEY)  # as the engine does with the key it reads
    for offset in straddling_offsets(cut):
        text = "e" * offset + KEY + "z" * 50
        assert leaks(clip(text, cut)) == []
        assert leaks(scrub(text[:cut])) == []  # even cut first: a piece of 8+ characters is still recognised
        result = ChatResult(error=text)  # every engine error is scrubbed when it is made
        assert leaks(result.error or "") == []
        ledger = Ledger()
        ledger.record_sent(result)
        assert leaks(ledger.commonest_error()[0]) == []
    run = RunDir(tmp_path / "run").ensure()
    for offset in straddling_offsets(cut)[:: max(1, len(KEY) // 8)]:
        with Runner(run, reporter=Reporter(mode="off")) as runner, pytest.raises(RuntimeError):
            runner.run_stage(LeakyStage(LeakyConfig(offset=offset)))
    assert leaks(run_directory_text(run.root)) == []
    record = json.loads(run.manifest.read_text())["stages"]["leaky"][-1]
    assert record["status"] == "failed" and "***" in record["error"]


def test_fragments_are_removed_wherever_they_are_and_short_pieces_are_kept() -> None:
    register_secret(KEY)
    assert scrub(f"a {KEY} b") == "a *** b"
    assert scrub(f"{KEY[:8]}|{KEY[-8:]}|{KEY[10:30]}") == "***|***|***"
    assert scrub(KEY[:7]) == KEY[:7]  # shorter than a fragment: not recognisable as the key
    assert scrub("nothing secret here") == "nothing secret here"
    os.environ["NT_TEST_OTHER_API_KEY"] = "another-secret-value-123"  # any *_API_KEY variable is a secret too
    try:
        assert scrub("value another-secret-value-123 end") == "value *** end"
    finally:
        del os.environ["NT_TEST_OTHER_API_KEY"]
