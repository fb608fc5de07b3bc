"""``--debug`` adds a traceback and changes nothing else: the exit code of every documented error class is the same
with and without it. Each case runs the real ``nt`` in a subprocess (a counting local server plays the teacher)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from countingserver import CountingServer
from naturalthoughts.atomic import write_parquet
from naturalthoughts.errors import EXIT_INTERRUPTED, EXIT_TERMINATED
from naturalthoughts.tables import QUESTIONS

NT = [sys.executable, "-m", "naturalthoughts"]
ENV = {**os.environ, "COLUMNS": "200", "NT_PROGRESS": "lines"}


@pytest.fixture(scope="module")
def server() -> Iterator[CountingServer]:
    with CountingServer(delay_s=0.2) as counting:
        yield counting


@pytest.fixture(scope="module")
def slow_server() -> Iterator[CountingServer]:
    with CountingServer(delay_s=30.0) as counting:
        yield counting


def questions(run: Path, count: int = 4) -> Path:
    rows = [{"id": f"q{i}", "question": f"What is {i} + {i}?", "source": "test"} for i in range(count)]
    run.mkdir(parents=True, exist_ok=True)
    write_parquet(pa.Table.from_pylist(rows, schema=QUESTIONS), run / "questions.parquet")
    return run


def generate(run: Path, base_url: str, *extra: str) -> list[str]:
    return ["generate", "--run", str(run), "--base-url", base_url, "--model", "m", "--api-key-env", "NT_NO_KEY",
            "--prompt-template", "think-tags", "--max-tokens", "16", "--concurrency", "1", *extra]  # fmt: skip


def closed_port() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


Case = Callable[[Path, dict[str, CountingServer]], list[str]]


def _usage(tmp: Path, servers: dict[str, CountingServer]) -> list[str]:
    return ["select", "--run", str(tmp / "r"), "--size", "abc"]


def _config(tmp: Path, servers: dict[str, CountingServer]) -> list[str]:
    (tmp / "bad.yaml").write_text("generate:\n  temprature: 0.6\n")
    return ["generate", "--run", str(questions(tmp / "r")), "--config", str(tmp / "bad.yaml")]


def _missing(tmp: Path, servers: dict[str, CountingServer]) -> list[str]:
    return ["annotate", "--run", str(tmp / "r")]


def _bad_input(tmp: Path, servers: dict[str, CountingServer]) -> list[str]:
    (tmp / "pool.jsonl").write_text('{"question": "What is 1 + 1?"}\nnot json\n')
    return ["ingest", str(tmp / "pool.jsonl"), "--run", str(tmp / "r")]


def _offline(tmp: Path, servers: dict[str, CountingServer]) -> list[str]:
    return ["ingest", "hf:nobody/nothing", "--run", str(tmp / "r")]


def _budget(tmp: Path, servers: dict[str, CountingServer]) -> list[str]:
    return generate(questions(tmp / "r"), servers["fast"].base_url, "--max-total-tokens", "40")


def _engine_failure(tmp: Path, servers: dict[str, CountingServer]) -> list[str]:
    return generate(questions(tmp / "r"), closed_port())


def _internal(tmp: Path, servers: dict[str, CountingServer]) -> list[str]:
    (tmp / "r").mkdir()
    (tmp / "r" / "manifest.json").write_text("{")  # a corrupt manifest is not an error class of its own (yet)
    return ["report", "--run", str(tmp / "r")]


CASES: dict[str, tuple[int, Case, str]] = {
    "internal": (1, _internal, "internal error"),
    "usage": (2, _usage, "'--size'"),
    "config": (2, _config, "unknown key 'temprature' (line 2, column 3)"),
    "missing-prerequisite": (3, _missing, "nt generate --run"),
    "bad-input": (4, _bad_input, "not JSON"),
    "needs-network": (5, _offline, "offline"),
    "budget-stop": (6, _budget, "token budget reached"),
    "engine-failure": (7, _engine_failure, "cannot connect"),
}


@pytest.mark.slow
@pytest.mark.parametrize(("code", "case", "needle"), CASES.values(), ids=CASES.keys())
def test_debug_keeps_the_exit_code_and_adds_a_traceback(
    tmp_path: Path, server: CountingServer, code: int, case: Case, needle: str
) -> None:
    outputs = {}
    for debug in (False, True):
        folder = tmp_path / ("debug" if debug else "plain")
        folder.mkdir()
        args = case(folder, {"fast": server})
        proc = subprocess.run(
            [*NT, *(["--debug"] if debug else []), *args], capture_output=True, text=True, env=ENV, timeout=300
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode == code, (debug, output)
        assert needle in output, (debug, output)
        assert ("Traceback (most recent call last)" in proc.stderr) == debug, output
        outputs[debug] = re.sub(r"127\.0\.0\.1:\d+", "HOST", output.replace(str(folder), "FOLDER"))
    # The message itself is the same: --debug only adds the traceback.
    last_line = [line for line in outputs[False].splitlines() if line.startswith("error:")][-1]
    assert last_line in outputs[True]


@pytest.mark.slow
def test_debug_keeps_the_busy_code(tmp_path: Path) -> None:
    run = tmp_path / "r"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from naturalthoughts.runner import "
         "run_lock\nwith run_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(120)", str(run)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        for debug in (False, True):
            proc = subprocess.run(
                [*NT, *(["--debug"] if debug else []), "ingest", "builtin:sample", "--run", str(run)],
                capture_output=True, text=True, env=ENV, timeout=120,
            )  # fmt: skip
            assert proc.returncode == 8, proc.stderr
            assert "in use by another nt process" in proc.stderr
            assert ("Traceback (most recent call last)" in proc.stderr) == debug
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, EXIT_INTERRUPTED), (signal.SIGTERM, EXIT_TERMINATED)])
def test_debug_keeps_the_signal_codes(tmp_path: Path, slow_server: CountingServer, sig: int, code: int) -> None:
    for debug in (False, True):
        run = questions(tmp_path / f"r{int(debug)}")
        before = slow_server.received
        proc = subprocess.Popen(
            [*NT, *(["--debug"] if debug else []), *generate(run, slow_server.base_url)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while slow_server.received == before and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == code, err
        assert ("Traceback (most recent call last)" in err) == debug, err
