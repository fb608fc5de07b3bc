"""Benchmark of `nt annotate` at pool scale (a measurement, not a test).

1. Builds (once, cached in --workdir) a synthetic pool of --traces traces (default 1,000,000) whose
   reasoning lengths follow a log-normal with a median near 3,000 SmolLM2 tokens and a long tail
   (capped at 16,384), written as traces.parquet + questions.parquet.
2. Times the lexical strategy annotator plus length through the real stage (`annotate(only=[length,
   strategies])`, streamed in Arrow batches) and reports wall time and peak memory (max RSS) against
   the targets: under 5 minutes, under 4 GB. Length uses the `approx` counter (characters / 4): the
   exact SmolLM2 tokenizer's measured throughput is printed beside it, extrapolated to the pool.
3. Times question embeddings through the annotator against a bare `SentenceTransformer.encode` on the
   same questions (target: the annotator reaches at least 0.9 of the bare throughput).

`--phase default` measures the embedded default on `builtin:sample` instead: ingest, generate with the bundled
config (`src/naturalthoughts/configs/default.yaml`: SmolLM2-135M with its thinking budget; done once, cached in
--workdir), then `nt annotate` with that config's annotate section on a fresh copy of the run (an empty response
cache), against the targets: at most 5% of LLM annotation rows in error, the disagreement column filled for at
least 90% of traces, and annotate no slower than the previous version (`--baseline-src DIR`: a checkout's `src` folder,
timed on the same traces in a subprocess). `--quick` uses the first 24 questions.

Usage: .venv/bin/python benchmarks/bench_annotate.py [--traces 1000000] [--workdir /tmp/nt-bench-annotate]
       .venv/bin/python benchmarks/bench_annotate.py --phase default [--quick] [--baseline-src /path/to/old/src]
       [--from-run RUN]   (annotate a copy of RUN's questions, traces and manifest instead of generating)
The machine may be shared: timings are noisy; run it on an idle machine for figures to quote (the load average
is printed beside every timing).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.tables import QUESTIONS, TRACES

MEDIAN_TOKENS = 3000
SIGMA = 0.7  # log-normal spread: p90 ≈ 7,400 tokens, long tail capped at 16,384
MAX_TOKENS = 16384
ROWS_PER_WRITE = 10_000

# Sentences of a math/science reasoning trace; a few carry strategy cues, most do not (as in real traces).
PLAIN = [
    "The integral of x squared from zero to one equals one third, so we keep that value for later.",
    "Now we compute the derivative of f and set it equal to zero to find the critical points.",
    "Substituting n = 2k into the sum gives 2k(2k+1)/2, which simplifies to k(2k+1).",
    "The pressure is P = nRT/V = (2)(8.314)(300)/0.05, about 99,768 Pa.",
    "In the market model, demand falls as the price rises while supply shifts outward with lower costs.",
    "Therefore the reaction releases heat, and the entropy of the surroundings increases accordingly.",
    "We multiply both sides by three and subtract seven to isolate the variable on the left side.",
    "The matrix has determinant 6, so it is invertible and the system has a unique solution.",
    "Using Newton's second law, F = ma, the acceleration is 12 N / 4 kg = 3 m/s^2.",
    "The probability of two heads in a row is 1/2 times 1/2, which is 1/4.",
    "Each term doubles the previous one, so after ten steps we have 2^10 = 1024.",
    "The enzyme lowers the activation energy, which speeds up the reaction without being consumed.",
]
CUED = [
    "Wait, that's not right: I dropped a factor of two in the second term.",
    "Let me verify this by plugging the value back into the original equation.",
    "Alternatively, we could use the law of cosines instead of the sine rule.",
    "Case 1: n is even. Case 2: n is odd, and the sum changes sign.",
    "So far we have shown that the sequence is bounded and monotone.",
    "Hmm, the question asks for the total energy, not the kinetic energy alone.",
    "That is roughly 2 atmospheres, which seems reasonable for this container.",
    "Suppose the function were linear; then the second difference would vanish.",
    "This is similar to the telescoping sum we used before.",
    "We can rule out option B because the units do not match.",
]


def corpus(rng: np.random.Generator, n_sentences: int = 400_000) -> str:
    """A long text of shuffled sentences (about 1 cued sentence in 6); traces are slices of it."""
    pick_cued = rng.random(n_sentences) < 1 / 6
    plain = rng.integers(len(PLAIN), size=n_sentences)
    cued = rng.integers(len(CUED), size=n_sentences)
    return " ".join(CUED[c] if is_cued else PLAIN[p] for is_cued, p, c in zip(pick_cued, plain, cued, strict=True))


def chars_per_token(text: str) -> float:
    """SmolLM2 characters per token on the corpus, to size traces in real tokens."""
    from naturalthoughts.text.tokens import load_tokenizer

    sample = text[:2_000_000]
    ids = load_tokenizer("smollm2")(sample, add_special_tokens=False)["input_ids"]
    return len(sample) / len(ids)


def build_pool(workdir: Path, n: int) -> None:
    """traces.parquet and questions.parquet with n traces (one per question)."""
    rng = np.random.default_rng(0)
    text = corpus(rng)
    cpt = chars_per_token(text)
    tokens = np.minimum(rng.lognormal(np.log(MEDIAN_TOKENS), SIGMA, size=n), MAX_TOKENS).astype(np.int64)
    chars = np.maximum((tokens * cpt).astype(np.int64), 20)
    starts = rng.integers(0, len(text) - int(chars.max()) - 1, size=n)
    print(
        f"building {n:,} traces: {cpt:.2f} chars/token, median {int(np.median(tokens))} tokens, "
        f"p90 {int(np.percentile(tokens, 90))}, max {int(tokens.max())}, {chars.sum() / 1e9:.1f} GB of reasoning"
    )
    ids = [hashlib.sha1(str(i).encode()).hexdigest()[:16] for i in range(n)]
    with pq.ParquetWriter(workdir / "traces.parquet", TRACES, compression="zstd") as traces:
        for lo in range(0, n, ROWS_PER_WRITE):
            hi = min(n, lo + ROWS_PER_WRITE)
            reasoning = [text[s : s + c] for s, c in zip(starts[lo:hi], chars[lo:hi], strict=True)]
            m = hi - lo
            traces.write_table(
                pa.Table.from_pydict(
                    {
                        "trace_id": [f"tr{i}" for i in range(lo, hi)],
                        "question_id": ids[lo:hi],
                        "sample": [0] * m,
                        "teacher": ["bench"] * m,
                        "reasoning": reasoning,
                        "answer": ["The answer is 42."] * m,
                        "finish_reason": ["stop"] * m,
                        "complete": [True] * m,
                        "response_hash": [hashlib.sha1(f"r{i}".encode()).hexdigest()[:16] for i in range(lo, hi)],
                    }
                    | {
                        k: [None] * m
                        for k in (
                            "forced",
                            "reasoning_tokens",
                            "answer_tokens",
                            "completion_tokens",
                            "reasoning_phase_tokens",
                            "answer_phase_tokens",
                            "prompt_tokens",
                            "latency_s",
                            "error",
                        )
                    },
                    schema=TRACES,
                )
            )
    questions = pa.Table.from_pydict(
        {
            "id": ids,
            "question": [f"Question {i}: what is the value of the quantity number {i}?" for i in range(n)],
            "reference_answer": [None] * n,
            "source": ["bench"] * n,
            "source_row": list(range(1, n + 1)),
            "other_answer": [None] * n,
            "other_model": [None] * n,
            "domain": [None] * n,
        },
        schema=QUESTIONS,
    )
    pq.write_table(questions, workdir / "questions.parquet", compression="zstd")


def time_lexical_and_length(workdir: Path) -> None:
    """Run in a fresh process so max RSS is this phase's alone."""
    from naturalthoughts.annotate import AnnotateConfig, annotate

    config = AnnotateConfig()
    config.length.tokenizer = "approx"
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    start = time.perf_counter()
    result = annotate(workdir, config, only=["length", "strategies"], quiet=True, force=True)
    assert result is not None
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    peak_gb = usage.ru_maxrss / 1024**2
    gb_text = result.counts["length"]["reasoning_tokens_total"] * 4 / 1e9
    print(f"RESULT rows={result.rows} seconds={seconds:.1f} cpu={cpu:.1f} peak_gb={peak_gb:.2f} text_gb={gb_text:.1f}")


