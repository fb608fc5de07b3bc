"""Import 1.4 million synthetic R1-length traces with `nt ingest --traces r1`, then annotate and select the pool.

    .venv/bin/python benchmarks/bench_import.py                      # full scale: 1.4M traces (~22 GB of text)
    .venv/bin/python benchmarks/bench_import.py --traces 20000       # small: shows it works
    .venv/bin/python benchmarks/bench_import.py --reuse              # keep the shards written by the last run
    .venv/bin/python benchmarks/bench_import.py --keep               # leave the run directory for a look

1. Writes a folder of Parquet shards in the r1 layout with OpenR1-Math's column names (``problem``, ``answer``,
   ``response``): distinct questions of random words (log-normal, median 30 words), 10% of rows another response
   to an earlier question (several samples per question), and responses ``<think>\\nreasoning\\n</think>\\n\\nanswer``
   of log-normal length (median 3,700 tokens, mean ~4,000, capped at 16,384; 4 characters a token) made of
   paragraphs of sentences with strategy cues ("Wait", "Let me verify", "Alternatively"...), each trace starting
   with its own number so every response is distinct.
2. Imports them with ``nt ingest SHARDS --run RUN --traces r1 --teacher bench-r1`` (the default near-duplicate
   detection and decontamination) as a child process: wall time and peak RSS (the child's VmHWM, sampled from
   /proc), beside the targets (< 15 min, < 2 GB).
3. Annotates the pool with the lexical strategy and length annotators (``length.tokenizer: approx``, as at any
   million-trace scale on a CPU), then runs ``nt select`` twice (``strategy(min=0)`` and the paper's ``length``
   rule, 100,000 traces each): wall time and peak RSS of each.

The machine's load average is printed before and after each step (the machine is shared: figures taken under load
are pessimistic), and each step's CPU time (user + system over its threads), which load inflates much less.
Everything is written under ``--workdir`` (default ``/tmp/nt-bench-import-N-MEDIAN``; at full scale ~13 GB of shards
and ~13 GB of traces.parquet: keep ~30 GB free); the run directory is removed at the end unless ``--keep``, the
shards unless ``--keep-shards`` (for a later ``--reuse``). ``--median-tokens 25`` imports a pool of the same size
with tiny traces: the memory of the pool's own state (dedup indexes, sample numbers) without the traces' text.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import run_child_measured

TARGET_IMPORT_S = 900.0
TARGET_PEAK_GB = 2.0
TRACES = 1_400_000
MEDIAN_TOKENS = 3_700
MAX_TOKENS = 16_384
CHARS_PER_TOKEN = 4
SHARD_ROWS = 50_000
CUES = [
    "Wait,", "Let me verify this.", "Alternatively,", "Hmm, let me double-check.", "Let me break this down.",
    "So the key idea is", "But what if", "Let me try a simpler case first.", "Going back to the start,",
]  # fmt: skip


def _vocabulary(rng: np.random.Generator, size: int = 30_000) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, n)) for n in rng.integers(2, 11, size)]


def _paragraphs(rng: np.random.Generator, vocab: list[str], count: int = 20_000) -> list[str]:
    """~1,000-character paragraphs of sentences, one in six opening with a strategy cue."""
    out = []
    for _ in range(count):
        sentences = []
        while sum(map(len, sentences)) < 1000:
            words = " ".join(vocab[i] for i in rng.integers(0, len(vocab), int(rng.integers(8, 25))))
            cue = CUES[int(rng.integers(len(CUES)))] + " " if rng.random() < 1 / 6 else ""
            sentences.append(f"{cue}{words}.")
        out.append(" ".join(sentences))
    return out


def write_shards(folder: Path, traces: int, seed: int = 0, median_tokens: int = MEDIAN_TOKENS) -> int:
    """Write ``traces`` rows as Parquet shards; returns the bytes of response text written."""
    rng = np.random.default_rng(seed)
    vocab = _vocabulary(rng)
    paragraphs = _paragraphs(rng, vocab)
    pool = np.array(paragraphs, dtype=object)
    folder.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("problem", pa.string()), ("answer", pa.string()), ("response", pa.string())])
    text_bytes = 0
    recent: list[str] = []
    for shard, start in enumerate(range(0, traces, SHARD_ROWS)):
        n = min(SHARD_ROWS, traces - start)
        lengths = np.clip(rng.lognormal(np.log(median_tokens), 0.4, n), 10, MAX_TOKENS).astype(int)
        question_words = np.clip(rng.lognormal(np.log(30), 0.4, n), 8, 200).astype(int)
        problems, answers, responses = [], [], []
        for i in range(n):
            number = start + i
            if recent and rng.random() < 0.10:  # another response to an earlier question: a further sample
                problems.append(recent[int(rng.integers(len(recent)))])
            else:
                words = " ".join(vocab[w] for w in rng.integers(0, len(vocab), question_words[i]))
                problems.append(f"Problem {number}: {words}?")
                recent.append(problems[-1])
                if len(recent) > 40_000:
                    del recent[:20_000]
            answer = str(int(rng.integers(0, 10_000)))
            chars = lengths[i] * CHARS_PER_TOKEN
            picks = pool[rng.integers(0, len(pool), chars // 1000 + 1)]
            reasoning = f"Trace {number}. " + " ".join(picks.tolist())[:chars]
            responses.append(f"<think>\n{reasoning}\n</think>\n\nThe answer is $\\boxed{{{answer}}}$.")
            answers.append(answer)
            text_bytes += len(responses[-1])
        table = pa.table({"problem": problems, "answer": answers, "response": responses}, schema=schema)
        pq.write_table(table, folder / f"train-{shard:05d}.parquet", compression="zstd", row_group_size=1024)
        print(f"  wrote {start + n:,} traces ({text_bytes / 1e9:.2f} GB of responses)", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return text_bytes


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def nt(*args: str) -> list[str]:
    return [sys.executable, "-m", "naturalthoughts", *args]


def measured(label: str, command: list[str], env: dict[str, str]) -> dict[str, object]:
    """Run one step as a child: its wall time, CPU time (user + system, every thread) and peak RSS, and the load."""
    before, cpu_before = _load(), _children_cpu()
    output, wall, peak_mb = run_child_measured(command, env=env)
    row = {"step": label, "wall_s": round(wall, 1), "cpu_s": round(_children_cpu() - cpu_before, 1),
           "peak_gb": round(peak_mb / 1024, 2), "load_before": before, "load_after": _load()}  # fmt: skip
    figures = f"{wall:.1f} s ({row['cpu_s']} s CPU), peak {peak_mb / 1024:.2f} GB"
    print(f"{label}: {figures} (load {before} -> {row['load_after']})", file=sys.stderr)
    row["output_tail"] = output.strip().splitlines()[-3:] if output.strip() else []
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=TRACES)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="reuse the shards written before (same --traces)")
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    parser.add_argument("--keep-shards", action="store_true", help="keep the shards for a later --reuse")
    parser.add_argument("--select-size", type=int, default=100_000)
    parser.add_argument("--no-near-dup", action="store_true", help="import without near-duplicate detection")
    parser.add_argument(
        "--median-tokens", type=int, default=MEDIAN_TOKENS, help="median trace length (small: memory of the pool alone)"
    )
    args = parser.parse_args()
    workdir = args.workdir or Path(f"/tmp/nt-bench-import-{args.traces}-{args.median_tokens}")
    shards, run = workdir / "shards", workdir / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "COLUMNS": "120"}  # fmt: skip
    if not (args.reuse and shards.is_dir() and any(shards.glob("*.parquet"))):
        shutil.rmtree(shards, ignore_errors=True)
        print(f"writing {args.traces:,} synthetic traces to {shards} ...", file=sys.stderr)
        write_shards(shards, args.traces, median_tokens=args.median_tokens)
    on_disk = sum(p.stat().st_size for p in shards.glob("*.parquet"))
    shutil.rmtree(run, ignore_errors=True)
    annotate_config = workdir / "annotate.yaml"
    annotate_config.write_text("annotate:\n  length:\n    tokenizer: approx\n", encoding="utf-8")
    rows = []
    try:
        ingest = ["ingest", str(shards), "--run", str(run), "--traces", "r1", "--teacher", "bench-r1", "--quiet"]
        rows.append(measured("import (nt ingest --traces r1)",
                             nt(*ingest, *(["--no-near-dup"] if args.no_near_dup else [])), env))  # fmt: skip
        record = json.loads((run / "manifest.json").read_text())["stages"]["ingest"][-1]
        rows.append(measured("annotate --only length,strategies (lexical, approx)",
                             nt("annotate", "--run", str(run), "--only", "length,strategies", "--config",
                                str(annotate_config), "--quiet"), env))  # fmt: skip
        for method, name in (("strategy(min=0)", "diverse"), ("length", "paper-length")):
            rows.append(measured(f"select {method} --size {args.select_size:,}",
                                 nt("select", "--run", str(run), "--method", method, "--size",
                                    str(args.select_size), "--name", name, "--allow-smaller"), env))  # fmt: skip
        traces_gb = (run / "traces.parquet").stat().st_size / 1e9
    finally:
        if not args.keep:
            shutil.rmtree(run, ignore_errors=True)
        if not (args.keep_shards or args.reuse):
            shutil.rmtree(shards, ignore_errors=True)
    print(f"\n{args.traces:,} traces, shards {on_disk / 1e9:.2f} GB on disk, traces.parquet {traces_gb:.2f} GB")
    print(f"ingest counts: {record['counts']}")
    print(f"import: {record['traces']['complete']:,} complete, {record['traces']['over_length_cap']:,} over the cap")
    print("\n| step | wall | CPU (user + sys) | peak RSS | load before -> after |\n|---|---|---|---|---|")
    for row in rows:
        load = f"{row['load_before']} -> {row['load_after']}"
        print(f"| {row['step']} | {row['wall_s']} s | {row['cpu_s']} s | {row['peak_gb']} GB | {load} |")
    first = rows[0]
    wall_met = "met" if first["wall_s"] < TARGET_IMPORT_S else "MISSED"
    peak_met = "met" if first["peak_gb"] < TARGET_PEAK_GB else "MISSED"
    print(f"\nimport targets: wall < {TARGET_IMPORT_S:.0f} s: {wall_met}; peak < {TARGET_PEAK_GB} GB: {peak_met}")


if __name__ == "__main__":
    main()
