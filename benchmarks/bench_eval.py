"""Benchmark ``nt eval`` against a bare loop over the same engine, and the two student paths on this CPU.

1. Throughput (issue "Speed"): the bundled SmolLM2-135M on the embedded llama.cpp server (4 slots) answers
   60 GSM8K and 60 GPQA-Diamond items in think mode (512 new tokens) and no-think mode, driven alternately by
   the eval stage (a fresh run directory each round, so nothing is cached: requests, grading, records, summary)
   and by a bare loop (``engine.generate`` on the same requests, nothing else). Completion tokens per second
   each. Target: nt eval >= 0.95 x the bare loop.
2. ``--student``: the student engine choice. SmolLM2-135M as a Hugging Face folder (the bundled GGUF rebuilt once,
   ``naturalthoughts.student.bundled_student_dir``) on batched transformers (batch 48) in bfloat16 and in float32
   (the student engine takes bfloat16 only where the CPU computes it natively: the figures show why), beside
   llama.cpp on a GGUF converted from that folder (``--student-gguf F16_OR_Q8_0.gguf``, made with the
   ``convert-hf-to-gguf`` tool) with 8 slots; 32 GSM8K questions, 256 new tokens.

Usage: ``.venv/bin/python benchmarks/bench_eval.py [--quick] [--rounds 2] [--items 60] [--tokens 512]
[--student [--student-gguf FILE]]``. Run on an idle machine (check ``top``); the figures printed say the load.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SLOTS = 4
TARGET = 0.95
print = functools.partial(print, flush=True)  # progress shows even when piped


def load_average() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def eval_config(endpoint: object, items: int, tokens: int, seed: int) -> object:
    from naturalthoughts.eval import EvalConfig

    return EvalConfig(
        engine=endpoint, benchmarks=["gsm8k", "gpqa_diamond"], modes=["think", "no-think"], limit=items,
        max_tokens=tokens, seed=seed, concurrency=SLOTS,
    )  # fmt: skip


def through_eval(endpoint: object, items: int, tokens: int, seed: int) -> tuple[int, float]:
    """The whole stage in a fresh run directory: completion tokens and wall seconds."""
    from naturalthoughts.eval import EvalStage
    from naturalthoughts.progress import Reporter
    from naturalthoughts.runner import Runner

    with tempfile.TemporaryDirectory(prefix="bench-eval-") as folder:
        started = time.monotonic()
        with Runner(Path(folder) / "run", reporter=Reporter(mode="off")) as runner:
            outcome = runner.run_stage(EvalStage(eval_config(endpoint, items, tokens, seed), model_name="bench"))
        seconds = time.monotonic() - started
        assert outcome.result is not None and outcome.result.usage.cache_hits == 0, "nothing may come from a cache"
        return outcome.result.usage.completion_tokens, seconds


def through_bare_loop(endpoint: object, items: int, tokens: int, seed: int) -> tuple[int, float]:
    """The same requests straight into the engine: no cache, no grading, no records."""
    from naturalthoughts.engines import create_engine
    from naturalthoughts.eval.plan import build_plan

    started = time.monotonic()
    requests = [sample.request for sample in build_plan(eval_config(endpoint, items, tokens, seed)).samples]
    with create_engine(endpoint) as engine:  # type: ignore[arg-type]
        results = engine.generate(requests)
    seconds = time.monotonic() - started
    assert not any(r.error for r in results), [r.error for r in results if r.error][:1]
    return sum(r.completion_tokens or 0 for r in results), seconds


def throughput(rounds: int, items: int, tokens: int) -> bool:
    from naturalthoughts.engines import LlamaCppEngine, LlamaCppEngineConfig, OpenAIEngineConfig

    per_slot = tokens + 1024  # the longest GPQA prompt with the instruction, plus the reply
    server = LlamaCppEngine(LlamaCppEngineConfig(n_parallel=SLOTS, n_ctx=SLOTS * per_slot))
    endpoint = OpenAIEngineConfig(
        base_url=server.base_url, model=server.model_path.name, api_key_env=None, concurrency=SLOTS, timeout_s=3600
    )
    print(f"throughput: {items} GSM8K + {items} GPQA-Diamond items x think/no-think, {tokens} new tokens, "
          f"{SLOTS} slots (load average before: {load_average()})")  # fmt: skip
    ratios = []
    try:
        for round_number in range(rounds):
            seed = 1000 * round_number  # new seeds each round: the server's prompt cache cannot favour one side
            order = [("bare loop", through_bare_loop), ("nt eval", through_eval)]
            if round_number % 2:
                order.reverse()
            rates = {}
            for label, run in order:
                completion, seconds = run(endpoint, items, tokens, seed)
                rates[label] = completion / seconds
                print(f"  round {round_number + 1} {label:9s}: {completion:7,} tokens in {seconds:7.1f} s = "
                      f"{rates[label]:6.1f} tokens/s")  # fmt: skip
            ratios.append(rates["nt eval"] / rates["bare loop"])
    finally:
        server.close()
    ratio = statistics.median(ratios)
    ok = ratio >= TARGET
    print(f"  nt eval / bare loop: {ratio:.3f} (median of {len(ratios)}; target >= {TARGET}) "
          f"{'OK' if ok else 'MISSED'}; load average after: {load_average()}")  # fmt: skip
    return ok


def student(gguf: Path | None, count: int, tokens: int) -> None:
    from naturalthoughts import benchmarks
    from naturalthoughts.engines import (
        ChatRequest,
        LlamaCppEngineConfig,
        SamplingParams,
        TransformersEngineConfig,
        create_engine,
    )
    from naturalthoughts.student import bundled_student_dir

    folder = bundled_student_dir()
    questions = [item.question for item in benchmarks.load("gsm8k")[:count]]
    requests = [
        ChatRequest(({"role": "user", "content": q},), SamplingParams(max_tokens=tokens, temperature=0.0))
        for q in questions
    ]
    from naturalthoughts.resources import bf16_native

    configs: list[tuple[str, object]] = [
        (f"transformers {dtype}, batch 48", TransformersEngineConfig(model=str(folder), dtype=dtype, batch_size=48))
        for dtype in ("bfloat16", "float32")
    ]
    if gguf is not None:
        served = LlamaCppEngineConfig(model_path=str(gguf), n_parallel=8, n_ctx=8 * (tokens + 256))
        configs.append((f"llama.cpp {gguf.name}, 8 slots", served))
    print(f"student engines: SmolLM2-135M, {count} GSM8K questions, {tokens} new tokens; bf16 native on this CPU: "
          f"{bf16_native('cpu')} (load average before: {load_average()})")  # fmt: skip
    texts: dict[str, list[str]] = {}
    for label, config in configs:
        with create_engine(config) as engine:  # type: ignore[arg-type]
            started = time.monotonic()
            results = engine.generate(requests)
            seconds = time.monotonic() - started
        produced = sum(r.completion_tokens or 0 for r in results)
        texts[label] = [r.text for r in results]
        print(f"  {label:32s}: {produced:6,} tokens in {seconds:6.1f} s = {produced / seconds:6.1f} tokens/s "
              f"({sum(bool(r.error) for r in results)} errors)")  # fmt: skip
    first, second = list(texts.values())[:2]
    same = sum(a == b for a, b in zip(first, second, strict=True))
    print(f"  bfloat16 and float32 greedy replies identical: {same} of {len(first)}")
    if gguf is None:
        print("  (give --student-gguf FILE, converted from the folder above, to measure llama.cpp beside it)")
    print(f"  load average after: {load_average()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 items per benchmark, 64 tokens, one round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--student", action="store_true", help="also measure the two student engine paths")
    parser.add_argument("--student-only", action="store_true", help="only the student engine paths")
    parser.add_argument("--student-gguf", type=Path, default=None)
    args = parser.parse_args()
    rounds, items, tokens = (1, 6, 64) if args.quick else (args.rounds, args.items, args.tokens)
    ok = True if args.student_only else throughput(rounds, items, tokens)
    if args.student or args.student_only:
        student(args.student_gguf, 8 if args.quick else 32, 64 if args.quick else 256)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
