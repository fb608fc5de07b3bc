"""`nt eval` end to end on real engines: llama.cpp (SmolLM2-135M), a tiny transformers student and a LoRA adapter.

Checks the records, that a rerun is fully cached and identical, thinking budgets, the judge, the contamination
warning and `nt eval compare`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts import benchmarks
from naturalthoughts.engines import OpenAIEngineConfig
from naturalthoughts.eval import EvalConfig, EvalStage
from naturalthoughts.eval.plan import spread_subset
from naturalthoughts.progress import Reporter
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner
from naturalthoughts.tables import EVAL_SAMPLES, EVAL_SUMMARY, QUESTIONS
from nt_cli import nt


def manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_nt_eval_on_the_embedded_llamacpp_engine_then_a_fully_cached_identical_rerun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    config = tmp_path / "eval.yaml"
    config.write_text("eval:\n  engine: {engine: llamacpp, n_parallel: 2, n_ctx: 2048, n_threads: 2}\n", "utf-8")
    args = ["eval", "--run", str(run), "--config", str(config), "--bench", "gpqa_diamond,gsm8k", "--limit", "2",
            "--mode", "think,no-think", "--max-tokens", "24", "-q"]  # fmt: skip
    assert nt(*args) == 0
    printed = capsys.readouterr().out
    assert "| model | mode | budget | gpqa_diamond acc % |" in printed and "| smollm2 | no-think |" in printed
    folder = run / "eval" / "smollm2"
    samples = pq.read_table(folder / "samples.parquet")
    assert samples.schema.equals(EVAL_SAMPLES, check_metadata=False) and samples.num_rows == 2 * 2 * 2
    rows = samples.to_pylist()
    for row in rows:
        assert row["error"] is None and row["model"] == "smollm2" and row["engine"].startswith("llamacpp:")
        assert row["output"].startswith(row["prefill"]), "the output is the whole assistant turn"
        assert row["completion_tokens"] and row["reasoning_tokens"] + row["answer_tokens"] == row["completion_tokens"]
        assert row["correct"] is not None and row["gold"]
        assert (row["extracted"] is None) == (row["extraction"] in (None, "unclosed-thinking"))
    think = [r for r in rows if r["mode"] == "think"]
    assert all(r["prefill"] == "<think>\n" for r in think)
    assert all(r["extraction"] == "unclosed-thinking" for r in think if "</think>" not in r["output"])
    no_think = [r for r in rows if r["mode"] == "no-think"]
    assert all(r["prefill"] == "<think>\n\n</think>\n\n" and r["reasoning_tokens"] == 0 for r in no_think)
    gpqa = [r for r in rows if r["benchmark"] == "gpqa_diamond"]
    assert all(r["gold"] in "ABCD" and "where LETTER is one of ABCD" in r["prompt"] for r in gpqa)
    summary = pq.read_table(folder / "summary.parquet")
    assert summary.schema.equals(EVAL_SUMMARY, check_metadata=False)
    assert {(r["benchmark"], r["mode"]) for r in summary.to_pylist()} == {
        (b, m) for b in ("gpqa_diamond", "gsm8k") for m in ("think", "no-think")}  # fmt: skip
    assert (folder / "summary.md").read_text("utf-8").startswith("| model |")
    first = manifest(run)["stages"]["eval:smollm2"][-1]
    assert first["status"] == "done" and first["usage"]["requests_sent"] == 8

    # the same command again: up to date, nothing sent
    assert nt(*args) == 0
    assert "eval:smollm2: up to date" in capsys.readouterr().out
    # forced: every sample from the cache, the records identical (the server is never started)
    assert nt(*args, "--force") == 0
    record = manifest(run)["stages"]["eval:smollm2"][-1]
    assert record["usage"]["requests_sent"] == 0 and record["usage"]["cache_hits"] == 8
    assert pq.read_table(folder / "samples.parquet").equals(samples)


@pytest.fixture
def endpoint(llamacpp_openai_config: OpenAIEngineConfig) -> OpenAIEngineConfig:
    """The session's llama.cpp server through the OpenAI-compatible engine (no second server)."""
    return llamacpp_openai_config


def run_eval(run: RunDir, config: EvalConfig, name: str = "smollm2", reporter: Reporter | None = None) -> object:
    with Runner(run, reporter=reporter or Reporter(mode="off")) as runner:
        return runner.run_stage(EvalStage(config, model_name=name))


