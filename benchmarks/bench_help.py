"""`nt --help` start-up: the wall time (and CPU time) of the whole process, median of several runs.

Target: under 0.5 s on an idle machine. The help is built without importing numpy, pyarrow, pydantic, httpx or
torch (a test checks the imports; this script measures the time):

    python benchmarks/bench_help.py            # 15 runs
    python benchmarks/bench_help.py --runs 5   # quicker

It prints the median and the spread of the wall seconds, the median CPU seconds (user + system: what the process
itself costs, a figure less sensitive to a busy machine) and the load average it ran under.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

TARGET_S = 0.5


def one_run(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `nt --help` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "100"})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    command = [sys.executable, "-m", "naturalthoughts", "--help"]
    one_run(command)  # warm the file cache (byte-compiled modules) once
    load = os.getloadavg()[0]
    runs = [one_run(command) for _ in range(args.runs)]
    walls, cpus = [w for w, _ in runs], [c for _, c in runs]
    median = statistics.median(walls)
    print(f"nt --help: median {median:.3f} s wall (min {min(walls):.3f}, max {max(walls):.3f}; {args.runs} runs), "
          f"median {statistics.median(cpus):.3f} s CPU; load average {load:.2f} at the start")  # fmt: skip
    print(f"target < {TARGET_S} s: {'met' if median < TARGET_S else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
