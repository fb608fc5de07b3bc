"""Run every scale benchmark in turn (`make bench`). Each prints its figures beside its targets.

Run them on an otherwise idle machine: they measure wall time and peak memory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = [
    "bench_ingest.py", "bench_engines.py", "bench_generate.py", "bench_generate_stream.py", "bench_annotate.py",
    "bench_select.py", "bench_train.py", "bench_eval.py", "bench_grading.py", "bench_report.py",
    "bench_nt_run.py", "bench_help.py",
]  # fmt: skip


def main() -> int:
    failed = []
    for script in SCRIPTS:
        print(f"\n===== {script} =====", flush=True)
        if subprocess.run([sys.executable, str(HERE / script)], check=False).returncode:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
