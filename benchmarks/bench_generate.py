"""Benchmark ``nt generate`` against a minimal asyncio + httpx load generator on the embedded server.

What it measures (printed side by side):

1. Throughput: the embedded llama.cpp server (4 slots, its own process) answers the same 64 prompts
   with exactly 128 new tokens each (``ignore_eos``), driven alternately by ``nt generate --engine
   openai`` (a fresh run directory each time, so nothing is cached) and by a minimal asyncio + httpx
   client at the same concurrency. Several interleaved rounds; completion tokens per second each.
   Target: nt generate >= 0.97 x the load generator.
2. A fully cached rerun of the 64 prompts: whole-process wall time of ``nt generate``, start-up
   included. Target: < 1.5 s.
3. Peak memory (max RSS) of each client process. Target for nt generate: < 150 MB.

Usage: ``.venv/bin/python benchmarks/bench_generate.py [--rounds 3] [--prompts 64] [--tokens 128]``.
The machine is shared while this runs, so timings are noisy: compare the columns of one round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
SLOTS = 4


def prompts(count: int) -> list[str]:
    topics = ["photosynthesis", "prime numbers", "the French revolution", "plate tectonics", "sorting algorithms",
              "the water cycle", "supply and demand", "black holes"]  # fmt: skip
    return [f"Explain {topics[i % len(topics)]} to a student (variant {i})." for i in range(count)]


def sampling(tokens: int) -> dict:
    return {"temperature": 0.6, "top_p": 0.95, "max_tokens": tokens}


# ---- roles run in their own processes ------------------------------------------------------------
def serve() -> None:
    """Run the embedded server until stdin closes; print its base URL first."""
    from naturalthoughts.engines import LlamaCppEngine, LlamaCppEngineConfig

    engine = LlamaCppEngine(LlamaCppEngineConfig(n_parallel=SLOTS, n_ctx=8192))
    print(engine.base_url, engine.model_path.name, flush=True)
    sys.stdin.read()
    engine.close()


def loadgen(base_url: str, model: str, count: int, tokens: int) -> None:
    """The reference client: asyncio + httpx, SLOTS requests in flight, nothing else."""
    import httpx

    async def main() -> tuple[int, float]:
        semaphore = asyncio.Semaphore(SLOTS)
        limits = httpx.Limits(max_connections=SLOTS, max_keepalive_connections=SLOTS)
        async with httpx.AsyncClient(base_url=base_url, timeout=3600, limits=limits, trust_env=False) as client:

            async def one(prompt: str) -> int:
                async with semaphore:
                    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "ignore_eos": True}
                    response = await client.post("/chat/completions", json={**body, **sampling(tokens)})
                    response.raise_for_status()
                    return response.json()["usage"]["completion_tokens"]

            started = time.monotonic()
            counts = await asyncio.gather(*(one(p) for p in prompts(count)))
            return sum(counts), time.monotonic() - started

    completion_tokens, seconds = asyncio.run(main())
    print(json.dumps({"completion_tokens": completion_tokens, "seconds": seconds}))


# ---- the driver ---------------------------------------------------------------------------------
def run_child_measured(
    command: list[str], env: dict[str, str] | None = None, allow_failure: bool = False
) -> tuple[str, float, float]:
    """Run ``command`` (in ``env``); return its stdout, wall seconds and its own peak RSS in MB (with
    ``allow_failure``, a failed command returns ``FAILED: <its last stderr line>`` as its output).

    The peak is the child's VmHWM, sampled from /proc while it runs: ``wait4``'s ``ru_maxrss`` would
    report this (pyarrow-importing) driver's high-water mark, which Linux carries across fork and exec.
    """
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env)
        peak_kib = 0
        while process.poll() is None:
            peak_kib = max(peak_kib, _vm_hwm_kib(process.pid))
            time.sleep(0.005)
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            problem = err.read()[-3000:]
            if allow_failure:
                return f"FAILED: {(problem.strip().splitlines() or ['?'])[-1]}", wall, peak_kib / 1024
            raise SystemExit(f"{' '.join(command[:6])} failed ({process.returncode}):\n{problem}")
        return out.read(), wall, peak_kib / 1024


def _vm_hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def write_run(root: Path, count: int) -> Path:
    import pyarrow as pa

    from naturalthoughts.atomic import write_parquet
    from naturalthoughts.rundir import RunDir
    from naturalthoughts.tables import QUESTIONS

    run = RunDir(root).ensure()
    rows = [{"id": f"b{i:04d}", "question": q, "source": "bench"} for i, q in enumerate(prompts(count))]
    write_parquet(pa.Table.from_pylist(rows, schema=QUESTIONS), run.questions)
    return run.root


def nt_command(run: Path, config: Path) -> list[str]:
    nt = str(Path(sys.executable).parent / "nt")
    return [nt, "generate", "--run", str(run), "--config", str(config), "-q"]


# The generate command alone, without the import cost of the other commands `nt` registers.
GENERATE_ONLY = (
    "import sys, typer; from naturalthoughts.cli import generate; "
    "app = typer.Typer(); generate.register(app); app(sys.argv[1:])"
)


def generate_only_command(run: Path, config: Path) -> list[str]:
    return [sys.executable, "-c", GENERATE_ONLY, "--run", str(run), "--config", str(config), "-q"]


def nt_generation(run: Path) -> tuple[int, float]:
    from naturalthoughts.manifest import Manifest

    usage = Manifest(run / "manifest.json").latest("generate")["usage"]
    return usage["completion_tokens"], usage["wall_time_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--cached-reps", type=int, default=5)
    parser.add_argument("--role", choices=["serve", "loadgen"], help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "serve":
        return serve()
    if args.role == "loadgen":
        return loadgen(args.base_url, args.model, args.prompts, args.tokens)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    server = subprocess.Popen([sys.executable, str(HERE), "--role", "serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    base_url, model = server.stdout.readline().split()  # type: ignore[union-attr]
    workdir = Path(tempfile.mkdtemp(prefix="nt-bench-generate-"))
    config = workdir / "generate.yaml"
    engine = {"engine": "openai", "base_url": base_url, "model": model, "api_key_env": None,
              "concurrency": SLOTS, "extra_body": {"ignore_eos": True}}  # fmt: skip
    config.write_text(json.dumps({"engine": engine, "prompt_template": "r1", **sampling(args.tokens)}))
    loadgen_command = [sys.executable, str(HERE), "--role", "loadgen", "--base-url", base_url, "--model", model,
                       "--prompts", str(args.prompts), "--tokens", str(args.tokens)]  # fmt: skip
    print(f"server {base_url} ({SLOTS} slots, own process); {args.prompts} prompts x {args.tokens} new tokens")
    print("machine shared with other jobs: compare columns within a round\n")
    try:
        run_child_measured(loadgen_command)  # warm-up: server caches, page cache
        rows = []
        last_run = workdir
        for round_number in range(args.rounds):
            order = ["nt", "loadgen"] if round_number % 2 == 0 else ["loadgen", "nt"]
            figures: dict[str, tuple[float, float]] = {}
            for who in order:
                if who == "nt":
                    last_run = write_run(workdir / f"run{round_number}", args.prompts)
                    _, _, rss = run_child_measured(nt_command(last_run, config))
                    tokens, seconds = nt_generation(last_run)
                else:
                    out, _, rss = run_child_measured(loadgen_command)
                    result = json.loads(out)
                    tokens, seconds = result["completion_tokens"], result["seconds"]
                figures[who] = (tokens / seconds, rss)
            rows.append(figures)
            ratio = figures["nt"][0] / figures["loadgen"][0]
            print(f"round {round_number + 1}: nt generate {figures['nt'][0]:7.1f} tok/s | "
                  f"asyncio+httpx {figures['loadgen'][0]:7.1f} tok/s | ratio {ratio:.3f} | "
                  f"peak RSS nt {figures['nt'][1]:.0f} MB, loadgen {figures['loadgen'][1]:.0f} MB")  # fmt: skip
        ratios = [r["nt"][0] / r["loadgen"][0] for r in rows]
        print(f"\nthroughput ratio nt/loadgen: median {statistics.median(ratios):.3f} "
              f"(min {min(ratios):.3f}, max {max(ratios):.3f}); target >= 0.97")  # fmt: skip

        cached = [run_child_measured(nt_command(last_run, config)) for _ in range(args.cached_reps)]
        sent, _ = nt_generation(last_run)
        walls = [wall for _, wall, _ in cached]
        print(f"fully cached rerun of {args.prompts} prompts (whole process): median {statistics.median(walls):.2f} s, "
              f"min {min(walls):.2f} s, max {max(walls):.2f} s; target < 1.5 s "
              f"(completion tokens sent by the reruns: {sent})")  # fmt: skip
        alone = [run_child_measured(generate_only_command(last_run, config)) for _ in range(args.cached_reps)]
        alone_walls = [wall for _, wall, _ in alone]
        print(f"  the generate command alone (no other nt commands imported): median "
              f"{statistics.median(alone_walls):.2f} s, min {min(alone_walls):.2f} s")  # fmt: skip
        peak = max(max(r["nt"][1] for r in rows), max(rss for _, _, rss in cached))
        print(f"nt generate peak RSS: {peak:.0f} MB (cached rerun {max(rss for _, _, rss in cached):.0f} MB; "
              f"generate command alone {max(rss for _, _, rss in alone):.0f} MB); target < 150 MB")  # fmt: skip
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        server.wait(timeout=60)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
