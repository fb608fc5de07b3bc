"""The bundled teacher on reasoning-gym task settings: its pass rate per setting (to pick tasks in the 20-60% range),
and the verifier correctness annotation's recall and precision against the tasks' own scorer.

For each task setting below, N questions are ingested into one run, the bundled SmolLM2-135M teacher answers each K
times (its embedded llama.cpp engine, a 64-token thinking budget and a 64-token answer phase, as docs/verifiable.md
measures), and `nt annotate` writes `correctness` (the one checker with each task's scorer: correct_method
reasoning-gym:TASK). Printed:

- per setting: the pass rate (share of verified-correct samples) with its count and standard error;
- recall and precision of the annotation against an independent reference: reasoning-gym's own ``score_answer``
  given 1.0 for the final answer as it stands, its first or last line, its first or last word (punctuation and
  markdown stripped), or reasoning-gym's own ``<answer>`` extraction; every disagreement is printed for reading.

Usage: ``.venv/bin/python benchmarks/bench_verifier.py [--items 20] [--samples 2] [--workdir DIR]``. Generation is
cached in the workdir's response cache (a rerun is quick). CPU-heavy: run on an idle machine for the figures.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

print = functools.partial(print, flush=True)  # progress shows even when piped

SETTINGS = [
    "syllogism",
    "gcd",
    "gcd{max_value=20}",
    "lcm{max_value=12}",
    "basic_arithmetic{max_terms=2,max_digits=1,allow_negation=false,allow_parentheses=false}",
    "chain_sum{max_terms=2,max_digits=1}",
    "leg_counting{min_animals=1,max_animals=2,max_instances=3}",
    "simple_equations{min_terms=2,max_terms=2,max_value=10}",
]


def reference_correct(final: str, scorer: Any) -> bool:
    """The task's own scorer gives a full score to the answer as it stands, a first/last line or word of it, or to
    what reasoning-gym's own <answer> extraction reads."""
    from reasoning_gym.utils import extract_answer

    text = final.replace("**", "").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    words = re.findall(r"[^\s]+", text)
    candidates = {text, extract_answer(text) or ""}
    if lines:
        candidates |= {lines[0], lines[-1]}
    if words:
        candidates |= {words[0], words[-1]}
    cleaned = {c.strip().strip(".,;:!?()[]$\"'").strip() for c in candidates}
    return any(scorer(c) >= 1.0 for c in cleaned | candidates if c)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20, help="questions per task setting")
    parser.add_argument("--samples", type=int, default=2, help="teacher samples per question")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/nt-bench-verifier"))
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (1 on a busy machine)")
    args = parser.parse_args()

    import pyarrow.parquet as pq

    from naturalthoughts.annotate import AnnotateConfig, annotate
    from naturalthoughts.engines.config import LlamaCppEngineConfig
    from naturalthoughts.engines.thinking import ThinkingBudget
    from naturalthoughts.generate import GenerateConfig, generate
    from naturalthoughts.ingest import IngestConfig, ingest
    from naturalthoughts.rundir import RunDir
    from naturalthoughts.text.tasks import parse_task_set, scorer_for

    run = RunDir(args.workdir).ensure()
    specs = [f"reasoning-gym:{setting}:{args.items}:{args.seed}" for setting in SETTINGS]
    print(f"load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}; {len(specs)} settings x {args.items} items "
          f"x {args.samples} samples")  # fmt: skip
    started = time.monotonic()
    ingest(specs, run, IngestConfig(decontaminate=[], near_dup=False))
    config = GenerateConfig(
        engine=LlamaCppEngineConfig(n_parallel=4, n_threads=args.threads),
        samples=args.samples,
        seed=0,
        max_tokens=192,
        thinking=ThinkingBudget(budget=64, answer_max_tokens=64, answer_cue="Final Answer:\n"),
    )
    generate(run, config)
    generated = time.monotonic()
    annotate(run, AnnotateConfig(), only=["correctness"], show_progress=False)
    print(f"generate {generated - started:.0f} s, annotate {time.monotonic() - generated:.0f} s")

    questions = {q["id"]: q for q in pq.read_table(run.questions).to_pylist()}
    traces = {t["trace_id"]: t for t in pq.read_table(run.traces).to_pylist()}
    by_setting: dict[str, list[bool]] = defaultdict(list)
    agree = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    disagreements = []
    for row in pq.read_table(run.annotations).to_pylist():
        question = questions[row["question_id"]]
        trace = traces[row["trace_id"]]
        setting = question["source"].removeprefix("reasoning-gym:").rsplit(":", 2)[0]
        ours = bool(row["correct"])
        by_setting[setting].append(ours)
        found = scorer_for(question["source"], question["source_row"])
        assert found is not None and row["correct_method"] == f"reasoning-gym:{found[0]}", row["correct_method"]
        reference = reference_correct(trace["answer"] or "", found[2]) if trace["answer"] is not None else False
        agree[("t" if ours == reference else "f") + ("p" if ours else "n")] += 1
        if ours != reference:
            disagreements.append((setting, question["reference_answer"], ours, reference, trace["answer"]))

    print("\n| task setting | pass rate | samples |\n|---|---|---|")
    for setting in SETTINGS:
        verdicts = by_setting[parse_task_set(f"{setting}:1").tasks[0].text]
        rate = sum(verdicts) / len(verdicts)
        stderr = math.sqrt(rate * (1 - rate) / len(verdicts))
        print(f"| `{setting}` | {100 * rate:.0f}% ± {100 * stderr:.0f} | {len(verdicts)} |")
    tp, fp, fn = agree["tp"], agree["fp"], agree["fn"]
    recall = tp / (tp + fn) if tp + fn else float("nan")
    precision = tp / (tp + fp) if tp + fp else float("nan")
    print(f"\nverifier correctness vs the tasks' scorer: recall {100 * recall:.1f}% ({tp}/{tp + fn}), precision "
          f"{100 * precision:.1f}% ({tp}/{tp + fp}), {sum(agree.values())} traces")  # fmt: skip
    for setting, gold, ours, reference, answer in disagreements[:40]:
        said = " ".join(str(answer).split())[:160]
        print(f"- {setting} gold {gold!r}: annotation {ours}, reference {reference}: {said}")
    print(f"load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
