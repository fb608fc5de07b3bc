"""Time `nt run` on the embedded default (the main job of `make run`), stage by stage, with each stage's peak memory.

    .venv/bin/python benchmarks/bench_nt_run.py                        # this code: fresh run directory, fresh cache
    .venv/bin/python benchmarks/bench_nt_run.py --before 4b8e1ae       # also that commit's default, the same way
    .venv/bin/python benchmarks/bench_nt_run.py --config small.yaml    # another pipeline file (validation runs)

Prints, for each stage, the seconds and the peak resident memory the runner recorded in the manifest
(``peak_rss_mb``: the process's peak while that stage ran), then the whole run's wall time and the process's peak
(``ru_maxrss`` of the child), beside the targets: the whole run under 12 minutes on an idle 2-core machine, every
stage under 3 GB. ``--before COMMIT`` runs that commit's own default the same way, one after the other, from a git
worktree (``/tmp/nt-before-COMMIT``, ``PYTHONPATH`` on its ``src``); an older manifest without ``peak_rss_mb``
shows only the whole run's peak. The load average before and after each run is printed: wall times are only
comparable on an idle machine. Also prints the issue's signals read from the run's tables (complete traces, judge
rows in error, models-disagree filled).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_TOTAL_S = 12 * 60
TARGET_STAGE_MB = 3 * 1024


def _seconds(record: dict) -> float:
    if isinstance(record.get("seconds"), int | float):
        return float(record["seconds"])
    start, end = (datetime.fromisoformat(record[k]) for k in ("started_at", "finished_at"))
    return (end - start).total_seconds()


def stage_records(run: Path) -> dict[str, dict]:
    """The last record of every stage key, in the order the manifest holds them."""
    try:
        stages = json.loads((run / "manifest.json").read_text())["stages"]
        return {key: records[-1] for key, records in stages.items() if records[-1].get("finished_at")}
    except (OSError, KeyError, TypeError, AttributeError, ValueError):
        return {}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_nt(run: Path, env: dict[str, str], config: Path | None) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of the whole `nt run` process) of a fresh run in ``run``."""
    if run.exists():
        shutil.rmtree(run)
    command = [sys.executable, "-m", "naturalthoughts", "run", *([str(config)] if config else [])]
    command += ["--run", str(run), "-q"]
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak, not the largest child's so far
        elapsed = time.perf_counter() - started
        process.returncode = code = os.waitstatus_to_exitcode(status)
        if code:
            out.seek(0)
            sys.exit(f"nt run failed ({code}):\n{out.read()[-4000:]}")
    return elapsed, usage.ru_maxrss / 1024


def report(label: str, run: Path, wall: float, peak_mb: float) -> None:
    records = stage_records(run)
    print(f"\n{label}")
    print(f"{'stage':40s} {'seconds':>9s} {'peak RSS':>10s}")
    over = []
    for key, record in records.items():
        peak = record.get("peak_rss_mb")
        shown = f"{peak / 1024:8.2f} GB" if isinstance(peak, int | float) else f"{'n/a':>11s}"
        if isinstance(peak, int | float) and peak >= TARGET_STAGE_MB:
            over.append(key)
        print(f"{key:40s} {_seconds(record):9.1f} {shown}")
    recorded = any(isinstance(r.get("peak_rss_mb"), int | float) for r in records.values())
    print(f"{'whole nt run (wall)':40s} {wall:9.1f} {peak_mb / 1024:8.2f} GB  (process peak)")
    print(f"target: whole run < {TARGET_TOTAL_S} s on an idle machine: {'met' if wall < TARGET_TOTAL_S else 'MISSED'}")
    if recorded:
        verdict = "met" if not over else f"MISSED ({', '.join(over)})"
        print(f"target: every stage < {TARGET_STAGE_MB / 1024:.0f} GB peak RSS: {verdict}")
    for name, value in signals(run):
        print(f"{name:40s} {value}")


def signals(run: Path) -> list[tuple[str, str]]:
    import pandas as pd

    if not (run / "traces.parquet").exists() or not (run / "annotations.parquet").exists():
        return []
    traces = pd.read_parquet(run / "traces.parquet")
    annotations = pd.read_parquet(run / "annotations.parquet")
    n = len(traces)
    complete = f"{int(traces['complete'].sum())} of {n} ({traces['complete'].mean():.1%})"
    rows = [("traces complete", f"{complete}; forced {int(traces['forced'].sum())}")]
    for column in ("correct_error", "disagree_error"):
        if column in annotations:
            errors = int(annotations[column].notna().sum())
            rows.append((f"{column} rows", f"{errors} of {n} ({errors / n:.1%})"))
    if "disagree" in annotations:
        filled = int(annotations["disagree"].notna().sum())
        rows.append(("disagree filled", f"{filled} of {n} ({filled / n:.1%})"))
    return rows


def worktree(commit: str) -> Path:
    tree = Path(f"/tmp/nt-before-{commit}")
    if not (tree / "src").exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), commit], check=True)
    return tree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/nt-bench-run"))
    parser.add_argument("--config", type=Path, default=None, help="pipeline YAML (default: the bundled default)")
    parser.add_argument("--before", metavar="COMMIT", help="also time this commit's default, the same way")
    args = parser.parse_args()
    env = {**os.environ, "NT_PROGRESS": "off", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    # A fresh user cache directory would re-convert the bundled student (about 30 s) on the first run only; both
    # runs use the shared one, as `make run` does.

    runs = []
    if args.before:
        source = worktree(args.before) / "src"
        runs.append((f"before ({args.before})", args.work / "before", {**env, "PYTHONPATH": str(source)}))
    runs.append(("this code", args.work / "now", {**env, "PYTHONPATH": str(REPO / "src")}))
    for label, run, run_env in runs:
        before_load = load()
        wall, peak = run_nt(run, run_env, args.config)
        report(f"{label}: load average before {before_load}, after {load()}", run, wall, peak)
    return 0


if __name__ == "__main__":
    sys.exit(main())
