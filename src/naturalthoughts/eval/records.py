"""One row of ``samples.parquet`` per graded sample (schema :data:`naturalthoughts.tables.EVAL_SAMPLES`).

The ``output`` is the whole assistant turn: the prefill the request started it with, then what the model
generated (engines return the continuation only). Graders read it whole, so an unclosed ``<think>`` opened by the
prefill still means "no answer".

Token counts: under a thinking budget the engine reports each phase's tokens; otherwise the server's
``completion_tokens`` is split between reasoning and answer by character share
(:func:`naturalthoughts.text.think.split_tokens`), or both parts are counted with ``config.tokenizer``.
"""

from __future__ import annotations

from typing import Any

from naturalthoughts.benchmarks import Grade
from naturalthoughts.engines.base import ChatResult
from naturalthoughts.eval.plan import Sample
from naturalthoughts.text.modes import THINK_PREFILL
from naturalthoughts.text.think import THINK_CLOSE, THINK_OPEN, parse_response, split_tokens


def full_output(sample: Sample, result: ChatResult) -> str | None:
    """The assistant turn as the model wrote it: prefill + continuation; a server-separated reasoning is put back
    between the tags (left open when the server returned no answer), so every output reads the same way."""
    if result.error is not None:
        return None
    text = result.text or ""
    if result.reasoning:
        # A server's reasoning parser moves only text after </think> into the content: empty content means the
        # reasoning never closed (cut at the limit), and the block is written unclosed so it grades as such.
        closing = f"\n{THINK_CLOSE}\n\n" if text.strip() else ""
        text = f"{THINK_OPEN}\n{result.reasoning.strip()}{closing}{text.lstrip()}"
    prefill = sample.assistant_start  # the template's opener (R1-distill's <think>) and the request's prefill
    if prefill and not result.reasoning and not text.startswith(prefill):
        text = prefill + text
    return text


def token_counts(output: str, result: ChatResult, counter: Any = None) -> tuple[int | None, int | None]:
    """(reasoning, answer) tokens of ``output``."""
    parsed = parse_response(output)
    if result.reasoning_tokens is not None and result.answer_tokens is not None:
        return result.reasoning_tokens, result.answer_tokens
    if counter is not None:
        return counter(parsed.reasoning), counter(parsed.answer)
    return split_tokens(result.completion_tokens, parsed.reasoning, parsed.answer)


def record(
    model: str,
    engine: str,
    sample: Sample,
    result: ChatResult,
    grade: Grade | None,
    contaminated: bool,
    counter: Any = None,
) -> dict[str, Any]:
    output = full_output(sample, result)
    reasoning_tokens, answer_tokens = token_counts(output, result, counter) if output is not None else (None, None)
    item = sample.item
    graded = grade is not None and result.error is None
    return {
        "model": model,
        "engine": engine,
        "benchmark": sample.benchmark.name,
        "item_id": item.id,
        "seed": sample.seed,
        "mode": sample.mode,
        "budget": sample.budget,
        "subset": sample.benchmark.subset(item),
        "prompt": sample.request.messages[-1]["content"],
        "prefill": sample.request.prefill if sample.budget is None else THINK_PREFILL,
        "output": output,
        "reasoning_tokens": reasoning_tokens,
        "answer_tokens": answer_tokens,
        "completion_tokens": result.completion_tokens,
        "prompt_tokens": result.prompt_tokens,
        "extracted": grade.extracted if graded else None,
        "extraction": grade.method if graded else None,
        "valid": grade.valid if graded else None,
        "gold": item.answer,
        "correct": grade.correct if graded else None,
        "guess_correct": grade.guess_correct if graded else None,
        "score": grade.score if graded else None,
        "judge_output": None,
        "finish_reason": result.finish_reason,
        "forced": bool(result.forced) if result.error is None else None,
        "contaminated": contaminated,
        "error": result.error,
        "latency_s": result.latency_s,  # the cache keeps the first answer's latency: reruns give identical rows
    }
