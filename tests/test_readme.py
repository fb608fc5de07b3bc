"""The README's Python examples run as written, in a fresh directory, as a user would paste them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_python_examples() -> None:
    assert python_blocks(), "README.md shows the Python API"


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_a_readme_python_example_runs_as_written(index: int, tmp_path: Path) -> None:
    block = python_blocks()[index]
    env = {**os.environ, "NT_PROGRESS": "off"}
    proc = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    printed = proc.stdout.splitlines()
    assert printed[0].startswith("done {") and "'rows': 6" in printed[0]  # the traces, written
    assert printed[1].startswith("3 runs/notebook/selections/")  # the selection's own result
    assert printed[2] == "up-to-date" and printed[3].startswith("done 2 selected")