def exact_tokenizer_rate(workdir: Path, rows: int = 2000) -> tuple[float, int]:
    """SmolLM2 tokens/s of the exact counter on the pool's first rows, and the pool's approx token total."""
    from naturalthoughts.text.tokens import count_tokens, load_tokenizer

    load_tokenizer("smollm2")
    reasoning = pq.ParquetFile(workdir / "traces.parquet").read_row_group(0, columns=["reasoning"]).column(0)
    sample = reasoning.slice(0, rows)
    start = time.perf_counter()
    total = int(np.sum(count_tokens(sample, "smollm2").to_numpy(zero_copy_only=False)))
    return total / (time.perf_counter() - start), total


def embedding_throughput(workdir: Path, n: int) -> None:
    """Bare ``SentenceTransformer.encode`` vs the embeddings annotator on the same n distinct questions."""
    from naturalthoughts.annotate import AnnotateConfig, annotate
    from naturalthoughts.annotate.base import AnnotateContext
    from naturalthoughts.annotate.embeddings import EmbeddingsAnnotator
    from naturalthoughts.annotate.stage import _Joiner
    from naturalthoughts.rundir import RunDir

    run = RunDir(workdir / "embed-run").ensure()
    questions = pq.read_table(workdir / "questions.parquet").slice(0, n)
    pq.write_table(questions, run.questions)
    traces = pq.read_table(workdir / "traces.parquet").slice(0, n)
    pq.write_table(traces.set_column(4, "reasoning", pa.array(["r"] * n)), run.traces)
    texts = questions.column("question").to_pylist()
    config = AnnotateConfig()
    ctx = AnnotateContext(run=run, config=config)
    annotator = EmbeddingsAnnotator(ctx)  # loads the model (timed separately below, end to end)
    model = ctx.embedder(None)
    model.encode(texts[:64], batch_size=64)  # warm up
    start = time.perf_counter()
    model.encode(texts, batch_size=config.embeddings.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    bare = n / (time.perf_counter() - start)
    batches = [_Joiner(run, set()).join(b) for b in pq.ParquetFile(run.traces).iter_batches(config.batch_rows)]
    start = time.perf_counter()
    for batch in batches:
        annotator.annotate(batch)
    annotator.finish()
    through = n / (time.perf_counter() - start)
    ctx.close()
    start = time.perf_counter()
    annotate(run, config, only=["embeddings"], quiet=True, force=True)
    stage = n / (time.perf_counter() - start)
    print(f"\nembeddings of {n:,} distinct questions (bundled all-MiniLM-L6-v2, batch {config.embeddings.batch_size}):")
    print(f"{'  bare SentenceTransformer.encode':<52}{bare:>10.0f} q/s")
    print(
        f"{'  through the embeddings annotator (+ Parquet write)':<52}{through:>10.0f} q/s"
        f"   ratio {through / bare:.2f} (target >= 0.90)"
    )
    print(f"{'  whole stage, incl. model load and reading inputs':<52}{stage:>10.0f} q/s   ratio {stage / bare:.2f}")


# ---- the embedded default on builtin:sample ------------------------------------------------------------------

QUICK_QUESTIONS = 24


def load(wall: float) -> str:
    one, five, _ = os.getloadavg()
    return f"{wall:.1f} s at load average {one:.1f} (5-min {five:.1f}) on {os.cpu_count()} cores"


def generated_run(workdir: Path, quick: bool) -> Path:
    """ingest builtin:sample + generate with the bundled default config, once (kept in workdir)."""
    from naturalthoughts.atomic import write_parquet
    from naturalthoughts.generate.stage import GenerateStage
    from naturalthoughts.ingest.stage import IngestStage
    from naturalthoughts.pipeline import load_pipeline_config
    from naturalthoughts.runner import run_one

    root = workdir / ("generated-quick" if quick else "generated")
    config = load_pipeline_config(None, str(root))
    if not (root / "traces.parquet").exists():
        run_one(IngestStage(config.ingest, sources=config.sources), root)
        if quick:
            questions = pq.read_table(root / "questions.parquet").slice(0, QUICK_QUESTIONS)
            write_parquet(questions, root / "questions.parquet")
        start = time.perf_counter()
        run_one(GenerateStage(config.generate), root)
        print(
            f"generated {pq.read_metadata(root / 'traces.parquet').num_rows} traces: "
            f"{load(time.perf_counter() - start)} (not part of the timings)"
        )
    return root


def fresh_copy(source: Path, target: Path) -> Path:
    """questions, traces and the manifest (it names the teacher) in a new run directory: an empty cache."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("questions.parquet", "traces.parquet", "manifest.json"):
        shutil.copy2(source / name, target / name)
    return target


def annotate_default(run: Path) -> dict[str, Any]:
    """`nt annotate` with the bundled config's annotate section; the figures the targets need."""
    from naturalthoughts.annotate import AnnotateStage
    from naturalthoughts.pipeline import load_pipeline_config
    from naturalthoughts.progress import Reporter
    from naturalthoughts.runner import run_one

    config = load_pipeline_config(None, str(run)).annotate
    start = time.perf_counter()
    result = run_one(AnnotateStage(config), run, reporter=Reporter(mode="off")).value
    wall = time.perf_counter() - start
    table = pq.read_table(run / "annotations.parquet")
    disagree = table.column("disagree")
    methods = [m for m in table.column("disagree_method").to_pylist() if m]
    return {
        "wall": wall,
        "load": load(wall),
        "rows": table.num_rows,
        "model_rows": result.model_rows,
        "failed": result.failed,
        "second_errors": result.total("second_answer_errors"),
        "disagree_filled": table.num_rows - disagree.null_count,
        "disagree_true": int(pc.sum(pc.cast(disagree.drop_null(), pa.int64())).as_py() or 0),
        "sources": {kind: sum(m.startswith(kind) for m in methods) for kind in ("pool:", "self:", "engine:")},
        "per_annotator": {
            k: {c: v for c, v in counts.items() if c in ("asked", "failed", "annotated")}
            for k, counts in result.counts.items()
            if counts.get("asked")
        },
        "usage": result.usage,
        "tokenizer": table.column("tokenizer")[0].as_py(),
        "errors": sorted({e for e in table.column("disagree_error").to_pylist() if e})[:5],
    }


BASELINE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from naturalthoughts.annotate import AnnotateConfig, annotate
from naturalthoughts.config import load_yaml
section = load_yaml(sys.argv[3]).get("annotate") or {}
start = time.perf_counter()
result = annotate(sys.argv[2], AnnotateConfig(**section), show_progress=False)
print("BASELINE " + json.dumps({"wall": time.perf_counter() - start, "failed": result.failed,
      "asked": sum(c.get("annotated", 0) + c.get("failed", 0) for k, c in result.counts.items()
                   if k in ("correctness", "disagree"))}))
"""


def annotate_baseline(src: Path, run: Path, config_yaml: Path) -> dict[str, Any]:
    """The previous version's annotate (its own default config section) on a copy of the same traces."""
    child = subprocess.run(
        [sys.executable, "-c", BASELINE, str(src), str(run), str(config_yaml)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(src)},
    )
    line = next(x for x in child.stdout.splitlines() if x.startswith("BASELINE "))
    figures = json.loads(line.split(" ", 1)[1])
    figures["load"] = load(figures["wall"])
    return figures


def default_phase(workdir: Path, quick: bool, baseline_src: Path | None, from_run: Path | None) -> None:
    source = from_run if from_run is not None else generated_run(workdir, quick)
    traces = pq.read_table(source / "traces.parquet", columns=["complete"])
    complete = int(pc.sum(pc.cast(pc.fill_null(traces.column("complete"), False), pa.int64())).as_py() or 0)
    print(f"traces: {traces.num_rows} ({complete} complete) in {source}")
    figures = annotate_default(fresh_copy(source, workdir / "annotate-new"))
    rows = figures["rows"]
    error_share = (figures["failed"] + figures["second_errors"]) / max(figures["model_rows"], 1)
    print(f"\n{'measure':<58}{'measured':>24}{'target':>14}")
    print(
        f"{'LLM annotation rows in error (failed + second-answer errors)':<58}"
        f"{figures['failed'] + figures['second_errors']:>8} / {figures['model_rows']:<5} {error_share:>7.1%}"
        f"{'<= 5%':>14}"
    )
    print(
        f"{'disagreement filled':<58}{figures['disagree_filled']:>8} / {rows:<5} "
        f"{figures['disagree_filled'] / rows:>7.1%}{'>= 90%':>14}"
    )
    print(f"{'annotate wall time (fresh cache)':<58}{figures['wall']:>22.1f} s")
    print(f"  {figures['load']}")
    print(
        f"second answers by source: {figures['sources']}; judged disagree: {figures['disagree_true']} of "
        f"{figures['disagree_filled']}"
    )
    print(f"model rows per annotator: {figures['per_annotator']}; usage: {figures['usage']}")
    print(f"length tokenizer: {figures['tokenizer']}; first disagree errors: {figures['errors']}")
    if baseline_src is not None:
        from naturalthoughts.pipeline import default_config_path

        old_config = baseline_src / "naturalthoughts" / "configs" / "default.yaml"
        config_yaml = old_config if old_config.exists() else default_config_path()
        old = annotate_baseline(baseline_src, fresh_copy(source, workdir / "annotate-baseline"), config_yaml)
        print(f"{'previous version annotate, same traces (fresh cache)':<58}{old['wall']:>22.1f} s{'new <= old':>14}")
        print(f"  {old['load']}; its model rows failed: {old['failed']} of {old['asked']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/nt-bench-annotate"))
    parser.add_argument("--embed-questions", type=int, default=2000)
    parser.add_argument(
        "--phase", choices=["all", "lexical", "embeddings", "default"], default="all", help="what to measure"
    )
    parser.add_argument("--quick", action="store_true", help="--phase default: the first 24 questions only")
    parser.add_argument("--baseline-src", type=Path, help="--phase default: a previous version's src folder")
    parser.add_argument(
        "--from-run", type=Path, help="--phase default: annotate a copy of this run's traces instead of generating"
    )
    args = parser.parse_args()
    if args.phase == "default":
        default_phase(args.workdir, args.quick, args.baseline_src, args.from_run)
        return
    workdir = args.workdir / f"pool-{args.traces}"
    if args.phase == "lexical":
        time_lexical_and_length(workdir)
        return
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "questions.parquet").exists():
        start = time.perf_counter()
        build_pool(workdir, args.traces)
        print(f"pool built in {time.perf_counter() - start:.0f} s (not part of the timings)")
    if args.phase == "embeddings":
        embedding_throughput(workdir, args.embed_questions)
        return
    child = subprocess.run(
        [sys.executable, __file__, "--phase", "lexical", "--traces", str(args.traces), "--workdir", str(args.workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    line = next(x for x in child.stdout.splitlines() if x.startswith("RESULT"))
    figures = dict(kv.split("=") for kv in line.split()[1:])
    seconds, peak = float(figures["seconds"]), float(figures["peak_gb"])
    rate, _ = exact_tokenizer_rate(workdir)
    total_tokens = float(figures["text_gb"]) * 1e9 / 4
    print(f"\n{'measure':<52}{'measured':>14}{'target':>12}")
    print(f"{'lexical strategies + length (approx), wall time':<52}{seconds:>12.0f} s{'< 300 s':>12}")
    cpu = float(figures["cpu"])
    print(f"{'  CPU time (user + system, both cores)':<52}{cpu:>12.0f} s")
    print(f"{'  wall time if both cores were free (CPU / 2)':<52}{cpu / 2:>12.0f} s{'< 300 s':>12}")
    print(f"{'peak memory (max RSS)':<52}{peak:>11.2f} GB{'< 4 GB':>12}")
    print(f"{'traces':<52}{int(figures['rows']):>14,}")
    print(f"{'reasoning text':<52}{float(figures['text_gb']):>11.1f} GB")
    print(f"{'throughput':<52}{int(figures['rows']) / seconds:>10.0f} tr/s")
    print(
        f"{'exact SmolLM2 tokenizer (not used above)':<52}{rate / 1e6:>8.2f} Mtok/s"
        f"   -> {total_tokens / rate / 60:.0f} min for this pool's tokens alone"
    )
    embedding_throughput(workdir, args.embed_questions)


if __name__ == "__main__":
    main()
