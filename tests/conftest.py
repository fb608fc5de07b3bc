"""Shared test setup: offline by default, fixtures for run directories.

Engine fixtures (a real llama.cpp server, a tiny random model) live in ``engine_fixtures.py``.
"""

from __future__ import annotations

import os
import signal

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator
from pathlib import Path

import pytest

from naturalthoughts import interrupts
from naturalthoughts.rundir import RunDir

pytest_plugins = ["engine_fixtures"]


@pytest.fixture
def run_dir(tmp_path: Path) -> RunDir:
    """A fresh, empty run directory."""
    return RunDir(tmp_path / "run").ensure()


@pytest.fixture(autouse=True)
def _signal_state_per_test() -> Iterator[None]:
    """Tests that call the CLI's ``main()`` in this process install its signal handlers and hard shutdown deadline for
    the process (as the console script does): put back this process's handlers and state after each test, so a
    signal a later test sends (or a notebook-style caller) never meets a deadline meant for a CLI process."""
    handlers = {signum: signal.getsignal(signum) for signum in interrupts.SIGNALS}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    interrupts.release_process()
