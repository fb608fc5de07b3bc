"""Benchmark `nt report`: build time, peak memory and page size on synthetic runs of 10k, 100k and 1M traces.

Each size is written once (naturalthoughts.report.synthetic, the real table schemas) and the report is built in a
fresh subprocess, timed, with its peak resident memory read back. Targets: a 100,000-trace report in under 60 s
and 2 GB, with a page (report.html) under 5 MB; the texts go to report_data/.

    .venv/bin/python benchmarks/bench_report.py              # 10k, 100k, 1M
    .venv/bin/python benchmarks/bench_report.py --quick      # 10k only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {100_000: {"seconds": 60.0, "peak_mb": 2048.0, "page_mb": 5.0}}
CHILD = """
import json, resource, sys, time
from naturalthoughts.report import build_report
started = time.perf_counter()
info = build_report(sys.argv[1])
info.pop("log")
info["seconds"] = time.perf_counter() - started
info["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(info))
"""


def build_run(root: Path, n: int) -> Path:
    from naturalthoughts.report.synthetic import write_synthetic_run

    run = root / f"report-{n}"
    if not (run / "annotations.parquet").exists():
        started = time.perf_counter()
        write_synthetic_run(run, n=n, text_words=200)  # about 1.4 kB of reasoning a trace
        print(f"  wrote a synthetic run of {n:,} traces in {time.perf_counter() - started:.1f} s", flush=True)
    return run


def measure(run: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(run)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k traces only")
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "nt-bench-report")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [10_000, 100_000, 1_000_000]
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    print(f"{'traces':>10} {'seconds':>8} {'peak MB':>8} {'page MB':>8} {'side MB':>8} {'files':>6}  target")
    failed = False
    for n in sizes:
        info = measure(build_run(args.root, n))
        target = TARGETS.get(n)
        page_mb, side_mb = info["html_bytes"] / 1e6, info["side_bytes"] / 1e6
        met = ""
        if target:
            ok = info["seconds"] <= target["seconds"] and info["peak_mb"] <= target["peak_mb"] and \
                page_mb <= target["page_mb"]  # fmt: skip
            failed |= not ok
            met = f"{target['seconds']:.0f} s, {target['peak_mb']:.0f} MB, page {target['page_mb']:.0f} MB: " + \
                ("met" if ok else "MISSED")  # fmt: skip
        print(f"{n:>10,} {info['seconds']:>8.1f} {info['peak_mb']:>8.0f} {page_mb:>8.2f} {side_mb:>8.1f} "
              f"{info['side_files']:>6}  {met}", flush=True)  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
