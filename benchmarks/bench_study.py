"""Time `nt study` on configs/study-verifiable-cpu.yaml in a fresh run directory, and print what it shows.

Prints the wall time of the whole study (target: under 30 minutes on an idle 2-core machine) and of each stage
(from the manifest), then the study's paired differences that the issue asks about, read from
``RUN/study/NAME/paired.csv``: the rejection-sampled student against the untrained base (target: more than 2 paired
standard errors, by the tasks' own scorers), rejection-sampled and difficulty-selected against random of the same
size, each with its paired SE, bootstrap CI, no-answer rates and accuracy among answered samples.

Usage:
    .venv/bin/python benchmarks/bench_study.py                     # the full study (idle machine: the figure)
    .venv/bin/python benchmarks/bench_study.py --quick             # a small version of the same grid (minutes)
    .venv/bin/python benchmarks/bench_study.py --config FILE --run-dir DIR
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "study-verifiable-cpu.yaml"
TARGET_S = 30 * 60
print = functools.partial(print, flush=True)  # progress shows even when piped


def quick(data: dict) -> dict:
    """The same grid, small: 12 questions per task, 2 samples, 20 held-out items per task, one seed, size 12."""
    data = dict(data)
    data["sources"] = [_resize(s, 12) for s in data["sources"]]
    data["generate"] = {**data["generate"], "samples": 2}
    data["eval"] = {**data["eval"], "benchmarks": [_resize(b, 20) for b in data["eval"]["benchmarks"]]}
    data["study"] = {**data["study"], "sizes": [12], "seeds": [0]}
    return data


def _resize(spec: str, n: int) -> str:
    body, _size, *seed = spec.rsplit(":", 2) if spec.count(":") >= 3 else (*spec.rsplit(":", 1), None)
    return f"{body}:{n}" + (f":{seed[0]}" if seed and seed[0] is not None else "")


def stage_times(run: Path) -> dict[str, float]:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_nt_run import stage_times as times

    return times(run)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--run-dir", type=Path, default=Path("/tmp/nt-bench-study"))
    parser.add_argument("--quick", action="store_true", help="a small version of the grid (validation, not the figure)")
    args = parser.parse_args()

    data = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    if args.quick:
        data = quick(data)
    data["run_dir"] = str(args.run_dir)
    if args.run_dir.exists():
        shutil.rmtree(args.run_dir)
    args.run_dir.mkdir(parents=True)
    config = args.run_dir.parent / f"{args.run_dir.name}.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    print(f"nt study {config} (load average {', '.join(f'{v:.1f}' for v in os.getloadavg())})")
    started = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-m", "naturalthoughts", "study", str(config), "-q"], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    elapsed = time.perf_counter() - started
    if proc.returncode:
        print(f"nt study exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc.returncode
    print(f"nt study: {elapsed / 60:.1f} min (target < {TARGET_S // 60} min on an idle machine: "
          f"{'met' if elapsed < TARGET_S else 'NOT met'}); load average after "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")  # fmt: skip
    for key, seconds in stage_times(args.run_dir).items():
        print(f"  {key:40s} {seconds:7.1f} s")
    study = args.run_dir / "study" / data["study"]["name"]
    print((study / "table.md").read_text(encoding="utf-8"))
    with open(study / "paired.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    wanted = {("base", "rejection"), ("random", "rejection"), ("random", "difficulty")}
    for row in rows:
        pair = (row.get("label_a") or row.get("a", ""), row.get("label_b") or row.get("b", ""))
        if any(a in pair[0] and b in pair[1] for a, b in wanted):
            print({k: row[k] for k in row if row[k] not in ("", None)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
