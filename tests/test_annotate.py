"""The annotate stage without LLM calls: lexical strategies, length, correctness, merging, embeddings, domains."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from naturalthoughts.annotate import AnnotateConfig, annotate, compare
from naturalthoughts.annotate.base import BadReply
from naturalthoughts.annotate.compare import agreement
from naturalthoughts.annotate.domain_llm import parse_domain
from naturalthoughts.annotate.strategies import STRATEGY_NAMES
from naturalthoughts.annotate.strategies_llm import parse_strategies
from naturalthoughts.annotate.verbosity_proxy import repetition_score
from naturalthoughts.errors import ConfigError, MissingInputError
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir
from naturalthoughts.text.tokens import count_tokens, load_tokenizer
from test_annotate_support import builtin_sample, make_run, qid

CRAFTED = (
    "First, I need to find the area. Wait, that's not right: the radius is 3, not 6. "
    "Let me verify: pi * 3^2 = 28.27. Let me double-check the units. "
    "Alternatively, we could integrate. Case 1: r < 3. Case 2: r >= 3. "
    "So far we have the area; the answer is roughly 28."
)


def approx_config(**kwargs: object) -> AnnotateConfig:
    config = AnnotateConfig(**kwargs)  # type: ignore[arg-type]
    config.length.tokenizer = "approx"
    return config


def read(run: RunDir) -> list[dict[str, object]]:
    return pq.read_table(run.annotations).to_pylist()


def test_lexical_strategies_counts_and_density(run_dir: RunDir) -> None:
    make_run(
        run_dir,
        [
            {"question": "Area of a circle of radius 3?", "reasoning": CRAFTED, "answer": "28.27"},
            {"question": "Nothing to see?", "reasoning": "The value is 4.", "answer": "4"},
            {"question": "Failed trace?", "reasoning": None, "answer": None},
        ],
    )
    result = annotate(run_dir, approx_config(), only=["length", "strategies"], quiet=True, force=True)
    rows = read(run_dir)
    crafted, plain, failed = rows
    counts = {c["strategy"]: c["count"] for c in crafted["strategy_counts"]}
    # by hand: "first, i need" + ...; "wait," + "that's not right"; "let me verify" + "let me double-check";
    # "alternatively"; "case 1" + "case 2"; "so far"; "roughly"
    assert counts == {
        "self_verification": 2,
        "backtracking": 2,
        "exploring_alternatives": 1,
        "subgoal_decomposition": 1,
        "case_analysis": 2,
        "summarising": 1,
        "estimation_sanity_check": 1,
    }
    assert crafted["strategies"] == [s for s in STRATEGY_NAMES if s in counts]  # closed list, list order
    assert crafted["n_strategies"] == 7
    assert crafted["reasoning_tokens"] == -(-len(CRAFTED) // 4)
    # density counts occurrences (10 cue matches), not the 7 distinct strategies
    assert crafted["strategy_density"] == pytest.approx(1000 * 10 / crafted["reasoning_tokens"])
    assert crafted["strategies_method"] == "lexical" and crafted["tokenizer"] == "approx:chars/4"
    assert plain["strategies"] == [] and plain["n_strategies"] == 0 and plain["strategy_density"] == 0.0
    assert failed["strategies"] is None and failed["strategy_density"] is None
    assert failed["strategies_error"] == "the trace has no reasoning text"
    assert result.counts["strategies"]["annotated"] == 2
    assert failed["domain"] is None and failed["verbosity"] is None  # annotators not run stay null


def test_density_is_null_for_empty_reasoning(run_dir: RunDir) -> None:
    make_run(run_dir, [{"question": "q?", "reasoning": "", "answer": "a"}])
    annotate(run_dir, approx_config(), only=["length", "strategies"], quiet=True, force=True)
    (row,) = read(run_dir)
    assert row["reasoning_tokens"] == 0 and row["n_strategies"] == 0 and row["strategy_density"] is None


def test_missing_traces_names_generate(run_dir: RunDir) -> None:
    with pytest.raises(MissingInputError, match="run `generate`"):
        annotate(run_dir, approx_config(), only=["length"], force=True)


def test_unknown_annotator_is_a_config_error(run_dir: RunDir) -> None:
    make_run(run_dir, [{"question": "q?", "reasoning": "r", "answer": "a"}])
    with pytest.raises(ConfigError, match="choose from length, domain"):
        annotate(run_dir, approx_config(), only=["length", "sentiment"], force=True)


def test_only_merges_with_previous_annotations(run_dir: RunDir) -> None:
    make_run(run_dir, [{"question": f"q{i}?", "reasoning": CRAFTED * (i + 1), "answer": "x"} for i in range(3)])
    annotate(run_dir, approx_config(), only=["length"], quiet=True, force=True)
    first = read(run_dir)
    assert all(r["strategies"] is None for r in first)
    annotate(run_dir, approx_config(), only=["strategies", "verbosity"], quiet=True, force=True)
    second = read(run_dir)
    for i, (before, after) in enumerate(zip(first, second, strict=True)):
        assert after["reasoning_tokens"] == before["reasoning_tokens"]  # kept from the first run
        assert after["tokenizer"] == "approx:chars/4"
        assert after["n_strategies"] == 7
        # density uses the kept token counts: 10 occurrences per copy of CRAFTED
        assert after["strategy_density"] == pytest.approx(1000 * 10 * (i + 1) / before["reasoning_tokens"])
        assert after["verbosity_method"] == "proxy:trigram-repetition"
    assert second[2]["verbosity"] > second[0]["verbosity"]  # three copies repeat more than one
    records = Manifest(run_dir.manifest).records("annotate")
    assert [r["config"]["only"] for r in records] == [["length"], ["strategies", "verbosity"]]
    assert records[-1]["counts"]["traces"] == 3


def test_smollm2_tokenizer_counts_match_the_tokenizer(run_dir: RunDir) -> None:
    import pyarrow as pa

    texts = ["Let me verify: 2 + 2 = 4.", None, ""]
    counts = count_tokens(pa.array(texts), "smollm2").to_pylist()
    tokenizer = load_tokenizer("smollm2")
    assert counts == [len(tokenizer(texts[0], add_special_tokens=False)["input_ids"]), None, 0]


def test_correctness_methods(run_dir: RunDir) -> None:
    make_run(
        run_dir,
        [
            {"question": "Half?", "reference_answer": "\\frac{1}{2}", "reasoning": "r", "answer": "The answer is 0.5"},
            {"question": "Third?", "reference_answer": "1/3", "reasoning": "r", "answer": "It is \\boxed{0.5}"},
            {
                "question": "Capital?",
                "reference_answer": "Paris",
                "reasoning": "r",
                "answer": "...\nAnswer: **Paris**.",
            },
            {"question": "Capital 2?", "reference_answer": "Paris", "reasoning": "r", "answer": "Lyon"},
            {"question": "Open?", "reference_answer": None, "reasoning": "r", "answer": "anything"},
            {"question": "Failed?", "reference_answer": "Paris", "reasoning": None, "answer": None},
            {"question": "Stress?", "reference_answer": "19 MPa", "reasoning": "r", "answer": "It is about 19 MPa."},
        ],
    )
    result = annotate(run_dir, approx_config(), only=["correctness"], quiet=True, force=True)
    rows = read(run_dir)
    assert [r["correct"] for r in rows] == [True, False, True, False, None, None, True]
    methods = ["number", "number", "text", "text", None, None, "number"]  # the one checker's answer kinds
    assert [r["correct_method"] for r in rows] == methods
    assert [r["correct_error"] for r in rows][:5] == [None] * 5
    assert rows[5]["correct_error"] == "the trace has no answer text"
    assert result.usage == {}  # no model was needed


def test_disagree_without_second_answer_is_null_with_reason(run_dir: RunDir) -> None:
    make_run(run_dir, [{"question": "q?", "reasoning": "r", "answer": "a", "other_answer": None}])
    config = approx_config()
    config.disagree.second_engine = None  # pool only: no engine writes a second answer
    result = annotate(run_dir, config, only=["disagree"], quiet=True, force=True)
    (row,) = read(run_dir)
    assert row["disagree"] is None and row["disagree_judge"] is None
    assert "no second answer" in row["disagree_error"]
    assert result.usage.get("requests_sent", 0) == 0


def test_embeddings_aligned_float32_normalised(run_dir: RunDir) -> None:
    items = [{"question": q, "reasoning": "r", "answer": "a"} for q in ("What is 2+2?", "Who wrote Hamlet?")]
    make_run(run_dir, items)
    annotate(run_dir, approx_config(), only=["embeddings"], quiet=True, force=True)
    table = pq.read_table(run_dir.embeddings)
    assert table.column_names == ["trace_id", "question_id", "embedding"]
    assert table.schema.field("embedding").type.value_type == pa_float32()
    assert table.column("trace_id").to_pylist() == ["t0", "t1"]
    assert table.column("question_id").to_pylist() == [qid(i["question"]) for i in items]
    vectors = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert table.schema.metadata[b"model"] == b"all-MiniLM-L6-v2"
    assert [r["trace_id"] for r in read(run_dir)] == ["t0", "t1"]


def pa_float32() -> object:
    import pyarrow as pa

    return pa.float32()


def test_zero_shot_domain_accuracy_on_builtin_sample(run_dir: RunDir) -> None:
    sample = builtin_sample()
    make_run(run_dir, sample)
    result = annotate(run_dir, approx_config(), only=["domain"], quiet=True, force=True)
    print(f"zero-shot domain accuracy on builtin:sample: {result.domain_accuracy:.1%} of {result.domain_labelled}")
    assert result.domain_labelled == len(sample)
    assert result.domain_accuracy is not None and result.domain_accuracy > 1 / 13
    rows = read(run_dir)
    assert all(r["domain_method"] == "zero-shot:all-MiniLM-L6-v2" for r in rows)
    hits = sum(r["domain"] == s["domain"] for r, s in zip(rows, sample, strict=True))
    assert hits / len(sample) == pytest.approx(result.domain_accuracy)
    record = Manifest(run_dir.manifest).latest("annotate")
    assert record["domain_accuracy"]["labelled"] == len(sample)


def test_agreement_by_hand() -> None:
    # 4 traces; b is the reference. self_verification: a = [1,1,0,0], b = [1,0,1,0]
    # precision 1/2, recall 1/2, observed agreement 2/4, chance 1/2 -> kappa 0.
    a = [["self_verification", "analogy"], ["self_verification"], [], None]
    b = [["self_verification", "analogy"], [], ["self_verification"], ["analogy"]]
    report = agreement([*a, []], [*b, []], "x", "y")
    assert report.rows == 4 and report.skipped == 1
    by_name = {s.strategy: s for s in report.per_strategy}
    sv = by_name["self_verification"]
    assert (sv.support_a, sv.support_b, sv.precision, sv.recall) == (2, 1 + 1, 0.5, 0.5)
    assert sv.kappa == pytest.approx(0.0)
    an = by_name["analogy"]  # a = [1,0,0,0], b = [1,0,0,0]: perfect
    assert (an.precision, an.recall, an.kappa) == (1.0, 1.0, 1.0)
    assert by_name["elimination"].kappa is None and by_name["elimination"].precision is None


def test_compare_lexical_with_itself(run_dir: RunDir) -> None:
    make_run(
        run_dir, [{"question": f"q{i}", "reasoning": CRAFTED if i % 2 else "plain", "answer": "a"} for i in range(4)]
    )
    report = compare(run_dir, approx_config(), a="lexical", b="lexical", force=True)
    by_name = {s.strategy: s for s in report.per_strategy}
    assert report.rows == 4
    assert by_name["backtracking"].kappa == 1.0 and by_name["backtracking"].support_a == 2
    assert Manifest(run_dir.manifest).latest("annotate-compare")["counts"]["rows"] == 4


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "empty reply"),
        ("Sure! The domain is science.", "not JSON"),
        ('{"domain": "Astrology", "field": "Stars"}', "unknown domain"),
        ('{"domain": "Science", "field": "Cooking"}', "unknown field"),
        ('{"domain": "Science"}', "wrong JSON shape"),
    ],
)
def test_bad_domain_replies_are_rejected(reply: str, reason: str) -> None:
    with pytest.raises(BadReply, match=reason):
        parse_domain(reply)


def test_good_replies_are_parsed() -> None:
    assert parse_domain('```json\n{"domain": "science", "field": "Physics"}\n```') == ("Science", "Physics")
    reply = json.dumps({"strategies": [{"strategy": "Backtracking", "count": 2}, {"strategy": "analogy", "count": 1}]})
    assert parse_strategies(reply) == {"backtracking": 2, "analogy": 1}
    with pytest.raises(BadReply, match="unknown strategy"):
        parse_strategies('{"strategies": [{"strategy": "vibes", "count": 1}]}')


def test_repetition_score_bounds() -> None:
    assert repetition_score("short text") is None
    unique = " ".join(f"w{i}" for i in range(50))
    assert repetition_score(unique) == 0.0
    assert repetition_score("the same words again " * 30) > 9.0
