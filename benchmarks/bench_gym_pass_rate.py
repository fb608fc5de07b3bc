"""The bundled teacher's pass rate on reasoning-gym task settings (which tasks it can sometimes solve), and with
``--verifier`` the correctness annotation's recall and precision against the tasks' own scorer.

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

With ``--verifier``, ``nt annotate`` then writes ``correctness`` (correct_method ``reasoning-gym:TASK``) and the
script prints how often the annotation agrees with the scoring above, and the annotation's recall and precision
against two references built from reasoning-gym's own ``score_answer`` without the checker: *strict* (the reply as
it stands, or reasoning-gym's own ``<answer>`` extraction, scores 1.0) and *lenient* (any span a reader could take
for the answer scores 1.0: a line, a sentence, the text after an answer cue, the first or last word of each); every
disagreement with the lenient one is printed for reading.

Usage (validated small; the table in docs/reasoning-gym.md came from the defaults, the verifier figures in
benchmarks/README.md from the command given there):

    .venv/bin/python benchmarks/bench_gym_pass_rate.py [--items 30] [--samples 2] [--seed 0] [--threads 1]
        [--sampling-seed SEED] [--budget 128] [--max-tokens 2*BUDGET] [--temperature 0.6] [--verifier]
        [--run /tmp/gym-pass-rate] [SETTING ...]

A rerun with the same run directory reuses the response cache (nothing is generated twice). Wall time depends on
the machine's load; the pass rates do not (fixed sampling seed), up to llama.cpp's own numeric noise.
"""

from __future__ import annotations

import argparse
import os
import re
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
    """One record per (setting, trace of one of its questions): question, trace, pass (full score), score, answered.

    A setting's questions are its own generated items (duplicates within it counted once); a question two settings
    share (ingest keeps one copy) counts in both, scored by each setting's scorer."""
    import pyarrow.parquet as pq

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
            records += [_record(task.text, question, trace, reference, scorer) for trace in traces[question]]
    return records


def _record(setting: str, question: str, trace: dict[str, Any], reference: str, scorer: Any) -> dict[str, Any]:
    """A trace scored as annotation's correctness does: its final answer through the one checker with the task's
    own scorer (no answer when the reply was cut before its reasoning closed)."""
    from naturalthoughts.annotate.correctness import trace_answer
    from naturalthoughts.text.grading import check, kind_of

    final = (
        None if trace["answer"] is None else trace_answer(trace["reasoning"], trace["answer"], trace["finish_reason"])
    )
    verdict = check(kind_of(reference), reference, final, scorer=scorer)
    return {"setting": setting, "question": question, "trace_id": trace["trace_id"], "passed": bool(verdict.correct),
            "score": verdict.score or 0.0, "answered": verdict.extracted is not None}  # fmt: skip


def score_run(run_root: Path) -> list[dict[str, Any]]:
    """The records of :func:`score_traces` for the traces of an existing run (a study's pool, say), each question
    scored by the task of its own source row (the setting is the question's source label)."""
    import pyarrow.parquet as pq

    from naturalthoughts.text.tasks import scorer_for

    questions = {q["id"]: q for q in pq.read_table(run_root / "questions.parquet").to_pylist()}
    records = []
    for trace in pq.read_table(run_root / "traces.parquet").to_pylist():
        question = questions[trace["question_id"]]
        found = scorer_for(question["source"], question["source_row"])
        assert found is not None, f"{question['source']}: not a reasoning-gym question"
        _, reference, scorer = found
        records.append(_record(_setting_of(question["source"]), question["question"], trace, reference, scorer))
    return records


def _setting_of(source: str) -> str:
    return source.removeprefix("reasoning-gym:").rsplit(":", 2)[0]


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


def verifier_report(run_root: Path, records: list[dict[str, Any]]) -> None:
    """Annotate ``correctness`` and print its agreement with ``records`` (the scoring above) and its recall and
    precision against the strict and lenient references, with every disagreement with the lenient one."""
    import pyarrow.parquet as pq

    from naturalthoughts.annotate import AnnotateConfig, annotate
    from naturalthoughts.rundir import RunDir
    from naturalthoughts.text.tasks import scorer_for

    run = RunDir(run_root)
    start = time.monotonic()
    annotate(run, AnnotateConfig(), only=["correctness"], quiet=True, force=True)
    annotate_wall = time.monotonic() - start
    questions = {q["id"]: q for q in pq.read_table(run.questions).to_pylist()}
    traces = {t["trace_id"]: t for t in pq.read_table(run.traces).to_pylist()}
    scored = {(r["setting"], r["trace_id"]): r["passed"] for r in records}
    strict_pairs: list[tuple[bool, bool]] = []
    lenient_pairs: list[tuple[bool, bool]] = []
    agree, disagreements = 0, []
    for row in pq.read_table(run.annotations).to_pylist():
        question, trace = questions[row["question_id"]], traces[row["trace_id"]]
        setting = _setting_of(question["source"])
        ours = bool(row["correct"])
        found = scorer_for(question["source"], question["source_row"])
        assert found is not None and row["correct_method"] == f"reasoning-gym:{found[0]}", row["correct_method"]
        agree += ours == scored[(setting, trace["trace_id"])]
        strict, lenient = reference(trace["answer"], found[2]) if trace["answer"] else (False, False)
        strict_pairs.append((ours, strict))
        lenient_pairs.append((ours, lenient))
        if ours != lenient:
            disagreements.append((setting, question["reference_answer"], ours, lenient, trace["answer"]))
    print(f"\ncorrectness annotation agrees with the scoring above on {agree} of {len(lenient_pairs)} traces")
    print(f"verifier correctness vs the tasks' scorer on the reply as it stands (strict): {rates(strict_pairs)}")
    print(f"verifier correctness vs the tasks' scorer on any span a reader takes (lenient): {rates(lenient_pairs)}")
    print(f"{len(lenient_pairs)} traces; disagreements with the lenient reference, to read:")
    for setting, gold, ours, lenient, answer in disagreements[:60]:
        said = " ".join(str(answer).split())[:200]
        print(f"- {setting} gold {gold!r}: annotation {ours}, lenient reference {lenient}: {said}")
    print(f"annotate {annotate_wall:.0f} s", file=sys.stderr)


