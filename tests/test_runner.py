"""The stage runner: up-to-date skips, rerun reasons, manifest records, the run lock, interrupts, stale files.

The stages here are small real stages written for the test (they read and write real files in a real run
directory); the runner, manifest, lock and signal handling under test are the production ones.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from rich.console import Console

from naturalthoughts.config import StrictModel
from naturalthoughts.errors import Fix, RunBusyError
from naturalthoughts.manifest import Manifest
from naturalthoughts.progress import Reporter
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner, run_one
from naturalthoughts.stage import Stage, StageContext, StageResult


class UpperConfig(StrictModel):
    suffix: str = ""
    progress: bool = True


class UpperStage(Stage):
    """Reads ``source`` (a file in the run directory), writes ``target`` upper-cased plus the suffix."""

    name = "upper"
    config_model = UpperConfig
    volatile = frozenset({"progress"})

    def __init__(
        self,
        config: UpperConfig | None = None,
        *,
        source: str = "in.txt",
        target: str = "mid.txt",
        fail: str | None = None,
    ) -> None:
        super().__init__(config, source=source, target=target)
        self.fail = fail

    @property
    def key(self) -> str:
        return f"upper:{self.args['target']}"

    def inputs(self, run: RunDir) -> list[Path]:
        return [run.root / self.args["source"]]

    def outputs(self, run: RunDir) -> list[Path]:
        return [run.root / self.args["target"]]

    def run(self, ctx: StageContext) -> StageResult:
        if self.fail == "error":
            raise ValueError("boom")
        if self.fail == "interrupt":
            raise KeyboardInterrupt
        text = (ctx.run.root / self.args["source"]).read_text()
        with ctx.progress.task("upper", total=len(text), unit="chars") as task:
            task.advance(len(text))
        (ctx.run.root / self.args["target"]).write_text(text.upper() + self.config.suffix)
        return StageResult(counts={"chars": len(text)}, summary=f"{len(text)} chars")


def quiet() -> Reporter:
    return Reporter(mode="off")


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    run = RunDir(tmp_path / "run").ensure()
    (run.root / "in.txt").write_text("hello")
    return run


def outcome(run: RunDir, stage: Stage, force: bool = False):
    return run_one(stage, run, force=force, reporter=quiet())


def test_second_run_is_up_to_date_and_records_once(run: RunDir) -> None:
    first = outcome(run, UpperStage())
    assert first.status == "done" and first.reason == "never ran"
    assert (run.root / "mid.txt").read_text() == "HELLO"
    second = outcome(run, UpperStage())
    assert second.status == "up-to-date"
    records = Manifest(run.manifest).records("upper:mid.txt")
    assert [r["status"] for r in records] == ["done"]
    record = records[0]
    assert record["counts"] == {"chars": 5} and record["summary"] == "5 chars"
    assert record["inputs"]["in.txt"]["by"] is None  # written by the user, not by a stage
    assert set(record["outputs"]) == {"mid.txt"}
    assert record["finished_at"] >= record["started_at"] and record["seconds"] >= 0


def test_config_change_reruns_and_names_the_key_but_volatile_fields_do_not(run: RunDir) -> None:
    outcome(run, UpperStage())
    assert outcome(run, UpperStage(UpperConfig(progress=False))).status == "up-to-date"
    changed = outcome(run, UpperStage(UpperConfig(suffix="!")))
    assert changed.status == "done" and changed.reason == "config changed: suffix"
    assert (run.root / "mid.txt").read_text() == "HELLO!"


def test_missing_or_edited_output_and_changed_input_rerun(run: RunDir) -> None:
    outcome(run, UpperStage())
    (run.root / "mid.txt").unlink()
    assert outcome(run, UpperStage()).reason == "output mid.txt is missing"
    (run.root / "mid.txt").write_text("edited by hand")
    assert outcome(run, UpperStage()).reason == "output mid.txt changed since it was written"
    (run.root / "in.txt").write_text("bye")
    rerun = outcome(run, UpperStage())
    assert rerun.reason == "input changed: in.txt" and (run.root / "mid.txt").read_text() == "BYE"


def test_rerunning_a_producer_reruns_its_consumers_only(run: RunDir) -> None:
    first, second = UpperStage(), UpperStage(source="mid.txt", target="out.txt")
    with Runner(run, reporter=quiet()) as runner:
        assert [runner.run_stage(s).status for s in (first, second)] == ["done", "done"]
    with Runner(run, reporter=quiet()) as runner:
        assert [runner.run_stage(s).status for s in (first, second)] == ["up-to-date", "up-to-date"]
    # The producer reruns and writes the same bytes: its consumer still reruns (its input has a new producer).
    with Runner(run, force=["upper:mid.txt"], reporter=quiet()) as runner:
        statuses = [runner.run_stage(s) for s in (first, second)]
    assert [s.status for s in statuses] == ["done", "done"]
    assert statuses[0].reason == "forced" and statuses[1].reason == "input changed: mid.txt"


def test_failure_and_interrupt_are_recorded_and_not_up_to_date(run: RunDir) -> None:
    with pytest.raises(ValueError, match="boom"):
        outcome(run, UpperStage(fail="error"))
    with pytest.raises(KeyboardInterrupt):
        outcome(run, UpperStage(fail="interrupt"))
    records = Manifest(run.manifest).records("upper:mid.txt")
    assert [r["status"] for r in records] == ["failed", "interrupted"]
    assert records[0]["error"] == "boom"
    assert outcome(run, UpperStage()).reason == "no successful run yet"


def test_second_writer_fails_at_once_naming_the_holder(run: RunDir) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from naturalthoughts.runner import Runner
            with Runner({str(run.root)!r}):
                print("locked", flush=True)
                time.sleep(60)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunBusyError, match=rf"PID {holder.pid}\b.*queue behind it") as caught:
            Runner(run, reporter=quiet()).__enter__()
        assert caught.value.fix == Fix("", wait=True)  # the command line shows it as --wait
        holder.send_signal(signal.SIGKILL)  # the kernel releases the lock of a dead process
        holder.wait()
        with Runner(run, wait=True, reporter=quiet()):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()


def test_wait_queues_behind_the_holder(run: RunDir) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import time
            from naturalthoughts.runner import Runner
            with Runner({str(run.root)!r}):
                print("locked", flush=True)
                time.sleep(1.5)
                print(time.time(), flush=True)  # the moment just before it lets go
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    with Runner(run, wait=True, reporter=quiet()):
        entered = time.time()
    released = float(holder.stdout.readline())
    assert entered >= released  # we only got in after the holder let go
    holder.wait()


def test_a_killed_run_leaves_nothing_stale_behind(run: RunDir) -> None:
    """SIGKILL mid-stage: the next runner removes temporary files and marks the dead record `killed`."""
    code = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from naturalthoughts.atomic import atomic_path
        from naturalthoughts.progress import Reporter
        from naturalthoughts.runner import Runner
        from naturalthoughts.stage import StageResult
        from test_runner import UpperStage

        class Dies(UpperStage):
            def run(self, ctx):
                with atomic_path(ctx.run.root / "mid.txt") as tmp:
                    tmp.write_text("half")
                    os.kill(os.getpid(), signal.SIGKILL)
                return StageResult()

        with Runner({str(run.root)!r}, reporter=Reporter(mode="off")) as runner:
            runner.run_stage(Dies())
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    assert list(run.root.glob(".mid.txt.*.tmp")), "the killed writer should have left its temporary file"
    assert Manifest(run.manifest).records("upper:mid.txt")[-1]["status"] == "running"
    again = outcome(run, UpperStage())
    assert again.status == "done"
    assert not list(run.root.glob(".*.tmp"))
    assert [r["status"] for r in Manifest(run.manifest).records("upper:mid.txt")] == ["killed", "done"]


def test_sigterm_is_recorded_as_terminated(run: RunDir) -> None:
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from naturalthoughts.progress import Reporter
        from naturalthoughts.runner import Runner
        from test_runner import UpperStage

        class Slow(UpperStage):
            def run(self, ctx):
                print("started", flush=True)
                time.sleep(60)

        try:
            with Runner({str(run.root)!r}, reporter=Reporter(mode="off")) as runner:
                runner.run_stage(Slow())
        except KeyboardInterrupt as exc:
            print(type(exc).__name__, flush=True)
            sys.exit(143)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGTERM)
    assert proc.stdout.readline().strip() == "Terminated"
    assert proc.wait(timeout=30) == 143
    assert Manifest(run.manifest).records("upper:mid.txt")[-1]["status"] == "terminated"


class SignalledInDel:
    """Sends the process SIGTERM from ``__del__``: the handler's exception is raised there and Python swallows it
    ("Exception ignored in ..."), as it does in a weakref callback during an import, where a real run met it."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)


