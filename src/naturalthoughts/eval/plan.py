"""The work of one ``nt eval`` run: one request per (benchmark, mode, thinking budget, seed, item).

Requests are deterministic: the same config, model and seed give the same requests, hence the same cache keys,
so an interrupted or repeated evaluation is answered from the run's response cache.

Modes follow the model's family exactly as training did (:func:`naturalthoughts.text.modes.switch_for`, the family
read from the model folder by :func:`naturalthoughts.text.chat_templates.model_family`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from naturalthoughts import benchmarks
from naturalthoughts.benchmarks import Benchmark, BenchmarkItem, GradeOptions
from naturalthoughts.engines.base import ChatRequest, SamplingParams
from naturalthoughts.errors import ConfigError, Fix
from naturalthoughts.eval.config import EvalConfig
from naturalthoughts.text import modes
from naturalthoughts.text.modes import Mode


@dataclass(frozen=True)
class Sample:
    """One request to make and grade: an item as asked with ``seed`` (GPQA: its own option order), in ``mode``."""

    benchmark: Benchmark
    item: BenchmarkItem
    seed: int
    mode: Mode
    budget: int | None
    request: ChatRequest
    opened: str = ""  # what the chat template's generation prompt already opened the assistant turn with

    @property
    def assistant_start(self) -> str:
        """The start of the assistant turn the model continues: the template's opener, then the prefill."""
        return self.opened + (self.request.prefill or "")


@dataclass
class Plan:
    """Every sample of the run, with the items per benchmark (for the contamination check and the summary)."""

    samples: list[Sample]
    items: dict[str, list[BenchmarkItem]]
    max_tokens: int
    notes: list[str]


def spread_subset(items: list[BenchmarkItem], limit: int | None) -> list[BenchmarkItem]:
    """At most ``limit`` items, chosen by a hash of their ids (so a small limit spans MMLU's subjects and MATH's
    levels instead of taking the first rows), kept in file order."""
    if limit is None or limit >= len(items):
        return items
    ranked = sorted(range(len(items)), key=lambda i: hashlib.sha256(items[i].ref.encode()).hexdigest())
    return [items[i] for i in sorted(ranked[:limit])]


def load_items(config: EvalConfig) -> dict[str, list[BenchmarkItem]]:
    unknown = [name for name in config.sources if name not in config.benchmarks]
    if unknown:
        raise ConfigError(f"sources given for benchmarks not evaluated: {', '.join(unknown)} (evaluate them too)")
    return {
        name: spread_subset(benchmarks.load(name, config.sources.get(name)), config.limit) for name in config.benchmarks
    }


def slot_tokens(config: EvalConfig) -> tuple[int, str | None]:
    """``max_tokens`` clamped to what the engine can write in one reply (its config's ``clamp_max_tokens``), and a
    note when it was cut."""
    return config.engine.clamp_max_tokens(config.max_tokens)


def messages(
    benchmark: Benchmark, item: BenchmarkItem, mode: Mode, config: EvalConfig, switch: modes.ModeSwitch
) -> tuple[dict[str, str], ...]:
    assert benchmark.prompt is not None
    user = {"role": "user", "content": benchmark.prompt(item, grade_options(config, 0))}
    system = switch.instruction(mode) if config.instruction else None
    return ({"role": "system", "content": system}, user) if system else (user,)


def mode_switch(engine: Any) -> modes.ModeSwitch:
    """The mode switch of the evaluated model's family, from its folder when the engine loads one; else the generic
    one (reading a GGUF's template takes seconds, and a served model's template is not visible from here)."""
    from naturalthoughts.text.chat_templates import model_family

    raw = getattr(engine, "model", None)
    path = Path(str(raw)).expanduser() if raw else None
    if path is None or not path.is_dir():
        return modes.switch_for(None)
    return modes.switch_for(model_family(path))


def mode_prefill(switch: modes.ModeSwitch, mode: Mode) -> str | None:
    try:
        return switch.prefill(mode)
    except modes.ModeUnavailable as exc:
        raise ConfigError(f"{exc} (eval.modes)") from None


def grade_options(
    config: EvalConfig, seed: int, finish_reason: str | None = None, mode: Mode | None = None
) -> GradeOptions:
    """How a sample is graded: the config's published readings, how its reply ended and whether it was asked to
    reason (think and adaptive modes: a reply cut before closing its reasoning has no answer)."""
    return GradeOptions(
        seed=seed,
        official=config.mmlu_pro_official,
        simple_evals=config.simple_evals,
        finish_reason=finish_reason,
        thinking=mode in ("think", "adaptive"),
    )


def budgets_for(mode: Mode, config: EvalConfig) -> list[int | None]:
    """A thinking budget only means something when the model thinks: none for no-think."""
    if mode == "no-think" or not config.think_budgets:
        return [None]
    return list(config.think_budgets)


def _samples(
    config: EvalConfig, items: dict[str, list[BenchmarkItem]], max_tokens: int, switch: modes.ModeSwitch
) -> Iterator[Sample]:
    for name, benchmark_items in items.items():
        benchmark = benchmarks.get(name)
        for mode in config.modes:
            for budget in budgets_for(mode, config):
                if budget is not None:
                    mode_prefill(switch, "think")  # a budget thinks: the family must be able to (Qwen3.5 small)
                # Under a budget the thinking engine opens the reasoning itself (a pre-filled request would pass
                # through it unbudgeted), so the request carries no prefill.
                prefill = mode_prefill(switch, mode) if config.prefill and budget is None else None
                for seed in config.seeds_of(name):
                    params = SamplingParams(
                        temperature=config.temperature, top_p=config.top_p, max_tokens=max_tokens, seed=seed
                    )
                    for item in benchmark_items:
                        asked = benchmark.variant(item, seed)
                        request = ChatRequest(
                            messages=messages(benchmark, asked, mode, config, switch),
                            params=params,
                            sample=seed,
                            prefill=prefill,
                        )
                        yield Sample(benchmark, asked, seed, mode, budget, request, opened=switch.opener)


def build_plan(config: EvalConfig) -> Plan:
    for name in config.benchmarks:
        if benchmarks.get(name).kind == "judge" and config.judge is None:
            raise ConfigError(f"benchmark {name} is graded by a judge model: give one (eval.judge, or {{fix}})",
                              fix=Fix("eval", judge_model="MODEL"))  # fmt: skip
    items = load_items(config)
    max_tokens, note = slot_tokens(config)
    notes = [note] if note else []
    switch = mode_switch(config.engine)
    if switch.family != modes.GENERIC:
        notes.append(f"modes follow the {switch.label} conventions of training ({switch.switch})")
    return Plan(list(_samples(config, items, max_tokens, switch)), items, max_tokens, notes)
