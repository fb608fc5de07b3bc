"""The student sees the trace: every family's chat template, checked at the loss mask, with its mode switch.

Tokenizers are built locally (``chat_families``): the bundled SmolLM2 BPE with each family's template as the
installed TRL ships it and its special tokens; nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from chat_families import BY_NAME, FAMILIES, Family, family_student, family_tokenizer, stock_template
from naturalthoughts.engines.base import ChatRequest
from naturalthoughts.engines.chat_template import render_prompt
from naturalthoughts.errors import ConfigError
from naturalthoughts.rundir import RunDir
from naturalthoughts.sft.examples import Source, conversation, template_kwargs
from naturalthoughts.sft.loss_check import example_problem, tokenise
from naturalthoughts.text import chat_templates, modes
from test_sft_data import build, make_run, read

REASONING = "Two plus two.\nWait, check: 2 + 2 = 4, and 4 - 2 = 2 (so 4).\n\nYes."
ANSWER = "The answer is 4."
SOURCE = Source("t", "q", 0, "What is 2 + 2?", REASONING, ANSWER)


@pytest.fixture(scope="module")
def base(tiny_llama_dir: Path) -> Path:
    return tiny_llama_dir  # the tiny random Llama with the bundled SmolLM2 tokenizer


def _forms(switch: modes.ModeSwitch) -> list[tuple[bool, bool]]:
    """(System-2, adaptive) forms a family trains on."""
    return [(True, False), (False, False)] + ([(True, True), (False, True)] if switch.adaptive else [])


@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_loss_tokens_hold_the_whole_reasoning_or_none_and_the_prompt_is_a_prefix(base: Path, family: Family) -> None:
    tokenizer = family_tokenizer(base, family)
    template = chat_templates.resolve(tokenizer)
    assert (template.family, template.source) == (family.family, family.source)
    switch = modes.switch_for(template.family)
    for system2, adaptive in _forms(switch):
        messages = conversation(SOURCE, system2, adaptive, switch)
        [example] = tokenise(tokenizer, [messages], [template_kwargs(system2, adaptive, switch)], template.text)
        n = len(example.prompt_ids)
        assert example.ids[:n] == example.prompt_ids, (family.name, system2, adaptive)
        trained = tokenizer.decode(example.ids[n:], skip_special_tokens=False)
        assert ANSWER in trained
        if system2:
            assert REASONING in trained  # verbatim, newlines and all
        else:
            assert "Two plus two" not in trained and "Wait, check" not in trained
            assert modes.THINK_CLOSE in trained or modes.THINK_CLOSE in tokenizer.decode(example.prompt_ids)
        assert example_problem(tokenizer, example, system2, REASONING, ANSWER) is None


@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_evaluation_asks_each_mode_with_the_context_training_saw(base: Path, family: Family) -> None:
    """Eval's request (instruction + the template's default generation prompt + the family's prefill) renders to
    exactly the text that preceded the reasoning (think) or the answer (no-think) in training."""
    tokenizer = family_tokenizer(base, family)
    template = chat_templates.resolve(tokenizer)
    switch = modes.switch_for(template.family)
    evaluated = family_tokenizer(base, family)
    evaluated.chat_template = chat_templates.inference_template(template.text)  # what train saves
    assert "generation %}" not in evaluated.chat_template
    for mode, system2, follows in (("think", True, REASONING), ("no-think", False, ANSWER)):
        messages = conversation(SOURCE, system2, False, switch)
        kwargs = template_kwargs(system2, False, switch)
        trained = tokenizer.apply_chat_template(messages, tokenize=False, chat_template=template.text, **kwargs)
        assert evaluated.apply_chat_template(messages, tokenize=False, **kwargs) == trained  # same rendering
        try:
            prefill = switch.prefill(mode)
        except modes.ModeUnavailable as exc:  # only Qwen3.5 small's think mode: the template closes the block
            assert family.name == "qwen3.5-nothink" and mode == "think" and "enable_thinking" in str(exc)
            continue
        asked = render_prompt(evaluated, ChatRequest(messages=tuple(messages[:-1]), prefill=prefill))
        assert trained.startswith(asked), (family.name, mode, asked[-40:], trained)
        assert trained[len(asked) :].lstrip("\n").startswith(follows.split("\n")[0]), (family.name, mode)


def test_the_stock_r1_template_drops_the_reasoning_so_sft_data_uses_trls_training_template(
    run_dir: RunDir, base: Path, tmp_path: Path
) -> None:
    family = BY_NAME["deepseek-r1-distill"]
    student = family_student(base, family, tmp_path / "r1")
    tokenizer = family_tokenizer(base, family)
    target = modes.system2_target(REASONING, ANSWER)
    stock = tokenizer.apply_chat_template([{"role": "user", "content": "Q"}, {"role": "assistant", "content": target}],
                                          tokenize=False)  # fmt: skip
    assert "Two plus two" not in stock and stock.endswith("<｜Assistant｜>\n\nThe answer is 4.<｜end▁of▁sentence｜>")

    make_run(run_dir.root, n=6)
    record, folder = build(run_dir, student=str(student), mix="random:0.5", seed=2)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["template"]["source"] == "trl:deepseek_r1_distill_training.jinja"
    assert meta["template"]["stock"] == "deepseek_r1_distill"
    assert meta["counts"]["loss_checked"] == 6 and meta["counts"]["loss_failed"] == 0
    assert record["counts"]["loss_checked"] == 6
    rows = read(folder).to_pylist()
    assert {row["mode"] for row in rows} == {"system-1", "system-2"}
    for row in rows:
        [example] = tokenise(tokenizer, [row["messages"]], [{}], meta["chat_template"])
        n = len(example.prompt_ids)
        assert example.ids[:n] == example.prompt_ids and len(example.ids) == row["tokens"]
        trained = tokenizer.decode(example.ids[n:])
        i = int(row["question_id"][1:])
        reasoning = f"We add {i} and {i}. Adding gives {2 * i}."
        assert (reasoning in trained) == (row["mode"] == "system-2") and f"The answer is {2 * i}." in trained
        if row["mode"] == "system-1":  # the template opened <think>; the target closes it at once
            assert row["messages"][-1]["content"].startswith(modes.OPENED_NO_THINK_MARKER)


def test_forcing_the_stock_r1_template_is_an_error_naming_the_student_family_and_fix(
    run_dir: RunDir, base: Path, tmp_path: Path
) -> None:
    """Through the real `nt sft-data --chat-template`: exit 2, the message names the fix, nothing is written."""
    from test_cli_errors import assert_clean_failure, nt

    student = family_student(base, BY_NAME["deepseek-r1-distill"], tmp_path / "r1")
    stock = tmp_path / "stock.jinja"
    stock.write_text(stock_template("deepseek_r1_distill"), encoding="utf-8")
    make_run(run_dir.root, n=4)
    proc = nt("sft-data", "--run", str(run_dir.root), "--selection", "pick", "--student", str(student),
              "--chat-template", str(stock), timeout=300)  # fmt: skip
    assert_clean_failure(proc, 2, str(student), "DeepSeek-R1-Distill", "4 of 4 examples fail the loss-mask check",
                         "lack the reasoning", "deepseek_r1_distill_training.jinja")  # fmt: skip
    assert not (run_dir.sft_dir / "pick").exists()  # nothing written: no example trains without its reasoning


def test_qwen3_modes_use_enable_thinking_and_the_soft_switch(run_dir: RunDir, base: Path, tmp_path: Path) -> None:
    student = family_student(base, BY_NAME["qwen3"], tmp_path / "qwen3")
    make_run(run_dir.root, n=6)
    _, folder = build(run_dir, student=str(student), mix="random:0.5", seed=2, adaptive_share=0.5)
    rows = read(folder).to_pylist()
    assert {row["instruction"] for row in rows} == {"think", "no-think", "adaptive"}
    for row in rows:
        first = row["messages"][0]
        flag = json.loads(row["chat_template_kwargs"])["enable_thinking"]
        if row["instruction"] == "adaptive":  # no instruction; the template's default (the model chooses)
            assert first["role"] == "user" and flag is True
        else:
            soft = {"think": "/think", "no-think": "/no_think"}[row["instruction"]]
            assert first == {"role": "system", "content": soft}
            assert flag is (row["instruction"] == "think")


def test_qwen35_has_no_adaptive_mode_to_train(run_dir: RunDir, base: Path, tmp_path: Path) -> None:
    student = family_student(base, BY_NAME["qwen3.5-think"], tmp_path / "qwen35")
    make_run(run_dir.root, n=4)
    with pytest.raises(ConfigError, match="no adaptive mode to train: set adaptive_share to 0"):
        build(run_dir, student=str(student), adaptive_share=0.5)


@pytest.mark.parametrize("name", ["deepseek-r1-distill", "qwen3"])
def test_train_uses_the_checked_template_and_records_it(run_dir: RunDir, base: Path, tmp_path: Path, name: str) -> None:
    from naturalthoughts.eval.config import EvalConfig
    from naturalthoughts.eval.plan import mode_switch
    from test_train import _run, _stages

    student = family_student(base, BY_NAME[name], tmp_path / name)
    make_run(run_dir.root, n=4)
    _run(run_dir, _stages(student, mix="random:0.5", seed=1, method="full", max_steps=1, precision="fp32"))
    folder = run_dir.models_dir / "pick+random-0.5"
    training = json.loads((folder / "training.json").read_text())
    meta = json.loads((run_dir.sft_dir / "pick+random-0.5" / "meta.json").read_text())
    assert training["chat_template"]["source"] == meta["template"]["source"] == BY_NAME[name].source
    assert training["result"]["loss_mask_checked"] == 4
    assert "loss-mask check" in (folder / "README.md").read_text()
    saved = chat_templates.model_template(folder)
    assert saved == chat_templates.inference_template(meta["chat_template"]) and "generation %}" not in saved
    switch = mode_switch(EvalConfig(engine={"engine": "transformers", "model": str(folder)}).engine)
    assert switch.family == BY_NAME[name].family
    if name == "deepseek-r1-distill":
        assert switch.prefill("think") is None and switch.prefill("no-think") == "</think>\n\n"
    assert pq.read_table(run_dir.sft_dir / "pick+random-0.5" / "train.parquet").num_rows == 4


def test_eval_of_an_r1_student_opens_the_reasoning_once_with_and_without_a_budget(
    run_dir: RunDir, base: Path, tmp_path: Path
) -> None:
    """A real evaluation (transformers engine, tiny R1-family student): the template opens <think>, so think
    pre-fills nothing, no-think pre-fills the closing tag, and a thinking budget's pre-fills lose the opener."""
    from naturalthoughts.eval import EvalConfig, EvalStage
    from naturalthoughts.eval.opened import OpenedTemplateEngine
    from naturalthoughts.progress import quiet_reporter
    from naturalthoughts.runner import Runner

    family = BY_NAME["deepseek-r1-distill"]
    student = family_student(base, family, tmp_path / "r1")
    make_run(run_dir.root, n=2)
    engine = {"engine": "transformers", "model": str(student)}
    common = {"engine": engine, "benchmarks": ["gsm8k"], "limit": 1, "max_tokens": 6}
    stages = [EvalStage(EvalConfig(**common, modes=["think", "no-think", "adaptive"]), model_name="r1"),
              EvalStage(EvalConfig(**common, modes=["think"], think_budgets=[3]), model_name="r1-budget")]  # fmt: skip
    with Runner(run_dir, reporter=quiet_reporter()) as runner:
        assert [outcome.record["status"] for outcome in runner.run_all(stages)] == ["done", "done"]
    rows = [row for name in ("r1", "r1-budget")
            for row in pq.read_table(run_dir.eval_dir / name / "samples.parquet").to_pylist()]  # fmt: skip
    assert {(r["mode"], r["budget"]) for r in rows} == {("think", None), ("no-think", None), ("adaptive", None),
                                                        ("think", 3)}  # fmt: skip
    for row in rows:
        assert row["output"].startswith("<think>\n") and not row["output"].startswith("<think>\n<think>"), row
        if row["mode"] == "no-think":
            assert row["prefill"] == "</think>\n\n" and row["output"].startswith(modes.OPENED_NO_THINK_MARKER)
        elif row["budget"] is None:
            assert row["prefill"] is None

    tokenizer = family_tokenizer(base, family)
    tokenizer.chat_template = chat_templates.model_template(student)
    phase = ChatRequest(messages=({"role": "user", "content": "Q"},), prefill="<think>\nSo far")
    prompt = render_prompt(tokenizer, OpenedTemplateEngine(None, "<think>\n").cut(phase))  # type: ignore[arg-type]
    assert prompt.endswith("<｜Assistant｜><think>\nSo far") and prompt.count("<think>") == 1


