"""The bundled teacher on reasoning-gym task settings: its pass rate per setting (to pick tasks in the 20-60% range),
and the verifier correctness annotation's recall and precision against the tasks' own scorer.

For each task setting below, N questions are ingested into one run, the bundled SmolLM2-135M teacher answers each K
times (its embedded llama.cpp engine, a 64-token thinking budget and a 64-token answer phase, as docs/reasoning-gym.md
measures), and `nt annotate` writes `correctness` (the one checker with each task's scorer: correct_method
reasoning-gym:TASK). Printed:

- per setting: the pass rate (share of verified-correct samples) with its count and standard error;
- recall and precision of the annotation against two references built from reasoning-gym's own ``score_answer``
  without the checker: *strict* (the reply as it stands, or reasoning-gym's own ``<answer>`` extraction, scores
  1.0) and *lenient* (any span a reader could take for the answer scores 1.0: a line, a sentence, the text after an
  answer cue, the first or last word of each); every disagreement with the lenient one is printed for reading.

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


_ANCHOR = re.compile(r"(?:final answer|answer is|answer:)\s*:?\s*", re.IGNORECASE)


def candidates(final: str) -> set[str]:
    """Every span a reader could take for the answer: the whole reply, reasoning-gym's own <answer> extraction, each
    line and sentence, the text after an answer cue in each, and the first and last word of each of those."""
    from reasoning_gym.utils import extract_answer

    text = final.replace("**", "").strip()
    spans = {text, extract_answer(text) or ""}
    for line in text.splitlines():
        for sentence in re.split(r"(?<=[.!?])\s+", line):
            spans.add(sentence)
            spans |= {sentence[m.end() :] for m in _ANCHOR.finditer(sentence)}
    words = set()
    for span in spans:
        tokens = span.split()
        if tokens:
            words |= {tokens[0], tokens[-1]}
    return {c.strip().strip(".,;:!?()[]$\"'").strip() for c in spans | words} - {""}


def reference(final: str, scorer: Any) -> tuple[bool, bool]:
    """(strict, lenient) verdicts of the task's own scorer, independent of the checker: strict, the reply as it
    stands or its <answer> tag scores 1.0; lenient, any span a reader could take for the answer does."""
    from reasoning_gym.utils import extract_answer

    text = final.strip()
    strict = scorer(text) >= 1.0 or scorer(extract_answer(text) or "") >= 1.0
    return strict, strict or any(scorer(c) >= 1.0 for c in candidates(text))


def rates(pairs: list[tuple[bool, bool]]) -> str:
    tp = sum(1 for ours, ref in pairs if ours and ref)
    fp = sum(1 for ours, ref in pairs if ours and not ref)
    fn = sum(1 for ours, ref in pairs if ref and not ours)
    recall = 100 * tp / (tp + fn) if tp + fn else float("nan")
    precision = 100 * tp / (tp + fp) if tp + fp else float("nan")
    return f"recall {recall:.1f}% ({tp}/{tp + fn}), precision {precision:.1f}% ({tp}/{tp + fp})"


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
    ingest(run, IngestConfig(decontaminate=[], near_dup=False), sources=specs, force=True)
    config = GenerateConfig(
        engine=LlamaCppEngineConfig(n_parallel=4, n_threads=args.threads),
        samples=args.samples,
        seed=0,
        max_tokens=192,
        thinking=ThinkingBudget(budget=64, answer_max_tokens=64, answer_cue="Final Answer:\n"),
    )
    generate(run, config)
    generated = time.monotonic()
    annotate(run, AnnotateConfig(), only=["correctness"], quiet=True, force=True)
    print(f"generate {generated - started:.0f} s, annotate {time.monotonic() - generated:.0f} s")

    questions = {q["id"]: q for q in pq.read_table(run.questions).to_pylist()}
    traces = {t["trace_id"]: t for t in pq.read_table(run.traces).to_pylist()}
    by_setting: dict[str, list[bool]] = defaultdict(list)
    strict_pairs: list[tuple[bool, bool]] = []
    lenient_pairs: list[tuple[bool, bool]] = []
    disagreements = []
    for row in pq.read_table(run.annotations).to_pylist():
        question = questions[row["question_id"]]
        trace = traces[row["trace_id"]]
        setting = question["source"].removeprefix("reasoning-gym:").rsplit(":", 2)[0]
        ours = bool(row["correct"])
        by_setting[setting].append(ours)
        found = scorer_for(question["source"], question["source_row"])
        assert found is not None and row["correct_method"] == f"reasoning-gym:{found[0]}", row["correct_method"]
        strict, lenient = reference(trace["answer"] or "", found[2]) if trace["answer"] else (False, False)
        strict_pairs.append((ours, strict))
        lenient_pairs.append((ours, lenient))
        if ours != lenient:
            disagreements.append((setting, question["reference_answer"], ours, lenient, trace["answer"]))

    print("\n| task setting | pass rate | samples |\n|---|---|---|")
    for setting in SETTINGS:
        verdicts = by_setting[parse_task_set(f"{setting}:1").tasks[0].text]
        rate = sum(verdicts) / len(verdicts)
        stderr = math.sqrt(rate * (1 - rate) / len(verdicts))
        print(f"| `{setting}` | {100 * rate:.0f}% ± {100 * stderr:.0f} | {len(verdicts)} |")
    print(f"\nverifier correctness vs the tasks' scorer on the reply as it stands (strict): {rates(strict_pairs)}")
    print(f"verifier correctness vs the tasks' scorer on any span a reader takes (lenient): {rates(lenient_pairs)}")
    print(f"{len(lenient_pairs)} traces; disagreements with the lenient reference, to read:")
    for setting, gold, ours, lenient, answer in disagreements[:60]:
        said = " ".join(str(answer).split())[:200]
        print(f"- {setting} gold {gold!r}: annotation {ours}, lenient reference {lenient}: {said}")
    print(f"load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
