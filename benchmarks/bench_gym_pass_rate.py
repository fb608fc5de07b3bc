"""The bundled teacher's pass rate on reasoning-gym task settings: which tasks it can sometimes solve.

For every task setting (a task with parameters, as a source spec writes it), through the real pipeline:
``ingest`` the items (``reasoning-gym:SETTING,...:N:SEED``), ``generate`` with nt generate's embedded teacher as it
comes (SmolLM2-135M on the embedded llama.cpp engine, its default thinking budget: 128 reasoning tokens closed with
"Final Answer:", then up to 128 answer tokens; temperature 0.6; ``--samples`` per question, seeded; ``--budget 64
--temperature 0.8`` gives the make-run default's and the verifiable study's settings), then score every
trace as annotation's correctness does: the trace's final answer (none when the reply was cut before its reasoning
closed) through the one answer checker with the task's own ``score_answer`` (``text.tasks.scorer_for``).

Printed per setting: questions and samples, the pass rate (share of samples with a full score) with its standard
error over questions (samples of one question are clustered: :func:`naturalthoughts.stats.clustered_mean`), the
mean partial score, the share of samples with no answer, and the share of questions solved at least once.

Usage (validated small; the table in docs/reasoning-gym.md came from the defaults):

    .venv/bin/python benchmarks/bench_gym_pass_rate.py [--items 30] [--samples 2] [--seed 0] [--threads 1]
        [--budget 128] [--temperature 0.6] [--run /tmp/gym-pass-rate] [SETTING ...]

A rerun with the same run directory reuses the response cache (nothing is generated twice). Wall time depends on
the machine's load; the pass rates do not (fixed sampling seed), up to llama.cpp's own numeric noise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

# Settings that put the 135M teacher near the 20-60% range (smaller numbers, fewer terms), found with a first pass
# of 15 questions each over more settings; two at default parameters (syllogism, gcd) and two easy-looking ones it
# still fails (one-digit products, one animal's legs) for reference.
DEFAULT_SETTINGS = [
    "syllogism",
    "gcd",
    "gcd{max_value=10}",
    "lcm{max_value=10}",
    "chain_sum{max_terms=2,max_digits=1}",
    "basic_arithmetic{max_terms=2,max_digits=1,operators=[+;-],allow_parentheses=false,allow_negation=false}",
    "basic_arithmetic{max_terms=2,max_digits=1,operators=[+],allow_parentheses=false,allow_negation=false}",
    "products{max_digits=1}",
    "leg_counting{min_animals=1,max_animals=1,max_instances=3}",
]


def score_traces(run_root: Path, settings: list[str], items: int, seed: int) -> list[dict[str, Any]]:
    """One record per (setting, trace of one of its questions): question, pass (full score), score, answered.

    A setting's questions are its own generated items (duplicates within it counted once); a question two settings
    share (ingest keeps one copy) counts in both, scored by each setting's scorer."""
    import pyarrow.parquet as pq

    from naturalthoughts.annotate.correctness import trace_answer
    from naturalthoughts.text.grading import check, kind_of
    from naturalthoughts.text.tasks import TaskSet, entries, parse_tasks, scorer_for

    questions = {q["id"]: q["question"] for q in pq.read_table(run_root / "questions.parquet").to_pylist()}
    traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for trace in pq.read_table(run_root / "traces.parquet").to_pylist():
        if trace["question_id"] in questions:
            traces[questions[trace["question_id"]].strip()].append(trace)
    records = []
    for task in parse_tasks(",".join(settings), "settings"):
        task_set = TaskSet((task,), items, seed)
        rows = {str(entry["question"]).strip(): row for _, row, entry in entries(task_set)}
        for question, row in rows.items():
            found = scorer_for(task_set.label(task), row)
            assert found is not None and traces[question], f"{task.text}: no scorer or no trace for row {row}"
            _, reference, scorer = found
            for trace in traces[question]:
                final = None if trace["answer"] is None else trace_answer(trace["reasoning"], trace["answer"],
                                                                           trace["finish_reason"])  # fmt: skip
                verdict = check(kind_of(reference), reference, final, scorer=scorer)
                records.append({"setting": task.text, "question": question, "passed": bool(verdict.correct),
                                "score": verdict.score or 0.0, "answered": verdict.extracted is not None})  # fmt: skip
    return records


