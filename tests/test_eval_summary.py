"""The evaluation summary, the compare table, the config presets and the plan (no model needed)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from naturalthoughts.errors import ConfigError
from naturalthoughts.eval.compare import csv_table, markdown_table
from naturalthoughts.eval.config import EvalConfig
from naturalthoughts.eval.plan import build_plan, spread_subset
from naturalthoughts.eval.summary import summarise


def row(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": "m", "benchmark": "gsm8k", "subset": None, "mode": "think", "budget": None, "item_id": "1",
        "seed": 0, "correct": True, "extracted": "1", "extraction": "boxed", "valid": True, "guess_correct": None,
        "finish_reason": "stop", "forced": False, "reasoning_tokens": 10, "answer_tokens": 2, "error": None,
        "contaminated": False,
    }  # fmt: skip
    base.update(values)
    return base


def test_accuracy_is_the_mean_over_seeds_with_its_standard_error() -> None:
    rows = [
        row(item_id="1", seed=0, correct=True), row(item_id="2", seed=0, correct=True),
        row(item_id="1", seed=1, correct=True), row(item_id="2", seed=1, correct=False, extracted=None,
                                                   extraction="unclosed-thinking", finish_reason="length"),
        row(item_id="1", seed=2, correct=None, error="timeout", reasoning_tokens=None, answer_tokens=None),
        row(item_id="2", seed=2, correct=False, valid=False, extracted="E"),
    ]  # fmt: skip
    [summary] = summarise(rows).to_pylist()
    seed_accuracies = [1.0, 0.5, 0.0]  # seed 2: the failed request is not graded, the invalid answer is wrong
    assert summary["accuracy"] == pytest.approx(0.5)
    expected_stderr = (sum((a - 0.5) ** 2 for a in seed_accuracies) / 2) ** 0.5 / math.sqrt(3)
    assert summary["accuracy_stderr"] == pytest.approx(expected_stderr)
    assert (summary["items"], summary["seeds"], summary["samples"], summary["errors"]) == (2, 3, 5, 1)
    assert summary["extraction_failure_rate"] == pytest.approx(1 / 5)
    assert summary["unclosed_rate"] == pytest.approx(1 / 5) and summary["truncation_rate"] == pytest.approx(1 / 5)
    assert summary["invalid_rate"] == pytest.approx(1 / 5)
    assert summary["mean_tokens"] == pytest.approx(12.0) and summary["accuracy_with_guess"] is None


def test_one_seed_has_no_standard_error_and_the_guess_stays_apart() -> None:
    rows = [
        row(benchmark="mmlu_pro", item_id="1", correct=True),
        row(benchmark="mmlu_pro", item_id="2", correct=False, extracted=None, guess_correct=True),
        row(benchmark="mmlu_pro", item_id="3", correct=False, extracted=None, guess_correct=False),
        row(benchmark="mmlu_pro", item_id="4", correct=False, extracted="C"),
    ]
    [summary] = summarise(rows).to_pylist()
    assert summary["accuracy"] == pytest.approx(0.25) and summary["accuracy_stderr"] is None
    assert summary["accuracy_with_guess"] == pytest.approx(0.5)


def test_math500_levels_and_budgets_get_their_own_rows() -> None:
    rows = [
        row(benchmark="math500", subset="level 1", item_id="a", correct=True),
        row(benchmark="math500", subset="level 5", item_id="b", correct=False),
        row(benchmark="math500", subset="level 5", item_id="b", budget=256, forced=True, correct=True),
        row(benchmark="gpqa_diamond", subset="Physics", item_id="g", contaminated=True),
    ]
    table = summarise(rows, by_subset=frozenset({"math500"})).to_pylist()
    keys = [(r["benchmark"], r["subset"], r["budget"]) for r in table]
    assert keys == [
        ("math500", None, None), ("math500", "level 1", None), ("math500", "level 5", None),
        ("math500", None, 256), ("math500", "level 5", 256), ("gpqa_diamond", None, None),
    ]  # fmt: skip
    by_key = dict(zip(keys, table, strict=True))
    assert by_key[("math500", None, None)]["accuracy"] == pytest.approx(0.5)
    assert by_key[("math500", "level 5", 256)]["forced_rate"] == 1.0
    assert by_key[("gpqa_diamond", None, None)]["contaminated_items"] == 1


def test_compare_table_puts_accuracy_beside_tokens() -> None:
    samples = [
        row(model="student", mode="think", reasoning_tokens=900, answer_tokens=100),
        row(model="student", mode="no-think", correct=False, reasoning_tokens=0, answer_tokens=50),
        row(model="base", benchmark="math500", mode="think"),
    ]
    rows = summarise(samples).to_pylist()
    text = markdown_table(rows)
    header = "| model | mode | budget | math500 acc % | math500 tokens | gsm8k acc % | gsm8k tokens |"
    assert text.splitlines()[0] == header, "benchmark columns in the registry's order"
    assert "| student | think |  |  |  | 100.0 | 1,000 |" in text
    assert "| student | no-think |  |  |  | 0.0 | 50 |" in text
    assert csv_table(rows).splitlines()[1] == "base,think,,100.0,12,,"


def test_presets_fill_only_what_was_not_given() -> None:
    paper = EvalConfig(preset=["paper"])
    assert paper.benchmarks == ["gpqa_diamond", "math500", "mmlu_pro", "supergpqa"]
    assert [paper.repeats_of(b) for b in paper.benchmarks] == [24, 16, 1, 1]
    assert paper.seeds_of("math500") == list(range(16)) and (paper.temperature, paper.top_p) == (0.6, 0.95)
    mine = EvalConfig(preset=["paper", "qwen"], benchmarks=["gsm8k"], repeats={"math500": 2}, temperature=0.2)
    assert mine.benchmarks == ["gsm8k"] and mine.repeats["math500"] == 2 and mine.repeats["gpqa_diamond"] == 24
    assert (mine.temperature, mine.top_p) == (0.2, 1.0)
    assert EvalConfig(preset=["paper"], seeds=3).repeats_of("gpqa_diamond") == 3, "--seeds overrides the preset"
    defaults = EvalConfig()
    assert (defaults.temperature, defaults.top_p, defaults.max_tokens) == (0.6, 0.95, 16384)


def test_config_rejects_what_cannot_work() -> None:
    with pytest.raises(ValueError):
        EvalConfig(think_budgets=[0])
    with pytest.raises(ValueError):
        EvalConfig(modes=[])
    with pytest.raises(ConfigError, match="judge model"):
        build_plan(EvalConfig(benchmarks=["open_ended"], sources={"open_ended": __file__}))
    with pytest.raises(ConfigError, match="not evaluated"):
        build_plan(EvalConfig(benchmarks=["gsm8k"], sources={"math500": "x.jsonl"}))


def test_plan_covers_modes_budgets_and_seeds_with_per_seed_gpqa_layouts() -> None:
    config = EvalConfig(
        benchmarks=["gpqa_diamond", "gsm8k"], modes=["think", "no-think"], limit=3, seeds=2, think_budgets=[64],
        max_tokens=100,
    )  # fmt: skip
    plan = build_plan(config)
    # gpqa/gsm8k x (think@64, no-think) x 2 seeds x 3 items; no budget for no-think
    assert len(plan.samples) == 2 * 2 * 2 * 3
    assert {(s.mode, s.budget) for s in plan.samples} == {("think", 64), ("no-think", None)}
    budgeted = [s for s in plan.samples if s.budget is not None]
    assert all(s.request.prefill is None for s in budgeted), "the thinking engine opens the reasoning itself"
    no_think = [s for s in plan.samples if s.mode == "no-think"]
    assert all(s.request.prefill == "<think>\n\n</think>\n\n" for s in no_think)
    assert all(s.request.messages[0]["content"] == "Answer directly, without thinking." for s in no_think)
    gpqa = [s for s in plan.samples if s.benchmark.name == "gpqa_diamond" and s.mode == "think"]
    by_item: dict[str, set[tuple[str, ...]]] = {}
    for sample in gpqa:
        by_item.setdefault(sample.item.id, set()).add(tuple(sample.item.choices or ()))
        assert sample.request.params.seed == sample.seed == sample.request.sample
    assert any(len(layouts) == 2 for layouts in by_item.values()), "each seed asks GPQA with its own option order"
    assert build_plan(config).samples == plan.samples, "the plan is deterministic"


def test_limit_takes_a_fixed_spread_subset() -> None:
    from naturalthoughts import benchmarks

    mmlu = benchmarks.load("mmlu")
    subset = spread_subset(mmlu, 20)
    assert len(subset) == 20 and subset == spread_subset(mmlu, 20)
    assert len({item.metadata["subject"] for item in subset}) > 10, "not just the first subject"
    assert [mmlu.index(item) for item in subset] == sorted(mmlu.index(item) for item in subset)


@pytest.mark.parametrize(
    ("mode", "result"),
    [
        # adaptive mode, a server whose template opened <think>: the reply has no tags and was cut at the limit
        ("adaptive", {"text": "So 9 eggs at $2 is 18, but wait, the muffins", "finish_reason": "length"}),
        # a server-side reasoning parser cut inside the reasoning: reasoning returned, no content
        ("think", {"text": "", "reasoning": "So 9 eggs at $2 is 18, but", "finish_reason": "length"}),
        # think mode with the prefill: the output opens <think> and never closes it
        ("think", {"text": "So 9 eggs at $2 is 18, but", "finish_reason": "length"}),
    ],
)
def test_a_reply_cut_before_its_reasoning_closed_is_unclosed_thinking_and_counted(
    mode: str, result: dict[str, Any]
) -> None:
    from naturalthoughts import benchmarks
    from naturalthoughts.engines.base import ChatResult
    from naturalthoughts.eval.plan import grade_options
    from naturalthoughts.eval.records import full_output, record

    config = EvalConfig(benchmarks=["gsm8k"], modes=[mode], limit=1)  # type: ignore[list-item]
    [sample] = build_plan(config).samples
    reply = ChatResult(**result)
    grade = benchmarks.get("gsm8k").grade(sample.item, full_output(sample, reply), grade_options(
        config, sample.seed, reply.finish_reason, sample.mode))  # fmt: skip
    assert (grade.extracted, grade.method, grade.correct) == (None, "unclosed-thinking", False)
    [summary] = summarise([record("m", "e", sample, reply, grade, False)]).to_pylist()
    assert summary["unclosed_rate"] == 1.0 and summary["extraction_failure_rate"] == 1.0


EVERY_KEY = """\
eval:
  engine: {engine: openai, model: served-model, base_url: "http://127.0.0.1:9/v1"}
  benchmarks: [gsm8k, "reasoning-gym:gcd{max_value=100},syllogism:40:999", open_ended]
  sources: {open_ended: questions.jsonl}
  modes: [no-think, adaptive]
  seeds: 3
  seed: 5
  repeats: {gsm8k: 2}
  limit: 7
  think_budgets: [64, 32]
  preset: [qwen]
  temperature: 0.3
  top_p: 0.5
  max_tokens: 99
  instruction: false
  prefill: false
  mmlu_pro_official: true
  simple_evals: true
  judge: {engine: openai, model: judge-model, base_url: "http://127.0.0.1:9/v1"}
  judge_max_tokens: 33
  tokenizer: approx
  contamination_ngram: 9
  chunk_size: 17
  concurrency: 3
  progress: false