def test_the_loss_mask_check_catches_each_way_an_example_can_fail(base: Path) -> None:
    """The check itself, on real tokenisations: it fails a System-2 example whose template dropped the reasoning, a
    System-1 example that trains on the reasoning, a prompt that is not a prefix, and a loss without the answer."""
    from naturalthoughts.sft.loss_check import Tokenised

    r1 = family_tokenizer(base, BY_NAME["deepseek-r1-distill"])
    switch = modes.switch_for("deepseek-r1-distill")
    thinking = conversation(SOURCE, True, False, switch)
    [stock] = tokenise(r1, [thinking], [{}], stock_template("deepseek_r1_distill"))
    assert "lack the reasoning" in (example_problem(r1, stock, True, REASONING, ANSWER) or "")
    [good] = tokenise(r1, [thinking], [{}], chat_templates.resolve(r1).text)
    assert example_problem(r1, good, True, REASONING, ANSWER) is None
    # The same System-2 rendering checked as an answer-only example: it trains on the reasoning.
    assert "reasoning of an answer-only" in (example_problem(r1, good, False, REASONING, ANSWER) or "")
    # A prompt that renders differently alone (here: one token more than the sequence shares).
    shifted = Tokenised([*good.prompt_ids, good.ids[len(good.prompt_ids)] + 1], good.ids)
    assert "not a prefix" in (example_problem(r1, shifted, True, REASONING, ANSWER) or "")
    # A sequence cut before the answer.
    answer_at = len(r1.decode(good.ids)) - len(ANSWER) - len("<｜end▁of▁sentence｜>")
    cut = next(n for n in range(len(good.ids), 0, -1) if len(r1.decode(good.ids[:n])) <= answer_at)
    short = Tokenised(good.prompt_ids, good.ids[:cut])
    assert "lack the answer" in (example_problem(r1, short, True, REASONING, ANSWER) or "")