class SwallowsItsSignal(UpperStage):
    def run(self, ctx: StageContext) -> StageResult:
        SignalledInDel()  # collected at once: the signal arrives and its exception goes nowhere
        return super().run(ctx)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the swallowed exception
def test_a_signal_whose_exception_was_swallowed_still_ends_the_stage_as_terminated(run: RunDir) -> None:
    with pytest.raises(KeyboardInterrupt) as raised:
        outcome(run, SwallowsItsSignal())
    assert type(raised.value).__name__ == "Terminated"
    assert [r["status"] for r in Manifest(run.manifest).records("upper:mid.txt")] == ["terminated"]
    assert outcome(run, UpperStage()).status == "done"  # outside the runner the signal is forgotten (a notebook)


def test_run_path_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    from naturalthoughts.errors import ConfigError

    path = tmp_path / "run"
    path.write_text("not a folder")
    with pytest.raises(ConfigError, match="is a file"):
        run_one(UpperStage(), path, reporter=quiet())


def test_progress_writes_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    reporter = Reporter(Console(file=out, force_terminal=False, width=200), interval_s=0.0)
    assert reporter.mode == "lines"
    with reporter.task("generate", total=4) as task:
        for _ in range(4):
            time.sleep(0.01)
            task.advance(1, stats="12 tok/s")
    lines = out.getvalue().splitlines()
    assert lines[0] == "generate: started, 4 rows"
    assert any(line.startswith("generate: 2/4 rows (50.0%)") and "eta" in line and "12 tok/s" in line for line in lines)
    assert "done in" in lines[-1] and lines[-1].startswith("generate: 4/4 rows (100.0%)")