def test_thinking_budgets_seeds_and_adaptive_mode(run_dir: RunDir, endpoint: OpenAIEngineConfig) -> None:
    config = EvalConfig(
        engine=endpoint, benchmarks=["gpqa_diamond"], modes=["think", "adaptive"], limit=1, seeds=2,
        think_budgets=[8], max_tokens=12,
    )  # fmt: skip
    outcome = run_eval(run_dir, config)
    rows = pq.read_table(run_dir.eval_dir / "smollm2" / "samples.parquet").to_pylist()
    assert len(rows) == 2 * 2 and {r["budget"] for r in rows} == {8}
    for row in rows:
        assert row["error"] is None and row["output"].startswith("<think>\n") and "</think>" in row["output"]
        assert row["reasoning_tokens"] <= 8
        # A forced reasoning was cut at the budget; the model may also close its own at exactly 8 tokens (not forced).
        assert not row["forced"] or row["reasoning_tokens"] == 8, "forced only when the budget was spent"
    assert any(row["forced"] for row in rows), "a tiny model does not close its reasoning within 8 tokens"
    assert all("Final Answer:" in r["output"] for r in rows if r["forced"])
    adaptive = [r for r in rows if r["mode"] == "adaptive"]
    assert all(r["prompt"] and r["prefill"] == "<think>\n" for r in adaptive)
    layouts = {(r["item_id"], r["seed"]): r["prompt"] for r in rows if r["mode"] == "think"}
    assert any(layouts[(i, 0)] != layouts[(i, 1)] for i, _ in layouts), "each seed has its own option order"
    summary = outcome.result.value.to_pylist()
    assert all(r["seeds"] == 2 and r["budget"] == 8 and r["forced_rate"] is not None for r in summary)


def test_open_ended_questions_graded_by_a_schema_constrained_judge(
    run_dir: RunDir, endpoint: OpenAIEngineConfig, tmp_path: Path
) -> None:
    questions = tmp_path / "qa.jsonl"
    questions.write_text(
        json.dumps({"id": "sky", "question": "What colour is a clear daytime sky?", "reference_answer": "Blue"}) + "\n",
        encoding="utf-8",
    )
    config = EvalConfig(
        engine=endpoint, judge=endpoint, benchmarks=["open_ended"], sources={"open_ended": str(questions)},
        modes=["no-think"], max_tokens=16, judge_max_tokens=16,
    )  # fmt: skip
    run_eval(run_dir, config)
    [row] = pq.read_table(run_dir.eval_dir / "smollm2" / "samples.parquet").to_pylist()
    assert row["extracted"] and row["judge_output"] is not None
    reply = json.loads(row["judge_output"])
    assert isinstance(reply["correct"], bool) and row["correct"] is reply["correct"]


def test_contamination_warning_names_the_items_found_in_the_runs_questions(
    run_dir: RunDir, endpoint: OpenAIEngineConfig
) -> None:
    leaked = spread_subset(benchmarks.load("gsm8k"), 2)[0]
    pool = pa.Table.from_pylist(
        [{"id": "q-leak", "question": f"Homework: {leaked.question}", "source": "test", "source_row": 1},
         {"id": "q-fine", "question": "What is the capital of France?", "source": "test", "source_row": 2}],
        schema=QUESTIONS,
    )  # fmt: skip
    pq.write_table(pool, run_dir.questions)
    reporter = Reporter(mode="off")
    outcome = run_eval(run_dir, EvalConfig(engine=endpoint, benchmarks=["gsm8k"], limit=2, max_tokens=8), "m", reporter)
    log = (run_dir.root / "logs" / "nt.log").read_text("utf-8")
    assert f"1 of 2 evaluated items share 13-word n-grams with questions in {run_dir.questions}" in log
    assert f"gsm8k:{leaked.id}" in log
    rows = pq.read_table(run_dir.eval_dir / "m" / "samples.parquet").to_pylist()
    assert {r["item_id"]: r["contaminated"] for r in rows} == {leaked.id: True, **{
        r["item_id"]: False for r in rows if r["item_id"] != leaked.id}}  # fmt: skip
    assert outcome.result.counts["contaminated_items"] == 1
    assert outcome.result.value.to_pylist()[0]["contaminated_items"] == 1