def table(records: list[dict[str, Any]], settings: list[str]) -> list[list[str]]:
    from naturalthoughts.stats import clustered_mean

    by_setting: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_setting[record["setting"]].append(record)
    rows = []
    for setting in settings:
        group = by_setting.get(setting, [])
        if not group:
            rows.append([setting, "0", "0", "–", "–", "–", "–"])
            continue
        clusters = [r["question"] for r in group]
        passed = clustered_mean([float(r["passed"]) for r in group], clusters)
        solved: dict[str, bool] = defaultdict(bool)
        for r in group:
            solved[r["question"]] |= r["passed"]
        rows.append([
            setting, str(len(solved)), str(len(group)), f"{100 * passed.mean:.0f} ± {100 * passed.stderr:.0f}",
            f"{sum(r['score'] for r in group) / len(group):.2f}",
            f"{100 * sum(not r['answered'] for r in group) / len(group):.0f}%",
            f"{100 * sum(solved.values()) / len(solved):.0f}%",
        ])  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("settings", nargs="*", default=DEFAULT_SETTINGS, help="task settings (TASK{key=value,...})")
    parser.add_argument("--items", type=int, default=30, help="questions per setting")
    parser.add_argument("--samples", type=int, default=2, help="samples per question")
    parser.add_argument("--seed", type=int, default=0, help="item seed and sampling seed")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (1 is fastest on a busy machine)")
    parser.add_argument(
        "--budget",
        type=int,
        default=None,
        help="thinking budget in tokens, and as many answer tokens (default: nt generate's own, 128)",
    )
    parser.add_argument("--temperature", type=float, default=None, help="default: nt generate's own, 0.6")
    parser.add_argument("--run", type=Path, default=None, help="run directory (default: a fresh temporary one)")
    args = parser.parse_args(argv)

    from naturalthoughts.engines.config import LlamaCppEngineConfig
    from naturalthoughts.engines.thinking import ThinkingBudget
    from naturalthoughts.generate import GenerateConfig, generate
    from naturalthoughts.ingest import IngestConfig, ingest

    run_root = args.run or Path(tempfile.mkdtemp(prefix="gym-pass-rate-"))
    spec = f"reasoning-gym:{','.join(args.settings)}:{args.items}:{args.seed}"
    # nt generate's defaults for the embedded teacher (its default thinking budget: 128 reasoning tokens closed with
    # "Final Answer:", up to 128 answer tokens), seeded; max_tokens as the two phases together
    budget = args.budget or 128
    config = GenerateConfig(
        engine=LlamaCppEngineConfig(n_parallel=4, **({"n_threads": args.threads} if args.threads else {})),
        samples=args.samples, seed=args.seed, max_tokens=2 * budget, progress=False,
        **({"thinking": ThinkingBudget(budget=budget, answer_max_tokens=budget, answer_cue="Final Answer:\n")}
           if args.budget else {}),
        **({"temperature": args.temperature} if args.temperature is not None else {}),
    )  # fmt: skip
    start, load_before = time.monotonic(), os.getloadavg()[0]
    ingested = ingest(run_root, IngestConfig(decontaminate=[]), sources=[spec], force=True)
    generate(run_root, config, quiet=True)
    wall, load_after = time.monotonic() - start, os.getloadavg()[0]
    settings = _canonical(args.settings)
    rows = table(score_traces(run_root, settings, args.items, args.seed), settings)
    header = ["task setting", "questions", "samples", "pass rate % ± SE", "mean score", "no answer",
              f"solved in {args.samples}"]  # fmt: skip
    print(f"spec: {spec}\nteacher: the bundled SmolLM2-135M on the embedded llama.cpp engine, thinking budget "
          f"{budget} + {budget} answer tokens, temperature {config.temperature}, {args.samples} samples/question, "
          f"sampling seed {args.seed}; {ingested.kept} distinct questions of {ingested.read} generated (a setting's "
          "repeated questions count once)")  # fmt: skip
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    print(f"\nwall {wall / 60:.1f} min; load average {load_before:.1f} at start, {load_after:.1f} at end "
          f"({os.cpu_count()} cores); run directory {run_root}", file=sys.stderr)  # fmt: skip


def _canonical(settings: list[str]) -> list[str]:
    from naturalthoughts.text.tasks import parse_tasks

    return [task.text for task in parse_tasks(",".join(settings), "settings")]


if __name__ == "__main__":
    main()
