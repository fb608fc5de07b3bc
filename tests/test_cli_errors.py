"""The CLI's error policy, through the real `nt` in a subprocess: exit codes, one-line messages, no tracebacks,
interrupts that keep finished work, a locked run directory."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from naturalthoughts.cli import exit_code_for
from naturalthoughts.manifest import Manifest

NT = [sys.executable, "-m", "naturalthoughts"]
# PYTHONFAULTHANDLER: a crash of the nt process (a SIGSEGV was seen once in ~300 signalled runs) prints its
# Python stacks, so a failure here says where.
ENV = {**os.environ, "COLUMNS": "200", "NT_PROGRESS": "lines", "NT_PROGRESS_INTERVAL": "0.2", "PYTHONFAULTHANDLER": "1"}


def nt(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NT, *args], capture_output=True, text=True, env=ENV, timeout=timeout)


def assert_clean_failure(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, output
    assert "Traceback" not in output, output
    for needle in needles:
        assert needle in output, output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["select", "--run", "r", "--size", "abc"], "'--size'"),
        (["ingest", "--run", "r", "--no-such-option", "builtin:sample"], "--no-such-option"),
        (["ingest", "--run", "r"], "SOURCE"),
        (["generate", "--run", "r", "--retry", "everything"], "'--retry'"),
    ],
    ids=["non-integer", "unknown-option", "missing-argument", "bad-choice"],
)
def test_usage_errors_are_one_message_and_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    proc = subprocess.run([*NT, *args], capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=60)
    assert_clean_failure(proc, 2, needle, "--help")


def test_missing_prerequisite_names_the_command(tmp_path: Path) -> None:
    proc = nt("annotate", "--run", str(tmp_path / "run"))
    assert_clean_failure(proc, 3, "nt generate --run")


def test_brackets_in_paths_and_yaml_errors_are_printed_as_they_are(tmp_path: Path) -> None:
    missing = tmp_path / "data[1].jsonl"
    assert_clean_failure(nt("ingest", str(missing), "--run", str(tmp_path / "r")), 3, "data[1].jsonl")
    bad = tmp_path / "bad.yaml"
    bad.write_text("generate:\n  temperature: [0.6\n")
    proc = nt("run", str(bad), "--run", str(tmp_path / "r"))
    assert_clean_failure(proc, 2, "bad.yaml: not valid YAML (line")


def test_an_empty_config_file_is_an_error_not_a_silent_default(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("\n")
    assert_clean_failure(nt("run", str(empty), "--run", str(tmp_path / "r")), 2, "empty", "--show-config")


def test_a_run_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "run"
    target.write_text("x")
    assert_clean_failure(nt("ingest", "builtin:sample", "--run", str(target)), 2, "is a file")


def test_internal_errors_name_the_bug_and_debug_gives_the_traceback() -> None:
    assert exit_code_for(RuntimeError("list index out of range")) == 1
    proc = subprocess.run(
        [*NT, "--debug", "ingest", "/nonexistent/x.jsonl", "--run", "/nonexistent/run"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert proc.returncode != 0  # --debug re-raises: the traceback is the point
    assert "Traceback" in proc.stderr


def test_a_full_disk_is_one_line_naming_the_file_and_exit_9(tmp_path: Path) -> None:
    """A real full disk (a 256 kB tmpfs filled up): the command says which file and how much space is left."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs on this machine: {mounted.stderr.decode().strip()}")
    try:
        with pytest.raises(OSError), (disk / "filler").open("wb") as filler:
            while True:
                filler.write(bytes(65536))
                filler.flush()
        proc = nt("ingest", "builtin:sample", "--run", str(disk / "run"))
        assert_clean_failure(proc, 9, "no space left on the device", str(disk / "run"), "GB free", "run the same")
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_is_found_behind_the_exception_that_wraps_it() -> None:
    with pytest.raises(OSError) as full, open("/dev/full", "w") as device:
        device.write("x")
    wrapped = RuntimeError("writing the manifest failed")
    wrapped.__cause__ = full.value
    assert exit_code_for(wrapped) == 9
    # pyarrow's IO errors carry the OS's words without the number
    assert exit_code_for(OSError("Failed to write part-0.parquet: No space left on device")) == 9
    assert exit_code_for(OSError("Connection reset by peer")) == 1
    assert exit_code_for(OSError(errno.ENOSPC, "No space left on device", 5)) == 9  # a file descriptor, not a path


def test_an_error_or_an_interrupt_raised_while_handling_a_full_disk_stays_what_it_is() -> None:
    full = OSError(errno.ENOSPC, "No space left on device")
    for raised, code in ((KeyboardInterrupt(), 130), (TypeError("a bug in an except block"), 1)):
        raised.__context__ = full
        assert exit_code_for(raised) == code


def test_a_read_only_database_is_a_storage_error(tmp_path: Path) -> None:
    """The response cache and the spend ledger are SQLite: a real SQLITE_READONLY (a database opened read-only)."""
    import sqlite3

    from naturalthoughts.errors import storage_error

    path = tmp_path / "cache.sqlite"
    sqlite3.connect(path).execute("create table t (x)").connection.commit()
    readonly = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as caught:
        readonly.execute("insert into t values (1)")
    found = storage_error(caught.value, tmp_path)
    assert found is not None and found.exit_code == 9
    assert "read-only" in str(found) and str(tmp_path) in str(found)


def _big_pool(path: Path, rows: int = 400_000) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            fh.write(
                json.dumps(
                    {
                        "question": f"What is {i} plus {i * 7 % 1013} in base ten, shown step by step?",
                        "reference_answer": str(i + i * 7 % 1013),
                    }
                )
                + "\n"
            )


def _ingest_a_big_pool(tmp_path: Path) -> tuple[Path, Path, subprocess.Popen[str]]:
    """(pool file, run directory, the running `nt ingest` process) on a pool big enough to interrupt."""
    pool = tmp_path / "pool.jsonl"
    _big_pool(pool)
    run = tmp_path / "run"
    command = [*NT, "ingest", str(pool), "--run", str(run), "--decontaminate", "none"]
    return pool, run, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "code", "status"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_interrupting_ingest_exits_with_the_signal_code_and_leaves_no_temporaries(
    tmp_path: Path, sig: signal.Signals, code: int, status: str
) -> None:
    _pool, run, proc = _ingest_a_big_pool(tmp_path)
    for line in proc.stderr:  # wait until rows are flowing
        if "ingest:" in line and "rows" in line and "started" not in line:
            break
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out + err
    assert "Traceback" not in err
    assert "run the same command again to resume" in err
    assert Manifest(run / "manifest.json").records("ingest")[-1]["status"] == status
    assert not list(run.rglob(".*.tmp")), "temporary files left behind"
    assert not (run / "questions.parquet").exists()  # nothing half-written under the final name


@pytest.mark.slow
def test_a_second_writer_fails_at_once_naming_the_pid(tmp_path: Path) -> None:
    pool, run, first = _ingest_a_big_pool(tmp_path)
    try:
        for line in first.stderr:
            if "ingest: started" in line:
                break
        second = nt("ingest", str(pool), "--run", str(run))
        assert first.poll() is None  # the second did not wait for the first to finish
        assert_clean_failure(second, 8, f"PID {first.pid}", "--wait")
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
