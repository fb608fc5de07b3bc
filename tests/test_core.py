"""The shared foundation: atomic writes, the manifest, configs, the CLI shell and doctor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts import tables
from naturalthoughts.atomic import atomic_path, write_json, write_parquet, writer_thread
from naturalthoughts.config import StrictModel, load_config
from naturalthoughts.errors import ConfigError, Fix, MissingInputError
from naturalthoughts.manifest import fingerprint
from naturalthoughts.rundir import RunDir


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    write_parquet(pa.table({"a": [1, 2]}), target)
    write_parquet(pa.table({"a": [3]}), target)
    assert pq.read_table(target).column("a").to_pylist() == [3]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_atomic_write_survives_sigkill_of_writer(tmp_path: Path) -> None:
    """A writer killed mid-write leaves the old complete file, never a truncated one."""
    target = tmp_path / "big.json"
    write_json({"ok": True}, target)
    code = (
        "import os, signal\n"
        "from naturalthoughts.atomic import atomic_path\n"
        f"with atomic_path({str(target)!r}) as tmp:\n"
        "    tmp.write_text('x' * 1000)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == -9
    assert json.loads(target.read_text()) == {"ok": True}


def test_leaving_a_writer_thread_waits_for_its_writes_when_a_signal_interrupts_the_wait() -> None:
    """A real SIGINT while the stage waits for its last write: the write ends before the interrupt goes on (the
    Parquet writer it uses closes next; closing it under the write crashed `nt ingest` once)."""
    import signal
    import threading
    import time

    started, signalled, ended = threading.Event(), threading.Event(), threading.Event()

    def slow_write() -> None:
        started.set()
        signalled.wait(10)
        time.sleep(0.3)  # still writing when the interrupt is raised in the main thread
        ended.set()

    def interrupt_the_wait() -> None:
        started.wait(10)
        time.sleep(0.3)  # the main thread has left the block and waits for the writer thread
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # type: ignore[arg-type]
        signalled.set()

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), writer_thread("test-writer") as pool:
            pool.submit(slow_write)
            threading.Thread(target=interrupt_the_wait, daemon=True).start()
        assert ended.is_set()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_fingerprint_changes_with_content(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("a")
    first = fingerprint(f)["sha256"]
    f.write_text("b")
    assert fingerprint(f)["sha256"] != first


class _Inner(StrictModel):
    temperature: float = 0.6


class _Outer(StrictModel):
    name: str = "x"
    inner: _Inner = _Inner()


def test_config_unknown_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: a\ninner:\n  temprature: 0.7\n")
    with pytest.raises(ConfigError, match=r"unknown key 'inner\.temprature'"):
        load_config(_Outer, path)


def test_config_overrides_beat_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  temperature: 0.7\n")
    cfg = load_config(_Outer, path, {"inner.temperature": 1.0, "name": None})
    assert cfg.inner.temperature == 1.0
    assert cfg.name == "x"


def test_config_bad_type_names_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  temperature: hot\n")
    with pytest.raises(ConfigError, match=r"inner\.temperature"):
        load_config(_Outer, path)


def test_missing_input_names_the_stage_that_makes_it(run_dir: RunDir) -> None:
    with pytest.raises(MissingInputError, match="run `generate`") as caught:
        run_dir.require("traces")
    assert caught.value.fix == Fix("generate").at(run_dir)
    shown = caught.value.render(lambda fix: f"`{fix.command_line()}`")  # what the command line prints
    assert f"run `nt generate --run {run_dir.root}` first" in shown


def test_schemas_document_every_column() -> None:
    for schema in (tables.QUESTIONS, tables.REJECTED, tables.TRACES, tables.SELECTION, tables.ANNOTATIONS):
        for name, _type, doc in tables.describe(schema):
            assert doc, f"column {name} has no description"


def _nt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "naturalthoughts", *args], capture_output=True, text=True, env=env)


def test_cli_help_lists_every_stage() -> None:
    out = _nt("--help")
    assert out.returncode == 0, out.stderr
    for command in (
        "ingest",
        "generate",
        "annotate",
        "select",
        "sft-data",
        "train",
        "eval",
        "report",
        "export",
        "run",
        "study",
        "doctor",
    ):
        assert command in out.stdout


def test_doctor_reports_bundled_pieces() -> None:
    out = _nt("doctor")
    assert out.returncode == 0, out.stdout + out.stderr
    for piece in ("SmolLM2", "MiniLM", "GPQA-Diamond", "MMLU", "Ray", "number format"):
        assert piece in out.stdout


def test_architecture_doc_is_generated_from_the_code() -> None:
    """docs/architecture.md's stage, table, registry and module sections are read from the code: regenerate them
    with `python -m naturalthoughts.doc_sections` when a stage, schema, registry or module changes."""
    from naturalthoughts.doc_sections import DOC, render

    doc = DOC.read_text(encoding="utf-8")
    assert doc == render(doc), "stale: run `python -m naturalthoughts.doc_sections`"


def test_architecture_doc_names_the_real_values() -> None:
    """The generated sections carry the code's own names (e.g. every annotator method a config can name)."""
    from naturalthoughts.annotate.registry import ANNOTATORS
    from naturalthoughts.doc_sections import DOC
    from naturalthoughts.registry import stage_classes

    doc = DOC.read_text(encoding="utf-8")
    for methods in ANNOTATORS.values():
        for method in methods:
            assert f"`{method}`" in doc
    for name, cls in stage_classes().items():
        assert f"| `{name}` |" in doc
        assert cls.reads or cls.writes, f"stage {name} declares neither reads nor writes"
