"""Benchmark `nt select`: every method at 1k, 10k, 100k and 500k on a 1M-trace annotated pool.

Builds (once) a synthetic run directory with one million traces, their annotations and 384-dimensional
embeddings as Parquet, then runs each method and size in a fresh subprocess, timing it and reading the
subprocess's peak resident memory, and prints the figures beside the targets (60 s per method and size,
semantic 120 s, peak memory 6 GB).

    .venv/bin/python benchmarks/bench_select.py                   # the full benchmark (builds the pool in /tmp)
    .venv/bin/python benchmarks/bench_select.py --rows 100000 --sizes 1000,10000 --methods random,topic
    .venv/bin/python benchmarks/bench_select.py --pool /tmp/nt-bench-select   # reuse a pool built before
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from naturalthoughts.manifest import Manifest, fingerprint, new_record_id, now
from naturalthoughts.rundir import RunDir
from naturalthoughts.staleness import annotator_freshness
from naturalthoughts.tables import ANNOTATIONS, QUESTIONS, TRACES, embeddings_schema

METHODS = [
    "random",
    "topic",
    "semantic",
    "strategy",
    "strategy(mode=coverage)",
    "length",
    "length(mode=longest)",
    "verbosity(level=medium)",
    "disagree",
    "short-ref",
    "filter:complete,correct>disagree>strategy",
]
SIZES = [1_000, 10_000, 100_000, 500_000]
TARGET_SECONDS = {"semantic": 120.0}
DEFAULT_TARGET_SECONDS = 60.0
TARGET_PEAK_GB = 6.0
DOMAINS = [
    "Agronomy", "Economics", "Education", "Engineering", "History", "Law", "Literature and Arts", "Management",
    "Medicine", "Military Science", "Philosophy", "Science", "Sociology",
]  # fmt: skip
STRATEGIES = [f"strategy_{i:02d}" for i in range(24)]


def _nulls(schema: pa.Schema, name: str, n: int) -> pa.Array:
    return pa.nulls(n, schema.field(name).type)


def _table(schema: pa.Schema, n: int, columns: dict[str, pa.Array]) -> pa.Table:
    return pa.Table.from_arrays([columns.get(f.name, _nulls(schema, f.name, n)) for f in schema], schema=schema)


def _strategy_lists(rng: np.random.Generator, counts: np.ndarray) -> pa.Array:
    """Distinct strategy names per trace, built column-wise (a Python list per row would take minutes)."""
    picks = np.argsort(rng.random((len(counts), len(STRATEGIES)), dtype=np.float32), axis=1)
    keep = np.arange(len(STRATEGIES))[None, :] < counts[:, None]
    flat = pa.DictionaryArray.from_arrays(pa.array(picks[keep].astype(np.int32)), pa.array(STRATEGIES))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), flat.cast(pa.string()))


ANNOTATORS = ("length", "domain", "strategies", "verbosity", "correctness", "disagree", "embeddings")


def build_pool(root: Path, rows: int, dim: int, seed: int = 0) -> RunDir:
    """Write traces, annotations, questions and embeddings for ``rows`` synthetic traces.

    The manifest records the traces every annotator was computed from, as the runner does for ``nt annotate``
    (select refuses annotations nothing says are current); a pool built before that is rebuilt."""
    run = RunDir(root).ensure()
    if run.embeddings.exists() and annotator_freshness(run):
        return run
    rng = np.random.default_rng(seed)
    ids = pa.array([f"t{i:08d}" for i in range(rows)])
    qids = pa.array([f"q{i:08d}" for i in range(rows)])
    tokens = np.minimum(rng.lognormal(np.log(3500), 0.8, rows), 30_000).astype(np.int64)
    answer_tokens = rng.integers(5, 400, rows)
    counts = np.clip(rng.poisson(5.5, rows), 0, len(STRATEGIES))
    domain_weights = np.geomspace(1, 0.05, len(DOMAINS))  # skewed, as real topic distributions are
    traces = {
        "trace_id": ids, "question_id": qids, "sample": pa.array(np.zeros(rows, np.int32)),
        "complete": pa.array(rng.random(rows) < 0.97), "finish_reason": pa.array(["stop"] * rows),
        "reasoning_tokens": pa.array(tokens), "answer_tokens": pa.array(answer_tokens),
        "completion_tokens": pa.array(tokens + answer_tokens), "forced": pa.array(rng.random(rows) < 0.1),
        "response_hash": pa.array(np.char.add("h", np.arange(rows).astype(str))),
    }  # fmt: skip
    pq.write_table(_table(TRACES, rows, traces), run.traces)
    annotations = {
        "trace_id": ids, "question_id": qids,
        "domain": pa.array(rng.choice(DOMAINS, rows, p=domain_weights / domain_weights.sum())),
        "field": pa.array(np.char.add("field_", rng.integers(0, 280, rows).astype(str))),
        "strategies": _strategy_lists(rng, counts), "n_strategies": pa.array(counts.astype(np.int32)),
        "strategy_density": pa.array(counts / np.maximum(tokens, 1) * 1000),
        "verbosity": pa.array(np.clip(rng.normal(5, 1.5, rows).round(), 0, 10)),
        "reasoning_tokens": pa.array(tokens), "response_tokens": pa.array(tokens + answer_tokens),
        "correct": pa.array(rng.random(rows) < 0.6), "disagree": pa.array(rng.random(rows) < 0.35),
    }  # fmt: skip
    pq.write_table(_table(ANNOTATIONS, rows, annotations), run.annotations)
    Manifest(run.manifest).put({"id": new_record_id(), "stage": "annotate", "status": "done", "finished_at": now(),
                                "inputs": {run.traces.name: fingerprint(run.traces)},
                                "annotators": {name: {} for name in ANNOTATORS}})  # fmt: skip
    words = rng.integers(1, 30, rows)
    answers = pa.array(np.char.add("answer ", np.char.multiply("x ", words - 1)))
    questions = {"id": qids, "question": pa.array(["q?"] * rows), "reference_answer": answers}
    pq.write_table(_table(QUESTIONS, rows, questions), run.questions)
    schema = embeddings_schema(dim).with_metadata({"model": "synthetic", "dim": str(dim), "of": "question"})
    centres = rng.normal(size=(2000, dim)).astype(np.float32)
    with pq.ParquetWriter(run.embeddings, schema, compression="zstd") as writer:
        for start in range(0, rows, 100_000):
            stop = min(start + 100_000, rows)
            vectors = centres[rng.integers(0, len(centres), stop - start)]
            vectors = vectors + rng.normal(scale=0.5, size=vectors.shape).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim)
            writer.write_table(pa.Table.from_arrays([ids[start:stop], qids[start:stop], column], schema=schema))
    return run


def peak_rss_gb() -> float:
    """This process's peak resident memory. VmHWM, unlike ru_maxrss, restarts at exec, so a child does not
    inherit the benchmark parent's peak (which holds the freshly built pool)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_one(pool: str, expr: str, size: int) -> None:
    """Child process: one selection; prints a JSON line with its wall time and peak memory."""
    from naturalthoughts.select import select

    started = time.perf_counter()
    result = select(pool, method=expr, size=size, seed=0, name="bench", allow_smaller=True, force=True)
    seconds = time.perf_counter() - started
    peak_gb = peak_rss_gb()
    print(
        json.dumps({"seconds": seconds, "peak_gb": peak_gb, "selected": result.selected, "eligible": result.eligible})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--methods", default=None, help="expressions separated by ';' (default: every method)")
    parser.add_argument("--pool", default=None, help="run directory to build or reuse (default: a temp dir)")
    parser.add_argument("--one", nargs=3, metavar=("POOL", "EXPR", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one[0], args.one[1], int(args.one[2]))
        return
    root = Path(args.pool or Path(tempfile.gettempdir()) / f"nt-bench-select-{args.rows}-{args.dim}")
    started = time.perf_counter()
    build_pool(root, args.rows, args.dim)
    print(
        f"pool: {root} ({args.rows:,} traces, {args.dim}-d embeddings) ready in {time.perf_counter() - started:.0f} s"
    )
    methods = args.methods.split(";") if args.methods else METHODS
    sizes = [int(s) for s in args.sizes.split(",")]
    header = (
        f"{'method':<44} {'size':>8} {'selected':>9} {'select s':>8} {'process s':>9} {'target':>7} "
        f"{'peak GB':>8} {'target':>7}  ok"
    )
    print(header)
    print("-" * len(header))
    for expr in methods:
        target = TARGET_SECONDS.get(expr.split("(")[0], DEFAULT_TARGET_SECONDS)
        for size in sizes:
            launched = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, __file__, "--one", str(root), expr, str(size)], capture_output=True, text=True
            )
            process_seconds = time.perf_counter() - launched  # with interpreter start and imports
            if proc.returncode != 0:
                print(f"{expr:<44} {size:>8}  FAILED: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            got = json.loads(proc.stdout.strip().splitlines()[-1])
            ok = process_seconds <= target and got["peak_gb"] <= TARGET_PEAK_GB
            print(
                f"{expr:<44} {size:>8} {got['selected']:>9} {got['seconds']:>8.1f} {process_seconds:>9.1f} "
                f"{target:>7.0f} "
                f"{got['peak_gb']:>8.2f} {TARGET_PEAK_GB:>7.0f}  {'yes' if ok else 'NO'}",
                flush=True,
            )


if __name__ == "__main__":
    main()
