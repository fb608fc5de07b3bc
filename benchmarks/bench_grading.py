"""Benchmark the one answer checker: 100,000 model outputs of mixed kinds graded, against a 60 s target.

The outputs are built the way real evaluations look: every item gets a small pool of replies (the forms real models
write: think blocks, ``\\boxed{}`` with LaTeX separators, currency and units, anchored prose, hedged letters, wrong
and truncated answers), and the 100,000 outputs are drawn from those pools with a fixed seed, as several seeds of a
model repeat themselves on an item. Kinds: GSM8K numbers (35%), MATH-500 math (30%), GPQA-style and ten-option
letters (30%), yes/no text (5%), over the bundled GSM8K and MATH-500 golds.

Prints the wall time, outputs per second, the time per kind, how many comparisons reached math-verify, and how many
verdicts disagree with the verdict the reply was built to have (a sanity count: it should be 0).

Usage: ``.venv/bin/python benchmarks/bench_grading.py [--n 100000] [--workers 1] [--seed 0]``. ``--workers N``
grades in N processes (:func:`naturalthoughts.text.grading.check_many`). Target: under 60 s for 100,000 on this
machine; run it on an idle machine for the figure (the load is printed).
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

TARGET_S = 60.0
print = functools.partial(print, flush=True)


@dataclass(frozen=True)
class Case:
    kind: str
    gold: str
    output: str
    expected: bool
    finish_reason: str = "stop"
    n_options: int | None = None


def _think(answer: str, rng: random.Random) -> str:
    reasoning = rng.choice(["Let me work it out step by step.", "First compute the parts, then add them up."])
    return f"<think>\n{reasoning}\n</think>\n\n{answer}"


def _money(value: int) -> str:
    text = f"{value:,}"
    return text.replace(",", ",\\!")


def number_pool(gold: str, rng: random.Random) -> list[Case]:
    value = int(gold)
    wrong = value + rng.choice([-10, -1, 1, 2, 100])
    right_forms = [
        f"The total is {value}.\n\n\\[\n\\boxed{{{value}}}\n\\]",
        f"**Final Answer**\n\\[\n\\boxed{{\\${_money(value)}}}\n\\]",
        f"So the answer is \\boxed{{{value} \\text{{ dollars}}}}.",
        f"She ends up with {value:,} in total.\n#### {value}",
        f"Answer: {value}",
        f"\\boxed{{{value:,}}}".replace(",", "{,}"),
    ]
    wrong_forms = [
        f"\\boxed{{{wrong}}}",
        f"The answer is {wrong}.",
        f"\\boxed{{{value} \\text{{ and }} {wrong}}}",
    ]
    cases = [Case("number", gold, _think(form, rng), True) for form in right_forms]
    cases += [Case("number", gold, _think(form, rng), False) for form in wrong_forms]
    cases.append(Case("number", gold, f"<think>\nSo far {value} ... let me recheck", False, "length"))
    return cases


def math_pool(gold: str, others: list[str], rng: random.Random) -> list[Case]:
    right_forms = [
        f"\\boxed{{{gold}}}",
        f"Therefore the answer is $\\boxed{{{gold.replace(chr(92) + 'frac', chr(92) + 'dfrac')}}}$.",
        f"\\boxed{{ {gold} }}",
        f"The final answer is ${gold}$.",
    ]
    cases = [Case("math", gold, _think(form, rng), True) for form in right_forms]
    for other in rng.sample(others, 4):
        if re.sub(r"\D", "", other) != re.sub(r"\D", "", gold):  # another gold with other digits: a wrong answer
            cases.append(Case("math", gold, _think(f"\\boxed{{{other}}}", rng), False))
    cases.append(Case("math", gold, "<think>\nWe need to find the value, so", False, "length"))
    return cases


def choice_pool(n_options: int, rng: random.Random) -> list[Case]:
    letters = "ABCDEFGHIJ"[:n_options]
    gold = rng.choice(letters)
    wrong = rng.choice([letter for letter in letters if letter != gold])
    right_forms = [f"Answer: {gold}", f"The correct answer is ({gold}).", f"\\boxed{{{gold}}}", f"**Answer:** {gold}"]
    wrong_forms = [f"Answer: {wrong}", f"Answer: {gold} or {wrong}", f"I would go with {wrong}."]
    cases = [Case("choice", gold, _think(form, rng), True, n_options=n_options) for form in right_forms]
    cases += [Case("choice", gold, _think(form, rng), False, n_options=n_options) for form in wrong_forms]
    return cases


def text_pool(rng: random.Random) -> list[Case]:
    gold = rng.choice(["Yes", "No"])
    other = "No" if gold == "Yes" else "Yes"
    return [
        Case("text", gold, _think(f"{gold}, it does follow.\n1. All A are B\n2. All B are C", rng), True),
        Case("text", gold, _think(f"The answer is {gold.lower()}.", rng), True),
        Case("text", gold, _think(f"{other}.", rng), False),
    ]


def build(n: int, seed: int) -> list[Case]:
    from naturalthoughts import benchmarks

    rng = random.Random(seed)
    gsm8k = [item.answer for item in benchmarks.load("gsm8k")]
    math500 = [item.answer for item in benchmarks.load("math500")]
    pools: dict[str, list[list[Case]]] = {
        "number": [number_pool(gold, rng) for gold in gsm8k],
        "math": [math_pool(gold, math500, rng) for gold in math500],
        "choice": [choice_pool(rng.choice([4, 10]), rng) for _ in range(600)],
        "text": [text_pool(rng) for _ in range(100)],
    }
    shares = {"number": 0.35, "math": 0.30, "choice": 0.30, "text": 0.05}
    cases = []
    for kind, share in shares.items():
        for _ in range(round(n * share)):
            cases.append(rng.choice(rng.choice(pools[kind])))
    rng.shuffle(cases)
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="outputs to grade")
    parser.add_argument("--workers", type=int, default=1, help="grading processes (1: this process)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from naturalthoughts.text import grading, mathcheck

    print(f"building {args.n:,} outputs ... (load average {', '.join(f'{v:.1f}' for v in os.getloadavg())})")
    cases = build(args.n, args.seed)
    requests = [
        grading.CheckRequest(
            c.kind, c.gold, c.output, finish_reason=c.finish_reason, thinking=True, n_options=c.n_options
        )
        for c in cases
    ]
    per_kind: dict[str, float] = defaultdict(float)
    start = time.perf_counter()
    if args.workers <= 1:
        verdicts = []
        for request in requests:
            began = time.perf_counter()
            verdicts.append(grading.check_request(request))
            per_kind[request.kind] += time.perf_counter() - began
    else:
        verdicts = grading.check_many(requests, workers=args.workers)
    elapsed = time.perf_counter() - start
    disagree = sum(bool(v.correct) != c.expected for v, c in zip(verdicts, cases, strict=True))
    print(f"graded {len(cases):,} outputs in {elapsed:.1f} s ({len(cases) / elapsed:,.0f}/s), workers {args.workers}")
    for kind, seconds in sorted(per_kind.items()):
        print(f"  {kind:7s} {seconds:6.1f} s")
    if args.workers <= 1:
        print(f"  comparisons that reached math-verify: {mathcheck.CALLS['math-verify']:,}")
    print(f"verdicts different from the built-in expectation: {disagree}")
    print(f"load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"target < {TARGET_S:.0f} s for 100,000: {'met' if elapsed * 100_000 / len(cases) < TARGET_S else 'NOT met'}")
    mathcheck.shutdown_pool()
    return 0 if disagree == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