def test_runner_log_file_has_the_progress(run: RunDir) -> None:
    outcome(run, UpperStage())
    log = (run.root / "logs" / "nt.log").read_text()
    assert "upper:mid.txt: running (never ran)" in log
    assert "upper: 5/5 chars (100.0%)" in log
    assert json.loads(run.manifest.read_text())["stages"]["upper:mid.txt"][0]["status"] == "done"


def test_files_get_the_users_umask(run: RunDir) -> None:
    from naturalthoughts.atomic import write_json

    target = write_json({"a": 1}, run.root / "x.json")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_an_input_made_from_an_older_upstream_file_is_refused(run: RunDir) -> None:
    from naturalthoughts.errors import MissingInputError

    first, second = UpperStage(), UpperStage(source="mid.txt", target="out.txt")
    outcome(run, first)
    (run.root / "in.txt").write_text("a different pool")  # mid.txt was made from the old in.txt
    with pytest.raises(MissingInputError, match=r"mid.txt was made by `upper:mid.txt` from an older in.txt"):
        outcome(run, second)
    outcome(run, first)  # refreshing the producer makes its consumer runnable again
    assert outcome(run, second).status == "done"
    assert (run.root / "out.txt").read_text() == "A DIFFERENT POOL"


class HoldStage(UpperStage):
    """Writes its target after holding ``megabytes`` of memory for a moment (a stage with a known peak)."""

    def __init__(self, megabytes: int, target: str) -> None:
        super().__init__(source="in.txt", target=target)
        self.megabytes = megabytes

    def run(self, ctx: StageContext) -> StageResult:
        held = b"x" * (self.megabytes << 20)  # written, so every page is resident
        (ctx.run.root / self.args["target"]).write_text(str(len(held)))
        del held
        return StageResult(summary="held")


def test_each_stage_records_its_own_peak_resident_memory(run: RunDir) -> None:
    with Runner(run, reporter=quiet()) as runner:
        big = runner.run_stage(HoldStage(300, "big.txt")).record
        small = runner.run_stage(HoldStage(1, "small.txt")).record
    assert big["peak_rss_mb"] >= small["peak_rss_mb"] + 250  # the second stage's peak starts afresh
    recorded = Manifest(run.manifest).records("upper:big.txt")[-1]
    assert recorded["peak_rss_mb"] == big["peak_rss_mb"]
