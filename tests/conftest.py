"""Shared test setup: offline by default, fixtures for run directories.

Engine fixtures (a real llama.cpp server, a tiny random model) live in ``engine_fixtures.py``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest

from naturalthoughts.rundir import RunDir

pytest_plugins = ["engine_fixtures"]


@pytest.fixture
def run_dir(tmp_path: Path) -> RunDir:
    """A fresh, empty run directory."""
    return RunDir(tmp_path / "run").ensure()