def verify_existing(source: Path) -> None:
    """The verifier report on a copy of ``source``'s questions and traces (annotate rewrites the copy's
    annotations, never the run's own)."""
    import shutil

    copy = Path(tempfile.mkdtemp(prefix="gym-verify-"))
    for name in ("questions.parquet", "traces.parquet"):
        shutil.copy2(source / name, copy / name)
    records = score_run(copy)
    settings = list(dict.fromkeys(r["setting"] for r in records))
    print(f"traces of {source} ({len(records)}), scored by the task of each question's own source row")
    for row in table(records, settings):
        print("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    verifier_report(copy, records)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("settings", nargs="*", default=DEFAULT_SETTINGS, help="task settings (TASK{key=value,...})")
    parser.add_argument("--items", type=int, default=30, help="questions per setting")
    parser.add_argument("--samples", type=int, default=2, help="samples per question")
    parser.add_argument("--seed", type=int, default=0, help="item seed (and sampling seed unless --sampling-seed)")
    parser.add_argument("--sampling-seed", type=int, default=None, help="the teacher's sampling seed (default: --seed)")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (1 is fastest on a busy machine)")
    parser.add_argument(
        "--budget",
        type=int,
        default=None,
        help="thinking budget in tokens, and as many answer tokens (default: nt generate's own, 128)",
    )
    parser.add_argument("--max-tokens", type=int, default=None, help="completion cap (default: twice the budget)")
    parser.add_argument("--temperature", type=float, default=None, help="default: nt generate's own, 0.6")
    parser.add_argument(
        "--verifier", action="store_true", help="annotate correctness and report its recall and precision"
    )
    parser.add_argument("--run", type=Path, default=None, help="run directory (default: a fresh temporary one)")
    parser.add_argument(
        "--from-run",
        type=Path,
        default=None,
        help="score and verify the traces of an existing run (a copy of its tables: the run is not touched), "
        "generating nothing; implies --verifier",
    )
    args = parser.parse_args(argv)
    if args.from_run is not None:
        verify_existing(args.from_run)
        return

    from naturalthoughts.engines.config import LlamaCppEngineConfig
    from naturalthoughts.engines.thinking import ThinkingBudget
    from naturalthoughts.generate import GenerateConfig, generate
    from naturalthoughts.ingest import IngestConfig, ingest

    run_root = args.run or Path(tempfile.mkdtemp(prefix="gym-pass-rate-"))
    spec = f"reasoning-gym:{','.join(args.settings)}:{args.items}:{args.seed}"
    # nt generate's defaults for the embedded teacher (its default thinking budget: 128 reasoning tokens closed with
    # "Final Answer:", up to 128 answer tokens), seeded; max_tokens as the two phases together
    budget = args.budget or 128
    sampling_seed = args.seed if args.sampling_seed is None else args.sampling_seed
    config = GenerateConfig(
        engine=LlamaCppEngineConfig(n_parallel=4, **({"n_threads": args.threads} if args.threads else {})),
        samples=args.samples, seed=sampling_seed, max_tokens=args.max_tokens or 2 * budget, progress=False,
        **({"thinking": ThinkingBudget(budget=budget, answer_max_tokens=budget, answer_cue="Final Answer:\n")}
           if args.budget else {}),
        **({"temperature": args.temperature} if args.temperature is not None else {}),
    )  # fmt: skip
    start, load_before = time.monotonic(), os.getloadavg()[0]
    ingested = ingest(run_root, IngestConfig(decontaminate=[]), sources=[spec], force=True)
    generate(run_root, config, quiet=True)
    wall, load_after = time.monotonic() - start, os.getloadavg()[0]
    settings = _canonical(args.settings)
    records = score_traces(run_root, settings, args.items, args.seed)
    rows = table(records, settings)
    header = ["task setting", "questions", "samples", "pass rate % ± SE", "mean score", "no answer",
              f"solved in {args.samples}"]  # fmt: skip
    print(f"spec: {spec}\nteacher: the bundled SmolLM2-135M on the embedded llama.cpp engine, thinking budget "
          f"{budget} + {budget} answer tokens, temperature {config.temperature}, {args.samples} samples/question, "
          f"max_tokens {config.max_tokens}, sampling seed {sampling_seed}; {ingested.kept} distinct questions of "
          f"{ingested.read} generated (a setting's repeated questions count once)")  # fmt: skip
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    print(f"\nwall {wall / 60:.1f} min; load average {load_before:.1f} at start, {load_after:.1f} at end "
          f"({os.cpu_count()} cores); run directory {run_root}", file=sys.stderr)  # fmt: skip
    if args.verifier:
        verifier_report(run_root, records)


def _canonical(settings: list[str]) -> list[str]:
    from naturalthoughts.text.tasks import parse_tasks

    return [task.text for task in parse_tasks(",".join(settings), "settings")]


if __name__ == "__main__":
    main()
