"""LLM annotators and judges against the real embedded llama.cpp server (SmolLM2-135M, tiny budgets).

The 135M model often answers with invalid JSON or labels outside the closed sets: that is the
bad-output path, and these tests check it never crashes the run, is retried, and is counted.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from naturalthoughts.annotate import AnnotateConfig, AnnotateResult, annotate, compare
from naturalthoughts.annotate.strategies import STRATEGY_NAMES
from naturalthoughts.annotate.taxonomy import DOMAINS, FIELDS
from naturalthoughts.engines import OpenAIEngineConfig
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir
from test_annotate_support import make_run

ITEMS = [
    {
        "question": "What is the derivative of x^3?",
        "reasoning": "We use the power rule. Wait, let me verify: d/dx x^3 = 3x^2. Yes.",
        "answer": "3x^2",
        "reference_answer": "The derivative is 3x^2, obtained by the power rule, which multiplies by the exponent and "
        "lowers it by one; this holds for every real x.",
        "other_answer": "The derivative of x^3 is 3x^2.",
    },
    {
        "question": "Which organ pumps blood through the body?",
        "reasoning": "Blood is pumped by the heart. Alternatively the lungs? No, the heart.",
        "answer": "The heart.",
        "reference_answer": None,
        "other_answer": "The lungs pump blood.",
    },
]


def llm_config(server: OpenAIEngineConfig, **sections: object) -> AnnotateConfig:
    config = AnnotateConfig(
        annotator_engine=server, judge_engine=server, max_attempts=2, max_tokens=48, max_input_chars=600
    )
    config.length.tokenizer = "approx"
    config.domain.method = "llm"
    config.strategies.method = "llm"
    config.verbosity.method = "llm"
    return config


def check_bad_output_accounting(rows: list[dict[str, object]], result: object, prefix: str, name: str) -> None:
    """Each row is a valid label or null with a reason; nulls are counted as failed; bad replies are counted."""
    counts = result.counts[name]  # type: ignore[attr-defined]
    failed_rows = [r for r in rows if r[f"{prefix}_error"] is not None]
    assert counts.get("failed", 0) == len(failed_rows)
    for row in failed_rows:
        assert str(row[f"{prefix}_error"]).startswith("gave up after 2 attempts")
    # a failed row used both attempts; a row that succeeded on the second attempt had one bad reply
    problems = sum(counts.get(k, 0) for k in ("bad_replies", "cut_replies", "engine_errors"))
    assert problems >= 2 * len(failed_rows)


LLM_ANNOTATORS = ["length", "domain", "strategies", "verbosity", "correctness", "disagree"]


@pytest.fixture(scope="module")
def llm_run(
    tmp_path_factory: pytest.TempPathFactory, llamacpp_openai_config: OpenAIEngineConfig
) -> tuple[RunDir, AnnotateConfig, AnnotateResult]:
    """One run annotated by every LLM annotator once; the tests below read it (and its cache)."""
    run = RunDir(tmp_path_factory.mktemp("annotate-llm") / "run").ensure()
    make_run(run, ITEMS)
    config = llm_config(llamacpp_openai_config)
    return run, config, annotate(run, config, only=LLM_ANNOTATORS, quiet=True, force=True)


@pytest.mark.slow
def test_llm_annotators_validate_retry_and_count(llm_run: tuple[RunDir, AnnotateConfig, AnnotateResult]) -> None:
    run_dir, _, result = llm_run
    rows = pq.read_table(run_dir.annotations).to_pylist()
    label = rows[0]["domain_method"]
    assert label.startswith("llm:") and len(label) > 4
    for row in rows:
        assert (row["domain"] is None) == (row["domain_error"] is not None)
        if row["domain"] is not None:
            assert row["domain"] in DOMAINS and row["field"] in FIELDS[row["domain"]]
        assert (row["strategies"] is None) == (row["strategies_error"] is not None)
        if row["strategies"] is not None:
            assert set(row["strategies"]) <= set(STRATEGY_NAMES)
            assert row["n_strategies"] == len(row["strategies"])
        assert (row["verbosity"] is None) == (row["verbosity_error"] is not None)
        if row["verbosity"] is not None:
            assert 0 <= row["verbosity"] <= 10
        # models disagree: judged on the pool's other_answer, raw output stored
        assert row["disagree_judge"] is not None and row["disagree_judge"].startswith("llm:")
        assert row["disagree_method"] == "pool:other_answer (test-model)"
        assert row["disagree_raw"] is not None or row["disagree_error"] is not None
        assert (row["disagree"] is None) == (row["disagree_error"] is not None)
    for prefix, name in (("domain", "domain"), ("strategies", "strategies"), ("verbosity", "verbosity")):
        check_bad_output_accounting(rows, result, prefix, name)
    # under their JSON schemas (llama.cpp grammars) the domain, verbosity and verdict replies always validate
    for name in ("domain", "verbosity", "correctness", "disagree"):
        assert result.counts[name].get("failed", 0) == 0, (name, result.counts[name])
    # the long reference goes to the judge; no reference stays null without an error
    assert rows[0]["correct_method"] is not None and rows[0]["correct_method"].startswith("llm:")
    assert rows[1]["correct"] is None and rows[1]["correct_method"] is None and rows[1]["correct_error"] is None

    record = Manifest(run_dir.manifest).latest("annotate")
    assert record["counts"]["bad_replies"] == result.bad_replies
    assert record["counts"]["failed"] == result.failed
    assert record["usage"]["requests_sent"] > 0


@pytest.mark.slow
def test_llm_rerun_answers_from_cache(llm_run: tuple[RunDir, AnnotateConfig, AnnotateResult]) -> None:
    run_dir, config, _ = llm_run
    rows = pq.read_table(run_dir.annotations).to_pylist()
    again = annotate(run_dir, config, only=LLM_ANNOTATORS, quiet=True, force=True)
    assert again.usage["requests_sent"] == 0 and again.usage["cache_hits"] > 0
    assert pq.read_table(run_dir.annotations).to_pylist() == rows


@pytest.mark.slow
def test_disagree_with_second_engine(run_dir: RunDir, llamacpp_openai_config: OpenAIEngineConfig) -> None:
    """The embedded default's signal: the teacher sampled again, judged under the verdict schema (never unparsed)."""
    from naturalthoughts.engines import engine_identity

    teacher = engine_identity(llamacpp_openai_config)
    make_run(run_dir, [{**item, "other_answer": None, "teacher": teacher} for item in ITEMS])
    config = llm_config(llamacpp_openai_config)
    config.disagree.second_engine = llamacpp_openai_config
    config.disagree.second_max_tokens = 32
    result = annotate(run_dir, config, only=["disagree"], quiet=True, force=True)
    rows = pq.read_table(run_dir.annotations).to_pylist()
    assert result.counts["disagree"].get("second_answers_generated", 0) == 2
    for row in rows:
        assert row["disagree_method"] == f"self:second-sample ({teacher}, T=1, seed 1)"
        assert row["disagree_judge"] is not None
        # constrained to {"same_final_answer": bool}, the tiny judge's reply always parses
        assert row["disagree"] is not None and row["disagree_error"] is None, row["disagree_raw"]


@pytest.mark.slow
def test_compare_lexical_with_llm(llm_run: tuple[RunDir, AnnotateConfig, AnnotateResult]) -> None:
    run_dir, config, _ = llm_run
    report = compare(run_dir, config, a="lexical", b="llm", force=True)
    assert report.rows + report.skipped == len(ITEMS)
    annotated = pq.read_table(run_dir.annotations).column("strategies_error").to_pylist()
    assert report.skipped == sum(e is not None for e in annotated)  # the same cached llm replies
    assert [s.strategy for s in report.per_strategy] == list(STRATEGY_NAMES)
    if report.rows == len(ITEMS):
        lexical = {s.strategy: s.support_a for s in report.per_strategy}
        assert lexical["self_verification"] == 1 and lexical["exploring_alternatives"] == 1