def test_students_on_transformers_a_folder_and_a_lora_adapter_then_compare(
    tiny_llama_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = tmp_path / "run"
    adapter = run / "models" / "lora-student"
    peft_model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_llama_dir),
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    peft_model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(tiny_llama_dir).save_pretrained(adapter)
    common = ["--run", str(run), "--bench", "gsm8k", "--limit", "2", "--max-tokens", "6", "--mode", "think,no-think",
              "-q"]  # fmt: skip
    assert nt("eval", "--model", str(tiny_llama_dir), "--name", "base", *common) == 0
    assert nt("eval", "--model", "lora-student", *common) == 0  # a name in RUN/models
    engines = {
        name: pq.read_table(run / "eval" / name / "samples.parquet").column("engine")[0].as_py()
        for name in ("base", "lora-student")
    }
    assert engines["base"].startswith("transformers:") and engines["lora-student"].startswith("transformers:")
    capsys.readouterr()
    assert nt("eval", "compare", str(run), "--format", "csv", "--output", str(tmp_path / "cmp.csv")) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "model,mode,budget,gsm8k acc %,gsm8k tokens"
    assert {tuple(line.split(",")[:2]) for line in lines[1:]} == {
        (m, mode) for m in ("base", "lora-student") for mode in ("think", "no-think")}  # fmt: skip
    assert (tmp_path / "cmp.csv").read_text("utf-8").strip().splitlines() == lines


def test_cli_errors_name_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert nt("eval", "--bench", "gsm8k") == 2
    assert "give --run DIR" in capsys.readouterr().err
    assert nt("eval", "--run", str(tmp_path / "r"), "--bench", "mmlu_pro") == 2
    assert "mmlu_pro is not installed" in capsys.readouterr().err
    assert nt("eval", "--run", str(tmp_path / "r"), "--bench", "gsm8k-typo") == 2
    assert "unknown benchmark 'gsm8k-typo'" in capsys.readouterr().err
    assert nt("eval", "--run", str(tmp_path / "r"), "--model", str(tmp_path / "nothing")) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert nt("eval", "--run", str(tmp_path / "r"), "--think-budget", "lots") == 2
    assert "--think-budget: give whole numbers" in capsys.readouterr().err
    assert nt("eval", "compare", str(tmp_path / "none")) == 3
    assert "run `nt eval` for it first" in capsys.readouterr().err


def test_out_dir_outside_a_run_with_a_served_model(tmp_path: Path, llamacpp_base_url: str) -> None:
    out = tmp_path / "evals" / "served"
    model = "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert nt("eval", "--out", str(out), "--base-url", llamacpp_base_url, "--model", model, "--api-key-env", "",
              "--bench", "aime2025", "--limit", "1", "--max-tokens", "4", "--mode", "no-think", "-q") == 0  # fmt: skip
    rows = pq.read_table(out / "samples.parquet").to_pylist()
    assert [(r["benchmark"], r["model"]) for r in rows] == [("aime2025", "SmolLM2-135M-Instruct.Q4_1")]
    assert rows[0]["engine"].startswith("openai:") and (out / "summary.parquet").exists()
    assert "eval:SmolLM2-135M-Instruct.Q4_1" in manifest(out)["stages"]


def test_a_failed_request_is_recorded_left_out_of_accuracy_and_retried_by_the_next_run(
    run_dir: RunDir, llamacpp_engine: object
) -> None:
    from faultproxy import FaultProxy

    with FaultProxy(llamacpp_engine.server_url, plan=["403"]) as proxy:  # type: ignore[attr-defined]
        endpoint = OpenAIEngineConfig(
            base_url=proxy.base_url, model="m", api_key_env=None, concurrency=1, max_retries=0, timeout_s=120
        )
        config = EvalConfig(engine=endpoint, benchmarks=["gsm8k"], limit=3, max_tokens=4, modes=["no-think"])
        first = run_eval(run_dir, config)
        assert first.status == "incomplete" and "1 of 3 samples not answered" in first.result.incomplete
        rows = pq.read_table(run_dir.eval_dir / "smollm2" / "samples.parquet").to_pylist()
        failed = [r for r in rows if r["error"]]
        assert len(failed) == 1 and failed[0]["correct"] is None and failed[0]["output"] is None
        [summary] = first.result.value.to_pylist()
        assert summary["errors"] == 1 and summary["samples"] == 2
        second = run_eval(run_dir, config)  # the plan is spent: every request passes now
    assert second.status == "done" and second.result.incomplete is None
    assert (second.result.usage.requests_sent, second.result.usage.cache_hits) == (1, 2), "only the failed one resent"
    rows = pq.read_table(run_dir.eval_dir / "smollm2" / "samples.parquet").to_pylist()
    assert not any(r["error"] for r in rows) and all(r["correct"] is not None for r in rows)
