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
from typing import Any

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


def stage_times(run: Path) -> dict[str, tuple[float, float | None]]:
    """(seconds, peak RSS MB) of every stage's last record."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_nt_run import _seconds, stage_records

    return {key: (_seconds(record), record.get("peak_rss_mb")) for key, record in stage_records(run).items()}


def _reference_verdicts(samples: list[dict], scorers: dict[str, Any], lenient: bool) -> list[bool]:
    """An independent reading of each sample with reasoning-gym's own ``score_answer`` (not nt's checker), on the
    text after the reasoning: its first non-empty line after the last "Final Answer:" cue, as it stands, its first
    word or its last word (punctuation stripped; a lower-case yes or no also capitalised: :func:`_as_read`);
    ``lenient``: any span a reader could take for the answer (bench_gym_pass_rate's lenient reference, which
    over-accepts: the quantifier of "No artists are ants" reads No)."""
    import re

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_gym_pass_rate import candidates

    verdicts = []
    for sample in samples:
        scorer = scorers[sample["item_id"]]
        output = sample["output"] or ""
        answer = output.split("</think>", 1)[1] if "</think>" in output else ""  # the first close ends the reasoning
        if lenient:
            # a line that says only yes or no is read as Yes or No (not the first word of "no birds are ...": the
            # lenient reading over-accepts already)
            spans = candidates(answer) | _as_read({line.strip(" *.!") for line in answer.splitlines()})
            verdicts.append(bool(answer.strip()) and any(scorer(c) >= 1.0 for c in spans))
            continue
        after_cue = re.split(r"final\s+answer\s*:", answer, flags=re.I)[-1]
        lines = [line.strip(" *") for line in after_cue.splitlines() if line.strip(" *")]
        words = lines[0].split() if lines else []
        readings = {lines[0].strip(" ."), words[0], words[-1]} if words else set()
        readings = {r.strip(".,;:!?") for r in readings}
        verdicts.append(any(scorer(r) >= 1.0 for r in readings | _as_read(readings)))
    return verdicts


def _as_read(texts: set[str]) -> set[str]:
    """Each text that is a lower-case yes or no, capitalised as a reader takes it: reasoning-gym's syllogism scorer
    compares case-sensitively ("no" scores 0 against "No")."""
    return {text.capitalize() for text in texts if text.lower() in ("yes", "no")}


def _regraded(sample: dict, items: dict[str, Any]) -> bool:
    """The sample graded again by nt's checker as it is now (the recorded grade is the one of the code that ran)."""
    from naturalthoughts.benchmarks.reasoning_gym.task import grade
    from naturalthoughts.benchmarks.registry import GradeOptions

    options = GradeOptions(finish_reason=sample["finish_reason"], thinking=sample["mode"] != "no-think")
    return bool(grade(items[sample["item_id"]], sample["output"], options).correct)


def _scorer(item: Any) -> Any:
    """reasoning-gym's own scorer of a held-out item (the benchmark's item, by its recorded source row)."""
    from naturalthoughts.text.tasks import scorer_for

    found = scorer_for(item.metadata["source"], item.metadata["row"])
    assert found is not None, item.id
    return found[2]


def independent_check(run: Path, spec: str) -> None:
    """Each model's accuracy as nt graded it (recorded, and regraded by the checker as it is now) and by two readings
    with reasoning-gym's own scorer that do not use nt's checker, and each model's paired difference against the base
    by each, with its paired SE (plain numpy here, not naturalthoughts.stats): the check of the study's effect
    against an independent scorer."""
    import numpy as np
    import pyarrow.parquet as pq

    models = {path.parent.name: pq.read_table(path).to_pylist() for path in sorted(run.glob("eval/*/samples.parquet"))}
    if "base" not in models:
        print("independent check: no base evaluation yet")
        return
    order = [row["item_id"] for row in models["base"] if not row["contaminated"]]
    from naturalthoughts.benchmarks.reasoning_gym.loader import load

    items = {item.id: item for item in load(spec.removeprefix("reasoning-gym:"))}
    scorers = {item_id: _scorer(item) for item_id, item in items.items()}
    graders: dict[str, Any] = {
        "nt": lambda samples: [bool(s["correct"]) for s in samples],
        "nt now": lambda samples: [_regraded(s, items) for s in samples],
        "first line": lambda samples: _reference_verdicts(samples, scorers, lenient=False),
        "any span": lambda samples: _reference_verdicts(samples, scorers, lenient=True),
    }
    table: dict[str, dict[str, np.ndarray]] = {}
    for name, rows in models.items():
        by_item = {row["item_id"]: row for row in rows}
        samples = [by_item[item] for item in order]
        table[name] = {grader: np.array(verdicts(samples), dtype=float) for grader, verdicts in graders.items()}
    print(f"\nindependent check on {len(order)} held-out items (reasoning-gym's score_answer without nt's checker):")
    header = [f"{g} accuracy" for g in graders] + [f"{g}: minus base (SE)" for g in graders]
    print("| model | " + " | ".join(header) + " |")
    print("|---" * (1 + 2 * len(graders)) + "|")
    for name, scores in table.items():
        cells = [f"{100 * scores[g].mean():.1f}%" for g in graders]
        for g in graders:
            diff = scores[g] - table["base"][g]
            cells.append(f"{100 * diff.mean():+.1f} ({100 * diff.std(ddof=1) / np.sqrt(len(diff)):.1f})")
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--run-dir", type=Path, default=Path("/tmp/nt-bench-study"))
    parser.add_argument("--quick", action="store_true", help="a small version of the grid (validation, not the figure)")
    parser.add_argument(
        "--report-only", action="store_true", help="run nothing: print the results of the study in --run-dir"
    )
    args = parser.parse_args()

    data = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    if args.quick:
        data = quick(data)
    if args.report_only:
        show(args.run_dir, data)
        return 0
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
    show(args.run_dir, data)
    return 0


def show(run_dir: Path, data: dict) -> None:
    """Each stage's time, the study table, the paired differences the issue asks about, the independent check."""
    for key, (seconds, peak_mb) in stage_times(run_dir).items():
        peak = f"{peak_mb / 1024:5.2f} GB" if peak_mb else "     -"
        print(f"  {key:40s} {seconds:7.1f} s  {peak}")
    study = run_dir / "study" / data["study"]["name"]
    print((study / "table.md").read_text(encoding="utf-8"))
    with open(study / "paired.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    wanted = {("base", "rejection"), ("random", "rejection"), ("random", "difficulty")}
    for row in rows:
        pair = (row.get("label_a") or row.get("a", ""), row.get("label_b") or row.get("b", ""))
        if any(a in pair[0] and b in pair[1] for a, b in wanted):
            print({k: row[k] for k in row if row[k] not in ("", None)})
    for spec in data["eval"]["benchmarks"]:
        if spec.startswith("reasoning-gym:"):
            independent_check(run_dir, spec)


if __name__ == "__main__":
    sys.exit(main())
