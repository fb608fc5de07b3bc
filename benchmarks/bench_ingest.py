"""Time `nt ingest` on a synthetic NaturalReasoning-shaped Parquet file (1.1M rows by default).

    .venv/bin/python benchmarks/bench_ingest.py            # full scale: writes ~1.1M rows, runs twice
    .venv/bin/python benchmarks/bench_ingest.py --rows 50000

The file has NaturalReasoning's columns (question, reference_answer, responses[{response,
response_model}]), log-normal question lengths (median ~45 words, long tail), about 3% exact
duplicates, 3% near duplicates (a few words changed) and a few hundred GSM8K questions embedded in
longer questions (so decontamination has work). `nt ingest` runs as a subprocess, once with
near-duplicate detection and once without (both with the default decontamination), and the
script prints wall time and that process's peak RSS (os.wait4) beside the targets.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

TARGETS = {"exact": (120.0, 6.0), "near": (900.0, 6.0)}  # seconds, GB


def _vocabulary(rng: np.random.Generator, size: int = 30_000) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(2, 11, size)
    return ["".join(rng.choice(letters, n)) for n in lengths]


def _texts(
    rng: np.random.Generator, vocab: list[str], count: int, median_words: float, sigma: float, max_words: int
) -> list[str]:
    lengths = np.clip(rng.lognormal(np.log(median_words), sigma, count).astype(int), 6, max_words)
    ranks = np.minimum(rng.zipf(1.3, int(lengths.sum())) - 1, len(vocab) - 1)  # Zipf word frequencies
    words = [vocab[r] for r in ranks.tolist()]
    out, at = [], 0
    for n in lengths.tolist():
        out.append(" ".join(words[at : at + n]))
        at += n
    return out


def _perturb(rng: np.random.Generator, text: str, vocab: list[str], changes: int = 2) -> str:
    words = text.split()
    for i in rng.integers(0, len(words), changes):
        words[i] = vocab[int(rng.integers(len(vocab)))]
    return " ".join(words)


def write_synthetic(path: Path, rows: int, seed: int = 0, batch: int = 100_000) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from naturalthoughts.benchmarks import load

    rng = np.random.default_rng(seed)
    vocab = _vocabulary(rng)
    responses = _texts(rng, vocab, 5_000, 180, 0.5, 1500)  # pool: responses are long, content irrelevant here
    gsm8k = [item.question for item in load("gsm8k")]
    response_type = pa.list_(pa.struct([("response", pa.string()), ("response_model", pa.string())]))
    schema = pa.schema([("question", pa.string()), ("reference_answer", pa.string()), ("responses", response_type)])
    recent: list[str] = []
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for start in range(0, rows, batch):
            n = min(batch, rows - start)
            questions = _texts(rng, vocab, n, 45, 0.6, 1200)
            for i in range(n):
                roll = rng.random()
                earlier = questions[int(rng.integers(i))] if i and (not recent or rng.random() < 0.5) else None
                if earlier is None and recent:
                    earlier = recent[int(rng.integers(len(recent)))]
                if roll < 0.03 and earlier:
                    questions[i] = earlier
                elif roll < 0.06 and earlier and len(earlier.split()) >= 30:
                    questions[i] = _perturb(rng, earlier, vocab)
                elif 0.06 <= roll < 0.0603:
                    questions[i] = f"{questions[i]} {gsm8k[int(rng.integers(len(gsm8k)))]}"
            recent = questions[-20_000:]
            answers = [str(int(x)) if x < 1e6 else "" for x in rng.lognormal(3, 3, n)]
            picks = rng.integers(0, len(responses), n).tolist()
            response_lists = [[{"response": responses[p], "response_model": "Llama3.3-70B-Instruct"}] for p in picks]
            writer.write_table(
                pa.table(
                    {
                        "question": questions,
                        "reference_answer": answers,
                        "responses": pa.array(response_lists, response_type),
                    },
                    schema=schema,
                )
            )
            print(f"  wrote {start + n:,} rows", file=sys.stderr, end="\r")
    print(file=sys.stderr)


def run_ingest(data: Path, run: Path, near_dup: bool) -> tuple[float, float, str]:
    """(wall seconds, peak RSS GB of the `nt ingest` process, its last output lines)."""
    cmd = [sys.executable, "-c", "from naturalthoughts.cli import main; main()", "ingest", str(data), "--run", str(run)]
    if not near_dup:
        cmd.append("--no-near-dup")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "COLUMNS": "100"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    output = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"nt ingest failed ({status}):\n{output}")
    return wall, usage.ru_maxrss / 1024**2, output  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/nt-bench-ingest"))
    parser.add_argument("--reuse", action="store_true", help="reuse an existing synthetic file of the same size")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = args.workdir / f"synthetic_{args.rows}.parquet"
    if not (args.reuse and data.exists()):
        start = time.perf_counter()
        write_synthetic(data, args.rows)
        print(f"synthetic file: {data} ({data.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.0f} s")

    results = {}
    for label, near in (("exact", False), ("near", True)):
        wall, peak, output = run_ingest(data, args.workdir / f"run_{label}", near)
        results[label] = (wall, peak)
        print(output)
    print(f"\n{args.rows:,} rows, {os.cpu_count()} cores (shared machine: timings are noisy)")
    print(f"{'run':<44}{'wall s':>9}{'target s':>10}{'peak GB':>9}{'target GB':>11}")
    names = {"exact": "validation + decontamination + exact dedup", "near": "... + near-duplicate detection"}
    for label, (wall, peak) in results.items():
        target_s, target_gb = TARGETS[label]
        print(f"{names[label]:<44}{wall:>9.1f}{target_s:>10.0f}{peak:>9.2f}{target_gb:>11.1f}")


if __name__ == "__main__":
    main()
