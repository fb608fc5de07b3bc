"""Reply schemas and verdicts of the LLM annotators and judges, against a loopback server that answers with replies
written for the test (the real HTTP engine in between): what is sent (prompt, JSON schema, sampling), how each
reply is read, where the second answer of models-disagree comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from naturalthoughts.annotate import AnnotateConfig, annotate
from naturalthoughts.annotate.base import BadReply
from naturalthoughts.annotate.disagree import AGREEMENT_SCHEMA, parse_agreement
from naturalthoughts.annotate.domain_llm import DOMAIN_SCHEMA
from naturalthoughts.annotate.strategies import STRATEGY_NAMES
from naturalthoughts.annotate.strategies_llm import STRATEGIES_SCHEMA, parse_strategies
from naturalthoughts.annotate.taxonomy import DOMAINS, FIELDS
from naturalthoughts.annotate.verbosity_llm import VERBOSITY_SCHEMA, parse_verbosity
from naturalthoughts.engines import engine_identity
from naturalthoughts.rundir import RunDir
from naturalthoughts.text.judge import VERDICT as JUDGE_SCHEMA
from test_annotate_support import ReplayServer, make_run

# ---- the schemas -----------------------------------------------------------------------------------------------


def test_domain_schema_admits_only_taxonomy_pairs() -> None:
    schema = DOMAIN_SCHEMA.json_schema
    branches = [schema["$defs"][ref["$ref"].split("/")[-1]] for ref in schema["oneOf"]]
    assert [b["properties"]["domain"]["const"] for b in branches] == list(DOMAINS)
    for branch in branches:
        domain = branch["properties"]["domain"]["const"]
        assert branch["properties"]["field"]["enum"] == list(FIELDS[domain])
        assert branch["additionalProperties"] is False
    assert DOMAIN_SCHEMA.parse('{"domain": "science", "field": "physics"}') == ("Science", "Physics")
    with pytest.raises(BadReply, match="unknown field 'Physics' for domain Law"):
        DOMAIN_SCHEMA.parse('{"domain": "Law", "field": "Physics"}')


def test_strategy_schema_is_a_bounded_unique_list_of_names() -> None:
    items = STRATEGIES_SCHEMA.json_schema["properties"]["strategies"]
    assert items["maxItems"] == len(STRATEGY_NAMES) and items["uniqueItems"] is True
    item = STRATEGIES_SCHEMA.json_schema["$defs"]["StrategyCount"]
    assert item["properties"]["strategy"]["enum"] == list(STRATEGY_NAMES)
    assert (item["properties"]["count"]["minimum"], item["properties"]["count"]["maximum"]) == (0, 999)
    looping = '{"strategies": [' + ", ".join(['{"strategy": "backtracking", "count": 3}'] * 4) + "]}"
    with pytest.raises(BadReply, match="'backtracking' is listed more than once"):
        parse_strategies(looping)  # the tiny model's loop is a bad reply, not 12 backtracks
    too_many = '{"strategies": [' + ", ".join(['{"strategy": "analogy", "count": 1}'] * 14) + "]}"
    with pytest.raises(BadReply, match="at most 13 items"):
        parse_strategies(too_many)
    with pytest.raises(BadReply, match=r"strategies\.0\.count"):
        parse_strategies('{"strategies": [{"strategy": "analogy", "count": -1}]}')


def test_verbosity_and_verdicts_are_typed() -> None:
    assert VERBOSITY_SCHEMA.json_schema["properties"]["verbosity"] | {} == {
        "maximum": 10,
        "minimum": 0,
        "title": "Verbosity",
        "type": "integer",
    }
    assert parse_verbosity('{"verbosity": 7}') == 7.0
    for bad in ('{"verbosity": 11}', '{"verbosity": 6.5}', '{"verbosity": "high"}'):
        with pytest.raises(BadReply):
            parse_verbosity(bad)
    assert JUDGE_SCHEMA.json_schema["properties"]["correct"]["type"] == "boolean"
    assert AGREEMENT_SCHEMA.json_schema["properties"]["same_final_answer"]["type"] == "boolean"


@pytest.mark.parametrize("schema", [DOMAIN_SCHEMA, STRATEGIES_SCHEMA, VERBOSITY_SCHEMA, JUDGE_SCHEMA, AGREEMENT_SCHEMA])
def test_reply_budget_covers_the_longest_valid_reply(schema: Any) -> None:
    import json

    import pyarrow as pa

    from naturalthoughts.text.tokens import count_tokens

    longest = json.dumps(schema.longest, indent=4)
    real = count_tokens(pa.array([longest]), "smollm2")[0].as_py()
    assert schema.max_tokens(None) > real  # a constrained reply is never cut by the budget
    assert schema.max_tokens(8) == schema.max_tokens(None)  # a smaller configured budget is raised
    assert schema.max_tokens(5000) == 5000


@pytest.mark.parametrize(
    ("reply", "agree"),
    [
        ('{"same_final_answer": true}', True),
        ('{"same_final_answer": false}', False),
        ('Sure. ```json\n{"same_final_answer": true}\n``` They match.', True),
    ],
)
def test_agreement_verdicts(reply: str, agree: bool) -> None:
    assert parse_agreement(reply) is agree


@pytest.mark.parametrize(
    "reply",
    ["There is no difference; yes, they agree.", "No. Yes.", '{"same_final_answer": "yes"}', '{"agree": true}', ""],
)
def test_prose_and_wrong_shapes_are_bad_replies_not_verdicts(reply: str) -> None:
    with pytest.raises(BadReply):
        parse_agreement(reply)


# ---- models disagree through a server ----------------------------------------------------------------------------

QUESTION = "What is 6 times 7?"
TEACHER = {
    "question": QUESTION,
    "reasoning": "SECRET-REASONING: 6 * 7, let me verify, 42.",
    "answer": "The answer is 42.",
}


def judge_config(server: ReplayServer, **disagree: Any) -> AnnotateConfig:
    config = AnnotateConfig(judge_engine=server.engine(), max_attempts=2)
    config.length.tokenizer = "approx"
    for key, value in disagree.items():
        setattr(config.disagree, key, value)
    return config


def read(run: RunDir) -> list[dict[str, Any]]:
    return pq.read_table(run.annotations).to_pylist()


def test_judge_compares_final_answers_from_the_pool(run_dir: RunDir) -> None:
    other = "<think>OTHER-SECRET reasoning about 6 * 7</think>The answer is 41."
    make_run(run_dir, [{**TEACHER, "other_answer": other}])
    with ReplayServer(lambda body: '{"same_final_answer": false}') as server:
        annotate(run_dir, judge_config(server), only=["disagree"], quiet=True, force=True)
    (prompt,) = server.prompts()
    assert "The answer is 42." in prompt and "The answer is 41." in prompt
    assert "SECRET" not in prompt  # neither the teacher's reasoning nor the other model's
    (body,) = server.bodies
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "agreement"
    (row,) = read(run_dir)
    assert row["disagree"] is True and row["disagree_error"] is None
    assert row["disagree_method"] == "pool:other_answer (test-model)"
    assert row["disagree_judge"] == f"llm:{engine_identity(server.engine())}"


def test_self_second_sample_when_the_pool_has_none(run_dir: RunDir) -> None:
    with ReplayServer(lambda b: '{"same_final_answer": true}' if "response_format" in b else "41.") as server:
        identity = engine_identity(server.engine())
        make_run(run_dir, [{**TEACHER, "teacher": identity}, {**TEACHER, "question": "Other?", "teacher": "x:y"}])
        config = judge_config(server, second_engine=server.engine(), second_temperature=0.9, second_seed=7)
        result = annotate(run_dir, config, only=["disagree"], quiet=True, force=True)
    second = [b for b in server.bodies if "response_format" not in b]  # a free answer, not JSON
    assert len(second) == 2 and all((b["temperature"], b["seed"]) == (0.9, 7) for b in second)
    assert all(
        b["messages"][-1]["content"].endswith("Give only your final answer, in one short sentence.") for b in second
    )
    assert all(b["messages"][-1]["content"].startswith(("What is 6 times 7?", "Other?")) for b in second)
    rows = read(run_dir)
    assert rows[0]["disagree_method"] == f"self:second-sample ({identity}, T=0.9, seed 7)"
    assert rows[1]["disagree_method"] == f"engine:second-answer ({identity}, T=0.9, seed 7)"  # not the teacher
    assert [r["disagree"] for r in rows] == [False, False]
    assert result.counts["disagree"]["second_answers_generated"] == 2


def test_prose_verdict_is_an_error_not_a_disagreement(run_dir: RunDir) -> None:
    make_run(run_dir, [{**TEACHER, "other_answer": "42"}])
    with ReplayServer(lambda body: "There is no difference; yes, they agree.") as server:
        result = annotate(run_dir, judge_config(server), only=["disagree"], quiet=True, force=True)
    (row,) = read(run_dir)
    assert row["disagree"] is None
    assert row["disagree_error"].startswith("gave up after 2 attempts: not JSON")
    assert row["disagree_raw"] == "There is no difference; yes, they agree."
    counts = result.counts["disagree"]
    assert (counts["asked"], counts["bad_replies"], counts["failed"]) == (1, 2, 1)
    assert len(server.bodies) == 2 and server.bodies[1]["temperature"] == 0.7  # the retry samples


def test_cut_reply_is_not_parsed(run_dir: RunDir) -> None:
    make_run(run_dir, [{**TEACHER, "other_answer": "42"}])
    with ReplayServer(lambda body: '{"same_final_answer": true}', finish_reason="length") as server:
        result = annotate(run_dir, judge_config(server), only=["disagree"], quiet=True, force=True)
    (row,) = read(run_dir)
    assert row["disagree"] is None and "cut at max_tokens" in row["disagree_error"]
    assert result.counts["disagree"]["cut_replies"] == 2


def test_rows_without_a_teacher_answer_ask_for_nothing(run_dir: RunDir) -> None:
    make_run(run_dir, [{**TEACHER, "answer": None}])
    with ReplayServer(lambda body: "unused") as server:
        config = judge_config(server, second_engine=server.engine())
        annotate(run_dir, config, only=["disagree"], quiet=True, force=True)
    assert server.bodies == []  # neither a second answer nor a verdict
    (row,) = read(run_dir)
    assert row["disagree_error"] == "the trace has no answer text" and row["disagree_method"] is None


def test_unclosed_second_answer_has_no_final_answer(run_dir: RunDir) -> None:
    make_run(run_dir, [TEACHER])
    with ReplayServer(lambda body: "<think>still thinking about it") as server:
        config = judge_config(server, second_engine=server.engine())
        result = annotate(run_dir, config, only=["disagree"], quiet=True, force=True)
    (row,) = read(run_dir)
    assert row["disagree"] is None and row["disagree_error"] == (
        "the second answer opened a thinking block and never closed it"
    )
    assert result.counts["disagree"]["second_answer_errors"] == 1 and len(server.bodies) == 1


def test_the_answer_checker_decides_where_the_reference_is_checkable(run_dir: RunDir) -> None:
    """Rows with a reference the checker grades ask no judge: right/right agree, right/wrong differ, two wrong
    answers are compared as read; a long text reference, or a second answer the checker reads nothing in, goes to
    the judge. ``checker: false`` asks the judge for every row (the paper's way)."""
    essay = "Because the sum of the angles of any triangle in the Euclidean plane is always half a turn"
    items = [
        ("What is 6 times 7?", "42", "The answer is 42.", "42"),  # both right: same
        ("What is 6 times 8?", "48", "The answer is 48.", "It is 47."),  # right and wrong: differ
        ("What is 6 times 9?", "54", "The answer is 56.", "56"),  # both wrong, the same number: same
        ("What is 7 times 7?", "49", "The answer is 48.", "It is 47."),  # both wrong, different: differ
        ("Is 7 prime?", "Yes", "No, it is not.", "No."),  # yes/no, both wrong: same
        ("Why do triangles hold 180 degrees?", essay, "Because of parallels.", "Parallel lines."),  # judge
        ("What is 8 times 8?", "64", "The answer is 64.", "I cannot tell."),  # nothing read in B: judge
    ]
    rows = [{"question": q, "reference_answer": ref, "answer": a, "other_answer": b} for q, ref, a, b in items]
    make_run(run_dir, rows)
    with ReplayServer(lambda body: '{"same_final_answer": true}') as server:
        result = annotate(run_dir, judge_config(server), only=["disagree"], quiet=True, force=True)
    asked = server.prompts()
    assert len(asked) == 2 and "Parallel lines." in asked[0] + asked[1] and "I cannot tell." in asked[0] + asked[1]
    got = read(run_dir)
    assert [r["disagree"] for r in got] == [False, True, False, True, False, False, False]
    assert [r["disagree_judge"] for r in got[:5]] == ["checker:number"] * 4 + ["checker:text"]
    assert got[5]["disagree_judge"] == got[6]["disagree_judge"] == f"llm:{engine_identity(server.engine())}"
    assert got[1]["disagree_raw"] == "48 | 47" and all(r["disagree_error"] is None for r in got)
    assert result.counts["disagree"]["checked"] == 5
    with ReplayServer(lambda body: '{"same_final_answer": false}') as server:
        annotate(run_dir, judge_config(server, checker=False), only=["disagree"], quiet=True, force=True)
    assert len(server.prompts()) == len(items)
    assert all(r["disagree"] is True and r["disagree_judge"].startswith("llm:") for r in read(run_dir))


def test_correctness_judge_and_llm_annotators_under_schema(run_dir: RunDir) -> None:
    replies = {
        "correctness": '{"correct": true}',
        "domain": '{"domain": "Science", "field": "Mathematics"}',
        "strategies": '{"strategies": [{"strategy": "self_verification", "count": 2}]}',
        "verbosity": '{"verbosity": 3}',
    }
    long_reference = "Six times seven is forty-two, because six sevens added together make forty-two in all."
    make_run(run_dir, [{**TEACHER, "reference_answer": long_reference}])
    with ReplayServer(lambda body: replies[body["response_format"]["json_schema"]["name"]]) as server:
        config = judge_config(server)
        config.annotator_engine = server.engine()
        config.domain.method, config.strategies.method, config.verbosity.method = "llm", "llm", "llm"
        only = ["length", "domain", "strategies", "verbosity", "correctness"]
        annotate(run_dir, config, only=only, quiet=True, force=True)
    names = sorted(b["response_format"]["json_schema"]["name"] for b in server.bodies)
    assert names == ["correctness", "domain", "strategies", "verbosity"]
    (row,) = read(run_dir)
    assert (row["domain"], row["field"]) == ("Science", "Mathematics")
    assert row["strategies"] == ["self_verification"] and row["n_strategies"] == 1
    assert row["strategy_density"] == pytest.approx(2000 / row["reasoning_tokens"])
    assert row["verbosity"] == 3.0 and row["correct"] is True
    assert row["correct_method"] == f"llm:{engine_identity(server.engine())}"


def test_docs_show_the_prompts_the_code_sends() -> None:
    from pathlib import Path

    from naturalthoughts.annotate import prompts

    doc = (Path(__file__).parents[1] / "docs" / "strategies.md").read_text(encoding="utf-8")
    for name in ("DOMAIN", "STRATEGIES", "VERBOSITY", "CORRECTNESS", "DISAGREE", "SECOND_ANSWER"):
        shown = getattr(prompts, name).replace("{{", "{").replace("}}", "}")
        assert shown in doc, f"docs/strategies.md does not show prompts.{name} as the code has it"


# ---- one-token verdicts ------------------------------------------------------------------------------------------


def echoing(token: str, schema_reply: str) -> Any:
    """Replies as llama.cpp does: a pre-filled assistant turn is echoed before its continuation."""

    def reply(body: dict[str, Any]) -> str:
        if "grammar" in body:
            return body["messages"][-1]["content"] + token
        return schema_reply

    return reply


def test_yes_no_verdicts_reduce_to_one_constrained_token() -> None:
    assert JUDGE_SCHEMA.verdict_field == "correct" and AGREEMENT_SCHEMA.verdict_field == "same_final_answer"
    assert VERBOSITY_SCHEMA.verdict_field is None and DOMAIN_SCHEMA.verdict_field is None
    assert JUDGE_SCHEMA.verdict_prefill() == '{"correct": '
    assert JUDGE_SCHEMA.parse(JUDGE_SCHEMA.verdict_reply(" false")) is False
    with pytest.raises(BadReply, match="not a one-token verdict"):
        JUDGE_SCHEMA.verdict_reply("maybe")
    from naturalthoughts.annotate.base import verdict_tokens
    from naturalthoughts.engines import LlamaCppEngineConfig, OpenAIEngineConfig

    embedded, remote = LlamaCppEngineConfig(), OpenAIEngineConfig(base_url="http://127.0.0.1:9/v1", model="m")
    assert verdict_tokens("auto", embedded, JUDGE_SCHEMA) and not verdict_tokens("auto", remote, JUDGE_SCHEMA)
    assert verdict_tokens("token", remote, JUDGE_SCHEMA) and not verdict_tokens("schema", embedded, JUDGE_SCHEMA)
    assert not verdict_tokens("token", embedded, VERBOSITY_SCHEMA)  # not a yes/no reply


def test_token_verdict_is_asked_first_then_the_schema_for_a_reply_that_is_not_one(run_dir: RunDir) -> None:
    make_run(run_dir, [{**TEACHER, "other_answer": "41"}, {**TEACHER, "question": "Q2?", "other_answer": "42"}])

    def reply(body: dict[str, Any]) -> str:  # the second row's token reply is not a verdict: it falls back
        token = "perhaps" if "Q2?" in body["messages"][0]["content"] else "false"
        return echoing(token, '{"same_final_answer": true}')(body)

    with ReplayServer(reply) as server:
        config = judge_config(server)
        config.verdicts = "token"  # an OpenAI-compatible llama.cpp server: the config says it constrains
        result = annotate(run_dir, config, only=["disagree"], quiet=True, force=True)
    token_bodies = [b for b in server.bodies if "grammar" in b]
    assert len(token_bodies) == 2 and all(b["grammar"] == 'root ::= "true" | "false"' for b in token_bodies)
    assert all(b["messages"][-1] == {"role": "assistant", "content": '{"same_final_answer": '} for b in token_bodies)
    assert all(b["max_tokens"] <= 4 and b["temperature"] == 0.0 and "response_format" not in b for b in token_bodies)
    schema_bodies = [b for b in server.bodies if "response_format" in b]
    assert len(schema_bodies) == 1 and schema_bodies[0]["temperature"] == 0.0  # today's greedy attempt
    rows = read(run_dir)
    assert [r["disagree"] for r in rows] == [True, False]
    assert rows[0]["disagree_raw"] == '{"same_final_answer": false}'  # the whole reply the token stands for
    counts = result.counts["disagree"]
    assert counts["verdict_tokens"] == 1 and counts["verdict_token_fallbacks"] == 1


def test_schema_mode_and_engines_without_the_constraint_send_no_token_request(run_dir: RunDir) -> None:
    make_run(run_dir, [{**TEACHER, "other_answer": "41"}])
    with ReplayServer(echoing("true", '{"same_final_answer": false}')) as server:
        config = judge_config(server)
        assert config.verdicts == "schema"  # the default (benchmarks/README.md: agreement below target)
        annotate(run_dir, config, only=["disagree"], quiet=True, force=True)
        config.verdicts = "auto"  # on an engine whose config does not say it constrains: the schema too
        annotate(run_dir, config, only=["disagree"], quiet=True, force=True)
    assert server.bodies and not any("grammar" in b for b in server.bodies)


def test_embedded_llamacpp_answers_a_verdict_in_one_or_two_tokens(llamacpp_engine: Any) -> None:
    from naturalthoughts.annotate.base import verdict_request
    from naturalthoughts.text.judge import judge_messages

    conversations = [
        judge_messages("What is 6 times 7?", "42", "The answer is 42."),
        judge_messages("What is the capital of France?", "Paris", "It is Berlin."),
    ]
    results = llamacpp_engine.generate([verdict_request(c, JUDGE_SCHEMA) for c in conversations])
    for result in results:
        assert result.ok and result.text.strip() in ("true", "false"), result
        assert result.completion_tokens <= 2
        assert isinstance(JUDGE_SCHEMA.parse(JUDGE_SCHEMA.verdict_reply(result.text)), bool)


# ---- the engines annotate asks -----------------------------------------------------------------------------------


def test_annotate_engines_answer_seeded_requests_reproducibly(tmp_path: Path) -> None:
    """Every annotate request is seeded, so the embedded engine of each role runs in its deterministic layout (one
    slot a server) unless the config says otherwise; engines without such a mode are used as configured."""
    from naturalthoughts.annotate.base import AnnotateContext
    from naturalthoughts.engines.config import LlamaCppEngineConfig, OpenAIEngineConfig

    context = AnnotateContext(run=RunDir(tmp_path), config=AnnotateConfig())
    for role in ("annotator", "judge", "second"):
        config = context.engine_config(role)
        assert isinstance(config, LlamaCppEngineConfig) and config.deterministic is True, role
    chosen = AnnotateConfig.model_validate(
        {
            "judge_engine": {"engine": "llamacpp", "deterministic": False},
            "annotator_engine": {"engine": "openai", "model": "m", "base_url": "http://127.0.0.1:1/v1"},
        }
    )
    context = AnnotateContext(run=RunDir(tmp_path), config=chosen)
    assert context.engine_config("judge").deterministic is False
    assert context.engine_config("annotator") == chosen.annotator_engine
    assert isinstance(context.engine_config("annotator"), OpenAIEngineConfig)
