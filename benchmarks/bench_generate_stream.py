"""Time a fully cached `nt generate` that writes traces.parquet for a million R1-length replies, old code beside new.

    .venv/bin/python benchmarks/bench_generate_stream.py                 # a million rows (the issue's target)
    .venv/bin/python benchmarks/bench_generate_stream.py --rows 50000    # small: shows it works
    .venv/bin/python benchmarks/bench_generate_stream.py --reuse         # keep the questions and cache filled before

1. Writes ``questions.parquet`` with ``--rows`` synthetic questions and fills the run's response cache
   (``cache/responses.sqlite``) with one synthetic reply per question, keyed exactly as ``nt generate`` keys
   them: R1-shaped text (``<think>\\nreasoning\\n</think>\\n\\nanswer``) of log-normal length, median ~3,000
   tokens (4 characters a token), capped at 16,384 tokens.
2. Runs the current ``nt generate`` on it as a subprocess (every reply from the cache; the teacher is an
   OpenAI-compatible endpoint on a closed port, so a miss would show up as an error row) and records its wall
   time and peak RSS (VmHWM sampled from /proc).
3. Runs the pre-streaming code (commit 3f58405, checked out with ``git worktree add --detach /tmp/nt-old
   3f58405``, run with ``PYTHONPATH=/tmp/nt-old/src``) on a copy of the same run directory and cache (the cache
   key format is checked to be the same first), and prints both side by side with the targets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import run_child_measured  # noqa: E402 - the sibling benchmark's measured child runner

OLD_COMMIT = "3f58405"
TARGET_WALL_S = 600.0
TARGET_PEAK_GB = 2.0
MEDIAN_TOKENS = 3000
MAX_TOKENS = 16384
CHARS_PER_TOKEN = 4
# The teacher: nothing listens on port 9 (discard), so a request that missed the cache would fail at once.
TEACHER = ["--base-url", "http://127.0.0.1:9/v1", "--model", "bench-r1", "--api-key-env", "NT_BENCH_NO_KEY"]


# ---- the synthetic pool ------------------------------------------------------------------------------------------
def write_questions(run: Path, rows: int) -> None:
    import pyarrow as pa

    from naturalthoughts.atomic import parquet_writer
    from naturalthoughts.tables import QUESTIONS

    run.mkdir(parents=True, exist_ok=True)
    batch = 100_000
    with parquet_writer(run / "questions.parquet", QUESTIONS) as writer:
        for start in range(0, rows, batch):
            numbers = range(start, min(start + batch, rows))
            columns = {
                "id": pa.array([f"bench{i:08d}" for i in numbers], pa.string()),
                "question": pa.array([f"Q{i}: how many primes are there below {i * 7 + 11}?" for i in numbers]),
                "source": pa.array(["bench"] * len(numbers)),
            }
            arrays = [columns.get(f.name, pa.nulls(len(numbers), f.type)) for f in QUESTIONS]
            writer.write_table(pa.Table.from_arrays(arrays, schema=QUESTIONS))


def fill_cache(run: Path, rows: int, seed: int) -> int:
    """One reply per question under the key ``nt generate`` computes; returns the text bytes stored."""
    import numpy as np

    from naturalthoughts.engines import engine_identity
    from naturalthoughts.engines.cache import ResponseCache
    from naturalthoughts.generate.plan import build_plan
    from naturalthoughts.generate.stage import chunk_size
    from naturalthoughts.rundir import RunDir

    config = generate_config()
    plan = build_plan(RunDir(run), config, engine_identity)
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), int(n))) for n in rng.integers(2, 10, 5000)]
    base = " ".join(words[i] for i in rng.integers(0, len(words), 400_000))  # ~2.4 MB of words to cut from
    path = RunDir(run).cache_db
    with ResponseCache(path):  # creates the table exactly as the engine does
        pass
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    stored_bytes = 0
    done = 0
    for chunk in plan.chunks(max(chunk_size(config), 10_000)):
        tokens = np.clip(rng.lognormal(np.log(MEDIAN_TOKENS), 0.7, len(chunk)), 50, MAX_TOKENS).astype(int)
        starts = rng.integers(0, len(base) - MAX_TOKENS * CHARS_PER_TOKEN, len(chunk))
        entries = []
        for job, count, start in zip(chunk, tokens.tolist(), starts.tolist(), strict=True):
            answer_tokens = min(200, max(count // 20, 5))
            reasoning = base[start : start + (count - answer_tokens) * CHARS_PER_TOKEN]
            answer = base[start + 7 : start + 7 + answer_tokens * CHARS_PER_TOKEN]
            text = f"<think>\n{reasoning}\n</think>\n\n{answer}"
            result = {"text": text, "finish_reason": "stop", "prompt_tokens": 40, "completion_tokens": count}
            result["latency_s"] = round(count / 30, 3)
            stored = json.dumps(result, ensure_ascii=False)
            stored_bytes += len(stored)
            entries.append((ResponseCache.key(plan.teacher, job.request), stored, time.time()))
        connection.execute("BEGIN")
        connection.executemany("INSERT OR REPLACE INTO responses (key, result, created_at) VALUES (?, ?, ?)", entries)
        connection.execute("COMMIT")
        done += len(chunk)
        print(f"  cache: {done:,} / {rows:,} replies ({stored_bytes / 1e9:.1f} GB)", file=sys.stderr, end="\r")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    print(file=sys.stderr)
    return stored_bytes


def generate_config() -> Any:  # a GenerateConfig (imported late: this driver stays light)
    from naturalthoughts.generate.config import GenerateConfig

    base_url, model, key = TEACHER[1], TEACHER[3], TEACHER[5]
    return GenerateConfig.model_validate(
        {"engine": {"engine": "openai", "base_url": base_url, "model": model, "api_key_env": key}}
    )


# ---- running nt generate -----------------------------------------------------------------------------------------
def old_tree(path: Path) -> Path:
    """The pre-streaming code, as a git worktree (created once; read-only use of the repository)."""
    if not (path / "src" / "naturalthoughts").is_dir():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), OLD_COMMIT], check=True)
    return path / "src"


def same_keys(old_src: Path, run: Path) -> bool:
    """The old code keys the first question's request exactly as the new code does."""
    probe = (
        "import sys, json; from naturalthoughts.engines import engine_identity, ResponseCache; "
        "from naturalthoughts.generate.plan import build_plan; from naturalthoughts.generate.config import "
        "GenerateConfig; from naturalthoughts.rundir import RunDir; "
        "c = GenerateConfig.model_validate(json.loads(sys.argv[1])); p = build_plan(RunDir(sys.argv[2]), c, "
        "engine_identity); print(ResponseCache.key(p.teacher, p.jobs[0].request))"
    )
    base_url, model, key = TEACHER[1], TEACHER[3], TEACHER[5]
    config = json.dumps({"engine": {"engine": "openai", "base_url": base_url, "model": model, "api_key_env": key}})
    keys = []
    for src in (REPO / "src", old_src):
        env = {**os.environ, "PYTHONPATH": str(src)}
        small = run.parent / f"keys-{src.parent.name}"
        shutil.rmtree(small, ignore_errors=True)
        small.mkdir()
        _first_question(run / "questions.parquet", small / "questions.parquet")
        out = subprocess.run([sys.executable, "-c", probe, config, str(small)], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"key probe failed with {src}:\n{out.stderr[-2000:]}")
        keys.append(out.stdout.strip())
        shutil.rmtree(small)
    return keys[0] == keys[1]