"""


def cli_options() -> dict[str, Any]:
    """What `nt eval --config FILE` passes when no other option is given (the CLI's own defaults)."""
    from naturalthoughts.cli.eval import parse_benches

    names, sources = parse_benches(None)
    keys = ("seeds", "seed", "limit", "temperature", "top_p", "max_tokens", "mmlu_pro_official", "simple_evals",
            "instruction", "prefill", "tokenizer", "concurrency", "progress", "engine.api_key_env", "preset", "modes",
            "think_budgets")  # fmt: skip
    return {"benchmarks": names or None, "sources": sources, **dict.fromkeys(keys)}


def test_nt_eval_config_honours_every_key_of_its_eval_section(tmp_path: Any) -> None:
    from naturalthoughts.cli.eval import build_config

    path = tmp_path / "eval.yaml"
    path.write_text(EVERY_KEY, encoding="utf-8")
    config = build_config(path, cli_options(), {"engine": None, "model": None, "base_url": None},
                          {"engine": None, "model": None, "base_url": None}, None)  # fmt: skip
    import yaml

    given = yaml.safe_load(EVERY_KEY)["eval"]
    assert set(given) == set(EvalConfig.model_fields), "the file sets every key of the eval section"
    assert config.benchmarks == ["gsm8k", "reasoning_gym", "open_ended"]
    assert config.sources == {"open_ended": "questions.jsonl", "reasoning_gym": "gcd{max_value=100},syllogism:40:999"}
    assert config.engine.model == "served-model" and config.judge.model == "judge-model"
    assert config.think_budgets == [32, 64] and config.preset == ["qwen"]
    for key in set(given) - {"engine", "judge", "benchmarks", "sources", "think_budgets"}:
        assert getattr(config, key) == given[key], key


def test_nt_eval_config_refuses_unknown_keys(tmp_path: Any) -> None:
    from naturalthoughts.cli.eval import build_config

    path = tmp_path / "eval.yaml"
    path.write_text("eval:\n  benchmarks: [gsm8k]\n  temprature: 0.3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="temprature"):
        build_config(path, cli_options(), {"engine": None, "model": None, "base_url": None},
                     {"engine": None, "model": None, "base_url": None}, None)  # fmt: skip
