"""Time `nt run` on the embedded default (the main job of `make run`), stage by stage, against its targets.

    .venv/bin/python benchmarks/bench_nt_run.py                  # fresh run directory, fresh cache
    .venv/bin/python benchmarks/bench_nt_run.py --old            # also the pre-redesign default (commit 3f58405)

Prints the wall time of each stage (from the manifest the runner writes), ingest through select, and the whole
run, beside the targets: the whole run under 15 minutes on this 2-core machine; ingest through select no slower
than the old default run. ``--old`` runs the old code's own default config (``git worktree add --detach
/tmp/nt-baseline 3f58405``, run with ``PYTHONPATH=/tmp/nt-baseline/src``) in the same way, one after the other.
Also prints the embedded default's issue targets read from the run's tables: complete traces, LLM annotation rows
in error, models-disagree filled.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OLD_COMMIT = "3f58405"
POOL_STAGES = ("ingest", "generate", "annotate", "select")
TARGET_TOTAL_S = 15 * 60


def _seconds(record: dict) -> float:
    if isinstance(record.get("seconds"), int | float):
        return float(record["seconds"])
    start, end = (datetime.fromisoformat(record[k]) for k in ("started_at", "finished_at"))
    return (end - start).total_seconds()


def stage_times(run: Path) -> dict[str, float]:
    """Seconds of the last record of every stage key, in the order the manifest holds them."""
    try:
        stages = json.loads((run / "manifest.json").read_text())["stages"]
        return {key: _seconds(records[-1]) for key, records in stages.items() if records[-1].get("finished_at")}
    except (OSError, KeyError, TypeError, AttributeError, ValueError):  # an older manifest layout: no per-stage times
        return {}


def run_nt(run: Path, env: dict[str, str]) -> float:
    if run.exists():
        shutil.rmtree(run)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "naturalthoughts", "run", "--run", str(run), "-q"], env=env,
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode:
        sys.exit(f"nt run failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def pool_seconds(times: dict[str, float]) -> float:
    return sum(s for key, s in times.items() if key.split(":", 1)[0] in POOL_STAGES)


def signals(run: Path) -> list[tuple[str, str]]:
    import pandas as pd

    traces = pd.read_parquet(run / "traces.parquet")
    annotations = pd.read_parquet(run / "annotations.parquet")
    n = len(traces)
    rows = [("traces complete", f"{int(traces['complete'].sum())} of {n} ({traces['complete'].mean():.1%}); "
             f"forced {int(traces['forced'].sum())}")]
    for column in ("correct_error", "disagree_error"):
        if column in annotations:
            errors = int(annotations[column].notna().sum())
            rows.append((f"{column} rows", f"{errors} of {n} ({errors / n:.1%})"))
    filled = int(annotations["disagree"].notna().sum())
    rows.append(("disagree filled", f"{filled} of {n} ({filled / n:.1%})"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/nt-bench-run"))
    parser.add_argument("--old", action="store_true", help="also time the old default (commit 3f58405)")
    parser.add_argument("--old-tree", type=Path, default=Path("/tmp/nt-baseline"))
    args = parser.parse_args()
    env = {**os.environ, "NT_PROGRESS": "off", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}

    new_run = args.work / "new"
    new_total = run_nt(new_run, {**env, "PYTHONPATH": str(REPO / "src")})
    new_times = stage_times(new_run)
    print(f"{'stage':40s} {'seconds':>9s}")
    for key, seconds in new_times.items():
        print(f"{key:40s} {seconds:9.1f}")
    print(f"{'ingest .. select':40s} {pool_seconds(new_times):9.1f}")
    print(f"{'whole nt run (wall)':40s} {new_total:9.1f}   target < {TARGET_TOTAL_S} s: "
          f"{'met' if new_total < TARGET_TOTAL_S else 'MISSED'}")
    for name, value in signals(new_run):
        print(f"{name:40s} {value}")

    if args.old:
        if not (args.old_tree / "src").exists():
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(args.old_tree), OLD_COMMIT],
                           check=True)
        old_run = args.work / "old"
        old_total = run_nt(old_run, {**env, "PYTHONPATH": str(args.old_tree / "src")})
        old_pool = pool_seconds(stage_times(old_run)) or old_total
        print(f"\n{'ingest .. select':40s} {'old':>9s} {'new':>9s} {'new/old':>8s}")
        print(f"{'':40s} {old_pool:9.1f} {pool_seconds(new_times):9.1f} {pool_seconds(new_times) / old_pool:8.2f}")
        print(f"{'old nt run (wall; it ended at select)':40s} {old_total:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