def _first_question(source: Path, target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = next(pq.ParquetFile(source).iter_batches(batch_size=1))
    pq.write_table(pa.Table.from_batches([first]), target)


def run_generate(run: Path, src: Path, memory_limit_gb: float | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS GB, last output line) of one fully cached `nt generate` over ``run``.

    With ``memory_limit_gb`` the process runs under that address-space limit (``prlimit --as``): the old code,
    which holds every reply, then fails with a MemoryError instead of calling the kernel's OOM killer.
    """
    command = [sys.executable, "-c", "from naturalthoughts.cli import main; main()", "generate", "--run", str(run)]
    command += [*TEACHER, "-q"]
    if src == REPO / "src":
        command.append("--force")  # up to date after an earlier benchmark run (--reuse); the old code always runs
    if memory_limit_gb is not None:
        command = ["prlimit", f"--as={int(memory_limit_gb * 1024**3)}", *command]
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1", "COLUMNS": "200", "NT_PROGRESS": "off"}
    output, wall, peak_mb = run_child_measured(command, env, allow_failure=memory_limit_gb is not None)
    lines = output.strip().splitlines()
    return wall, peak_mb / 1024, lines[-1] if lines else ""


def check_traces(run: Path, rows: int) -> str:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(run / "traces.parquet")
    counts = file.read(columns=["complete", "error"])
    complete = sum(counts.column("complete").to_pylist())
    errors = rows - counts.column("error").null_count
    if file.metadata.num_rows != rows or errors:
        raise SystemExit(
            f"{run}/traces.parquet: {file.metadata.num_rows:,} rows, {errors:,} errors (expected {rows:,})"
        )
    size = (run / "traces.parquet").stat().st_size
    return f"{file.metadata.num_rows:,} rows, {complete:,} complete, {size / 1e9:.2f} GB"


def copy_run(source: Path, target: Path) -> str:
    """A copy of the run directory for the old code (hard links when the disk cannot hold a second cache)."""
    shutil.rmtree(target, ignore_errors=True)
    (target / "cache").mkdir(parents=True)
    shutil.copy2(source / "questions.parquet", target / "questions.parquet")
    cache = source / "cache" / "responses.sqlite"
    if shutil.disk_usage(target).free > 2.5 * cache.stat().st_size:
        shutil.copy2(cache, target / "cache" / "responses.sqlite")
        return "copied"
    os.link(cache, target / "cache" / "responses.sqlite")
    return "hard-linked (not enough disk for a copy; both runs only read it)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/nt-bench-generate-stream"))
    parser.add_argument("--old", type=Path, default=Path("/tmp/nt-old"), help="worktree of the pre-change commit")
    parser.add_argument("--skip-old", action="store_true", help="time the current code only")
    parser.add_argument(
        "--old-memory-gb",
        type=float,
        default=20.0,
        help="address-space limit of the old code's process (it holds every reply: ~4.3 GB per 50,000 rows)",
    )
    parser.add_argument("--reuse", action="store_true", help="reuse the questions and cache of an earlier run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))

    new_run, old_run = args.workdir / "new", args.workdir / "old"
    marker = args.workdir / "filled.json"
    filled = json.loads(marker.read_text()) if args.reuse and marker.exists() else None
    if filled is None or filled.get("rows") != args.rows:
        shutil.rmtree(args.workdir, ignore_errors=True)
        started = time.monotonic()
        write_questions(new_run, args.rows)
        text_bytes = fill_cache(new_run, args.rows, args.seed)
        filled = {"rows": args.rows, "text_bytes": text_bytes, "seconds": round(time.monotonic() - started, 1)}
        marker.write_text(json.dumps(filled))
    cache_gb = (new_run / "cache" / "responses.sqlite").stat().st_size / 1e9
    print(f"pool: {args.rows:,} cached replies, {filled['text_bytes'] / 1e9:.2f} GB of JSON, cache {cache_gb:.2f} GB")

    results = {"new": run_generate(new_run, REPO / "src")}
    results["new"] += (check_traces(new_run, args.rows),)
    if not args.skip_old:
        old_src = old_tree(args.old)
        if not same_keys(old_src, new_run):
            raise SystemExit("the old and new code key requests differently: the old run would miss the cache")
        how = copy_run(new_run, old_run)
        print(f"old code: {old_src} (cache keys identical; run directory {how})")
        wall, peak, last = run_generate(old_run, old_src, args.old_memory_gb)
        limit = f" at the {args.old_memory_gb:g} GB address-space limit"
        outcome = last + limit if last.startswith("FAILED") else check_traces(old_run, args.rows)
        results["old"] = (wall, peak, last, outcome)

    print(f"\nfully cached nt generate, {args.rows:,} R1-length replies (median {MEDIAN_TOKENS:,} tokens)")
    print(f"{'code':<10} {'wall':>10} {'target':>9} {'peak RSS':>10} {'target':>8}  traces.parquet")
    for name, (wall, peak, _, traces) in results.items():
        print(f"{name:<10} {wall:>9.1f}s {TARGET_WALL_S:>8.0f}s {peak:>8.2f} GB {TARGET_PEAK_GB:>5.1f} GB  {traces}")
    print(f"(load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
