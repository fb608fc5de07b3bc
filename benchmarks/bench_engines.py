"""Engine-layer benchmarks: client overhead vs a raw asyncio+httpx load generator, client memory, cached reruns.

    .venv/bin/python benchmarks/bench_engines.py [--requests 3000] [--concurrency 32]

1. Client overhead: the same N chat requests against an instant canned-answer server (a separate process on
   loopback, so the server is never the bottleneck), sent (a) by a bare asyncio+httpx loop and (b) by
   ``OpenAICompatEngine``; prints requests/s side by side and the ratio (target >= 0.97).
2. The same comparison against the real embedded llama.cpp server (SmolLM2-135M, 16 tokens per answer).
3. Peak memory (max RSS) of a process that sends N requests through the engine (target < 150 MB).
4. A fully cached rerun of 64 prompts through ``CachedEngine`` in a fresh process (import + lookups; no server).

``--neighbour``: the embedded engine's generation throughput with a CPU-bound neighbour process pinned on one core,
as a ratio to the same engine idle, in one run (target >= 0.6), for the default layout (seeded, as the default run's
generation is: deterministic mode; and unseeded) and for the layout before it (one server with a thread per core),
rounds alternating idle and busy; the load average and ``top``'s CPU line
are printed with each figure. ``--deterministic``: the throughput of deterministic mode (one slot a server, no
prompt cache) against the default layout, on the default generate's work (a thinking-budget reasoning phase, then
its answer phase, which the default layout serves from the prompt cache), as a ratio.

    .venv/bin/python benchmarks/bench_engines.py --neighbour [--rounds 2] [--neighbour-requests 16]
    .venv/bin/python benchmarks/bench_engines.py --deterministic
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from naturalthoughts.engines import (
    ChatRequest,
    ChatResult,
    Engine,
    LlamaCppEngine,
    LlamaCppEngineConfig,
    OpenAIEngineConfig,
    ResponseCache,
    SamplingParams,
    engine_identity,
    llamacpp,
)
from naturalthoughts.engines.openai_compat import OpenAICompatEngine, build_payload

CANNED_SERVER = textwrap.dedent(
    """
    import asyncio, json, sys
    BODY = json.dumps({"choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "The answer is 42."}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 6}}).encode()
    HEAD = (f"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\n"
            f"Content-Length: {len(BODY)}\\r\\n\\r\\n").encode()
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\\r\\n\\r\\n")
                lines = head.lower().split(b"\\r\\n")
                length = next(int(l.split(b":")[1]) for l in lines if l.startswith(b"content-length"))
                await reader.readexactly(length)
                writer.write(HEAD + BODY)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()
    asyncio.run(main())
    """
)

MEMORY_PROBE = textwrap.dedent(
    """
    import resource, sys
    from naturalthoughts.engines import ChatRequest, OpenAIEngineConfig, SamplingParams
    from naturalthoughts.engines.openai_compat import OpenAICompatEngine
    base_url, count, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    requests = [ChatRequest(messages=({"role": "user", "content": f"question {i}"},),
                            params=SamplingParams(max_tokens=16)) for i in range(count)]
    engine = OpenAICompatEngine(OpenAIEngineConfig(base_url=base_url, model="m", api_key_env=None,
                                                   concurrency=concurrency))
    results = engine.generate(requests)
    assert all(r.ok for r in results)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    """
)

CACHED_RERUN = textwrap.dedent(
    """
    import sys, time
    started = time.perf_counter()
    from naturalthoughts.engines import CachedEngine, ChatRequest, LlamaCppEngineConfig, ResponseCache, SamplingParams
    requests = [ChatRequest(messages=({"role": "user", "content": f"question {i}"},),
                            params=SamplingParams(max_tokens=16)) for i in range(64)]
    with ResponseCache(sys.argv[1]) as cache:
        engine = CachedEngine(LlamaCppEngineConfig(), cache)
        results = engine.generate(requests)
    assert all(r.cached for r in results) and not engine.started
    print(time.perf_counter() - started)
    """
)


def requests_for(count: int, max_tokens: int) -> list[ChatRequest]:
    return [
        ChatRequest(
            messages=({"role": "user", "content": f"Question {i}: name a number."},),
            params=SamplingParams(max_tokens=max_tokens, temperature=0.0),
        )
        for i in range(count)
    ]


async def raw_load(base_url: str, payloads: list[dict], concurrency: int) -> float:
    """The reference: a bare asyncio+httpx loop with the same concurrency; returns requests/s."""
    pending = iter(payloads)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url + "/", limits=limits, timeout=600, trust_env=False) as client:

        async def worker() -> None:
            for payload in pending:
                response = await client.post("chat/completions", json=payload)
                response.json()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(payloads) / (time.perf_counter() - started)


def engine_load(base_url: str, requests: list[ChatRequest], concurrency: int) -> float:
    config = OpenAIEngineConfig(base_url=base_url, model="m", api_key_env=None, concurrency=concurrency)
    engine = OpenAICompatEngine(config)
    started = time.perf_counter()
    results = engine.generate(requests)
    elapsed = time.perf_counter() - started
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    return len(requests) / elapsed


def compare(label: str, base_url: str, requests: list[ChatRequest], concurrency: int, rounds: int) -> None:
    """Alternate raw and engine runs (the machine is shared, so interleaving evens out the noise); best of rounds."""
    payloads = [build_payload("m", request, {}) for request in requests]
    raw, ours = [], []
    for _ in range(rounds):
        raw.append(asyncio.run(raw_load(base_url, payloads, concurrency)))
        ours.append(engine_load(base_url, requests, concurrency))
    best_raw, best_ours = max(raw), max(ours)
    print(
        f"{label:<38} raw httpx {best_raw:8.1f} req/s   engine {best_ours:8.1f} req/s   "
        f"ratio {best_ours / best_raw:.3f}   (runs raw {[round(x) for x in raw]}, engine {[round(x) for x in ours]})"
    )


def cached_rerun() -> None:
    """Time a fresh process answering 64 prompts entirely from the cache."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cache.sqlite"
        requests = [
            ChatRequest(messages=({"role": "user", "content": f"question {i}"},), params=SamplingParams(max_tokens=16))
            for i in range(64)
        ]
        with ResponseCache(path) as cache:
            identity = engine_identity(LlamaCppEngineConfig())
            for request in requests:
                cache.put(ResponseCache.key(identity, request), ChatResult(text="a", finish_reason="stop"))
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", CACHED_RERUN, str(path)], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            timings.append((time.perf_counter() - started, float(done.stdout)))
        best_process, best_inside = min(timings)
        print(
            f"{'fully cached rerun, 64 prompts':<38} whole process {best_process:.2f} s "
            f"(import + lookups inside it {best_inside:.2f} s)"
        )


# ---- throughput under a neighbour, and the cost of deterministic mode --------------------------------------------

NEIGHBOUR = "import os, sys\nos.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True:\n    pass\n"
TOPICS = ("the sea", "a lighthouse", "winter", "a robot", "the desert", "a library", "a storm", "an old map")


def story_requests(count: int, max_tokens: int, tag: str) -> list[ChatRequest]:
    """Long free-text replies (stories rarely stop before ``max_tokens``), seeded, different every round."""
    return [
        ChatRequest(
            messages=({"role": "user", "content": f"Write a long story about {TOPICS[i % len(TOPICS)]} ({tag} {i})."},),
            params=SamplingParams(max_tokens=max_tokens, temperature=0.8, seed=i),
        )
        for i in range(count)
    ]


def tokens_per_s(engine: Engine, requests: list[ChatRequest]) -> float:
    started = time.perf_counter()
    results = engine.generate(requests)
    elapsed = time.perf_counter() - started
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    return sum(r.completion_tokens or 0 for r in results) / elapsed


def machine_load() -> str:
    """The load average and top's CPU line: who else was using the machine during a figure."""
    top = subprocess.run(["top", "-b", "-n", "1"], capture_output=True, text=True, check=False).stdout
    cpu = next((line.strip() for line in top.splitlines() if line.startswith("%Cpu")), "top: n/a")
    return f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {cpu}"


@contextlib.contextmanager
def neighbour_on(core: int) -> Iterator[None]:
    """A CPU-bound process pinned on ``core`` while inside (always killed on the way out)."""
    process = subprocess.Popen([sys.executable, "-c", NEIGHBOUR, str(core)])
    try:
        time.sleep(0.5)
        yield
    finally:
        process.kill()
        process.wait()


def neighbour_ratio(rounds: int, count: int, max_tokens: int) -> None:
    """Throughput with a neighbour on one core over throughput idle, per layout, rounds alternating."""
    from naturalthoughts.resources import cpu_budget

    cores = cpu_budget().cores
    core = max(os.sched_getaffinity(0))
    # Before: one server with a thread per core, llama.cpp's own busy-wait level (50) and its 8 GiB prompt cache.
    layouts = {
        "default (seeded: deterministic)": (LlamaCppEngineConfig().for_seed(0), llamacpp.POLL),
        "default unseeded": (LlamaCppEngineConfig().for_seed(None), llamacpp.POLL),
        f"before: 1 server x {cores} threads, busy-wait at poll 50 (whatever the layout line says)": (
            LlamaCppEngineConfig(servers=1, n_threads=cores, prompt_cache_mb=8192),
            50,
        ),
    }
    print(f"neighbour: a busy loop pinned on CPU {core}; {count} requests x {max_tokens} tokens per measure")
    default_poll = llamacpp.POLL
    for label, (config, poll) in layouts.items():
        llamacpp.POLL = poll  # read when the server starts
        try:
            engine = LlamaCppEngine(config)
        finally:
            llamacpp.POLL = default_poll
        with engine:
            print(f"  {label}: {engine.plan.describe()}")
            tokens_per_s(engine, story_requests(2, 8, "warm-up"))
            ratios = []
            for round_ in range(rounds):
                idle_load = machine_load()
                idle = tokens_per_s(engine, story_requests(count, max_tokens, f"idle {round_}"))
                with neighbour_on(core):
                    busy_load = machine_load()
                    busy = tokens_per_s(engine, story_requests(count, max_tokens, f"busy {round_}"))
                ratios.append(busy / idle)
                print(f"    round {round_ + 1}: idle {idle:6.1f} tok/s [{idle_load}]")
                print(f"             neighbour {busy:6.1f} tok/s [{busy_load}]   ratio {busy / idle:.2f}")
            print(f"  {label}: neighbour / idle = {statistics.median(ratios):.2f} (median of {rounds}; target >= 0.6)")


def deterministic_cost(rounds: int, count: int) -> None:
    """Deterministic mode's throughput over the default layout's, on two-phase traces (reasoning then answer)."""
    from naturalthoughts.engines import ThinkingBudget, ThinkingEngine

    budget = ThinkingBudget(budget=128, answer_max_tokens=128)
    layouts = {"default": LlamaCppEngineConfig(), "deterministic": LlamaCppEngineConfig(deterministic=True)}
    rates: dict[str, list[float]] = {name: [] for name in layouts}
    for round_ in range(rounds):
        for name, config in layouts.items():  # a fresh server each time: no prompt cache from the other
            with LlamaCppEngine(config) as engine:
                requests = story_requests(count, 256, f"round {round_}")
                rates[name].append(tokens_per_s(ThinkingEngine(engine, budget), requests))
            print(f"  round {round_ + 1} {name:<13} {rates[name][-1]:6.1f} tok/s [{machine_load()}]")
    ratio = statistics.median(d / n for d, n in zip(rates["deterministic"], rates["default"], strict=True))
    print(f"deterministic / default throughput = {ratio:.2f} (median of {rounds} rounds, {count} two-phase traces)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--llama-requests", type=int, default=32)
    parser.add_argument("--skip-llama", action="store_true", help="skip the real llama.cpp comparison")
    parser.add_argument("--neighbour", action="store_true", help="only: throughput with a busy neighbour / idle")
    parser.add_argument("--neighbour-requests", type=int, default=16)
    parser.add_argument("--neighbour-tokens", type=int, default=96)
    parser.add_argument("--deterministic", action="store_true", help="only: deterministic mode's throughput cost")
    args = parser.parse_args()
    if args.neighbour:
        neighbour_ratio(args.rounds, args.neighbour_requests, args.neighbour_tokens)
        return
    if args.deterministic:
        deterministic_cost(args.rounds, args.neighbour_requests)
        return

    cached_rerun()

    server = subprocess.Popen([sys.executable, "-c", CANNED_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        canned_url = f"http://127.0.0.1:{server.stdout.readline().strip()}/v1"
        compare(
            f"canned server, {args.requests} requests",
            canned_url,
            requests_for(args.requests, 16),
            args.concurrency,
            args.rounds,
        )
        probe = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, canned_url, str(args.requests), str(args.concurrency)],
            capture_output=True,
            text=True,
            check=True,
        )
        print(f"{'engine client peak RSS':<38} {float(probe.stdout):.0f} MB for {args.requests} requests")
    finally:
        server.terminate()
        server.wait()

    if args.skip_llama:
        return
    # One server: the bare loop and the client send to the same endpoint (the client's own cost, nothing else).
    with LlamaCppEngine(LlamaCppEngineConfig(n_parallel=4, n_ctx=4096, servers=1)) as llama:
        compare(
            f"llama.cpp SmolLM2, {args.llama_requests} x 16 tokens",
            llama.base_url,
            requests_for(args.llama_requests, 16),
            4,
            2,
        )


if __name__ == "__main__":
    main()
