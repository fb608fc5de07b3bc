"""The annotate stage on the contract: runner records, up to date, staleness metadata, --only bringing its
requirements, the length counts (teacher tokenizer, server counts), progress, the stop check."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from naturalthoughts.annotate import AnnotateConfig, AnnotateStage, annotate, stale_annotators
from naturalthoughts.annotate.length import TAGS
from naturalthoughts.errors import Fix
from naturalthoughts.manifest import Manifest, new_record_id, now
from naturalthoughts.progress import Reporter
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner, run_logger, run_one
from naturalthoughts.stage import StageContext
from naturalthoughts.staleness import annotator_freshness
from naturalthoughts.text.tokens import count_tokens
from test_annotate_support import ReplayServer, make_run, write_traces

REASONING = "Wait, that's wrong. Let me verify: 6 * 7 = 42. Alternatively, suppose we add 40 and 2."
ITEMS = [
    {"question": f"Question {i}?", "reasoning": REASONING * (i + 1), "answer": f"The answer is {40 + i}."}
    for i in range(3)
]
LEXICAL = ["length", "strategies", "verbosity", "correctness"]  # no model is called


def config(**kwargs: object) -> AnnotateConfig:
    cfg = AnnotateConfig(**kwargs)  # type: ignore[arg-type]
    cfg.length.tokenizer = "approx"
    return cfg


def rows(run: RunDir) -> list[dict[str, object]]:
    return pq.read_table(run.annotations).to_pylist()


def recorded(run: RunDir) -> dict[str, str]:
    """Whether each annotator the manifest knows was computed from the current traces (the runner's records)."""
    return annotator_freshness(run)


def quiet(run: RunDir, stage: AnnotateStage, force: bool = False):
    return run_one(stage, run, force=force, reporter=Reporter(mode="off"))


def regenerate_one(run: RunDir, items: list[dict[str, object]]) -> None:
    """What `nt generate --retry` does to one row: same trace_id, a new response (so a new response_hash)."""
    changed = [dict(item) for item in items]
    changed[1]["reasoning"] = "A brand new reasoning. " * 20
    make_run(run, changed)


def test_second_run_is_up_to_date_and_embeddings_only_when_run(run_dir: RunDir) -> None:
    make_run(run_dir, ITEMS)
    stage = AnnotateStage(config(), only=["length", "strategies"])
    assert stage.outputs(run_dir) == [run_dir.annotations]
    assert AnnotateStage(config(), only=["embeddings"]).outputs(run_dir) == [run_dir.annotations, run_dir.embeddings]
    first = quiet(run_dir, stage)
    assert first.status == "done" and first.value.rows == 3
    assert "3 traces annotated (length, strategies)" in first.result.summary
    again = quiet(run_dir, AnnotateStage(config(), only=["strategies", "length", "length"]))  # the same set
    assert again.status == "up-to-date"
    # batch_rows is volatile: it changes no value, so the stage stays up to date
    assert quiet(run_dir, AnnotateStage(config(batch_rows=1), only=["length", "strategies"])).status == "up-to-date"
    record = Manifest(run_dir.manifest).latest("annotate", ("done",))
    assert record["config"]["only"] == ["length", "strategies"]
    assert record["counts"]["traces"] == 3 and record["methods"]["length"] == "approx:chars/4"


def test_annotators_record_the_traces_they_were_computed_from(run_dir: RunDir) -> None:
    make_run(run_dir, ITEMS)
    quiet(run_dir, AnnotateStage(config(), only=LEXICAL))
    assert recorded(run_dir) == dict.fromkeys(LEXICAL, "current")
    traces = pq.read_table(run_dir.traces, columns=["response_hash"]).column(0).to_pylist()
    assert [r["response_hash"] for r in rows(run_dir)] == traces
    assert stale_annotators(run_dir) == {}
    reason, fix = stale_annotators(run_dir, ["disagree"])["disagree"]
    assert "has not run" in reason and fix == Fix("annotate", only="disagree").at(run_dir)

    regenerate_one(run_dir, ITEMS)
    stale = stale_annotators(run_dir)
    assert set(stale) == set(LEXICAL)
    reason, fix = stale["strategies"]
    assert "earlier traces.parquet" in reason and fix == Fix("annotate", only="strategies").at(run_dir)

    # --only verbosity refreshes verbosity alone; the others stay visibly stale
    quiet(run_dir, AnnotateStage(config(), only=["verbosity"]))
    assert set(stale_annotators(run_dir)) == set(LEXICAL) - {"verbosity"}
    assert recorded(run_dir)["verbosity"] == "current" and recorded(run_dir)["correctness"] == "stale"
    after = rows(run_dir)
    assert after[1]["response_hash"] == pq.read_table(run_dir.traces).column("response_hash")[1].as_py()

    # strategies reads length's reasoning_tokens, which are stale now: length runs too, with a note
    lines = io.StringIO()
    reporter = Reporter(Console(file=lines, width=200), mode="lines")
    with Runner(run_dir, reporter=reporter) as runner:
        outcome = runner.run_stage(AnnotateStage(config(), only=["strategies"]))
    assert outcome.value.added == ["length"] and outcome.value.annotators == ["length", "strategies"]
    assert "reads length's columns, which are stale" in lines.getvalue()
    assert set(stale_annotators(run_dir)) == {"correctness"}
    new = rows(run_dir)[1]
    assert new["reasoning_tokens"] == -(-len("A brand new reasoning. " * 20) // 4)


def test_only_strategies_on_a_fresh_run_computes_density(run_dir: RunDir) -> None:
    make_run(run_dir, ITEMS)
    result = annotate(run_dir, config(), only=["strategies"], quiet=True, force=True)
    assert result is not None and result.added == ["length"]
    for row in rows(run_dir):
        assert row["strategy_density"] is not None and row["strategy_density"] > 0
    assert set(recorded(run_dir)) == {"length", "strategies"}
    record = Manifest(run_dir.manifest).latest("annotate")
    assert record["requested"] == ["strategies"] and record["added"] == ["length"]


def test_annotations_without_the_record_are_reported(run_dir: RunDir) -> None:
    make_run(run_dir, ITEMS)
    quiet(run_dir, AnnotateStage(config(), only=["length"]))
    run_dir.manifest.unlink()  # annotations copied without their manifest (or written by an older version)
    reason, fix = stale_annotators(run_dir, ["length"])["length"]
    assert "nothing records which traces" in reason and fix == Fix("annotate", only="length").at(run_dir)


# ---- lengths ---------------------------------------------------------------------------------------------------


def record_generate(run: RunDir, engine: dict[str, object]) -> None:
    """The manifest record a finished `nt generate` leaves (the runner writes it in a real run)."""
    Manifest(run.manifest).put(
        {
            "id": new_record_id(),
            "stage": "generate",
            "status": "done",
            "started_at": now(),
            "finished_at": now(),
            "config": {"engine": engine, "samples": 1},
        }
    )


def test_length_uses_the_teachers_tokenizer(run_dir: RunDir) -> None:
    make_run(run_dir, ITEMS)
    record_generate(run_dir, {"engine": "llamacpp"})  # the embedded teacher: the bundled GGUF's tokenizer
    cfg = AnnotateConfig()
    assert cfg.length.tokenizer == "teacher"
    annotate(run_dir, cfg, only=["length"], quiet=True, force=True)
    texts = pq.read_table(run_dir.traces, columns=["reasoning", "answer"])
    reasoning = count_tokens(texts.column("reasoning"), "smollm2").to_pylist()
    answer = count_tokens(texts.column("answer"), "smollm2").to_pylist()
    tags = count_tokens(pa.array([TAGS]), "smollm2")[0].as_py()
    for row, r, a in zip(rows(run_dir), reasoning, answer, strict=True):
        assert row["tokenizer"] == "SmolLM2-135M-Instruct"
        assert (row["reasoning_tokens"], row["answer_tokens"]) == (r, a)
        assert row["response_tokens"] == r + a + tags  # the whole response, thinking tags included


def test_length_falls_back_to_the_servers_counts(run_dir: RunDir) -> None:
    items = [
        {**ITEMS[0], "reasoning_tokens": 30, "answer_tokens": 5, "completion_tokens": 36},
        {**ITEMS[1], "reasoning_tokens": 60, "answer_tokens": 6, "completion_tokens": None},  # an older file's row
        {"question": "Failed?", "reasoning": None, "answer": None},
    ]
    make_run(run_dir, items)
    record_generate(run_dir, {"engine": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "remote"})
    annotate(run_dir, AnnotateConfig(), only=["length"], quiet=True, force=True)
    got = [(r["reasoning_tokens"], r["answer_tokens"], r["response_tokens"], r["tokenizer"]) for r in rows(run_dir)]
    assert got == [
        (30, 5, 36, "server:completion_tokens"),  # the server's count of the whole completion
        (60, 6, 66, "server:completion_tokens"),
        (None, None, None, "server:completion_tokens"),
    ]


def test_length_without_tokenizer_or_counts_says_so(run_dir: RunDir) -> None:
    make_run(run_dir, ITEMS)  # no generate record, no server counts
    lines = io.StringIO()
    with Runner(run_dir, reporter=Reporter(Console(file=lines, width=300), mode="lines")) as runner:
        runner.run_stage(AnnotateStage(AnnotateConfig(), only=["length"]))
    assert "counting characters / 4" in lines.getvalue()
    first = rows(run_dir)[0]
    assert first["tokenizer"] == "approx:chars/4"
    assert first["response_tokens"] == first["reasoning_tokens"] + first["answer_tokens"] + -(-len(TAGS) // 4)
    assert Manifest(run_dir.manifest).latest("annotate")["notes"]


# ---- progress and stopping -------------------------------------------------------------------------------------


def verdict_or_second(body: dict[str, object]) -> str:
    if "response_format" not in body:  # the second answer is free text; every judge reply has a schema
        return "The answer is 41."
    return '{"same_final_answer": false}'


def test_model_progress_moves_per_row_within_a_batch(run_dir: RunDir) -> None:
    long_reference = "Forty-two, since six groups of seven objects hold forty-two objects in all, as counted."
    references = [long_reference, "42", None]  # one row for the judge, one decided by math-verify, one without
    make_run(
        run_dir,
        [
            {**item, "other_answer": "The answer is 40.", "reference_answer": reference}
            for item, reference in zip(ITEMS, references, strict=True)
        ],
    )
    lines = io.StringIO()
    reporter = Reporter(Console(file=lines, width=300), mode="lines", interval_s=0.0)

    def reply(body: dict[str, object]) -> str:
        name = body["response_format"]["json_schema"]["name"]  # type: ignore[index]
        return '{"correct": false}' if name == "correctness" else verdict_or_second(body)

    with ReplayServer(reply) as server, Runner(run_dir, reporter=reporter) as runner:
        runner.run_stage(AnnotateStage(config(judge_engine=server.engine()), only=["correctness", "disagree"]))
    text = lines.getvalue()
    # every model-calling task ends at the number of traces, judged rows or not
    assert "annotate: correctness: 3/3 traces (100.0%)" in text
    judge_lines = [line for line in text.splitlines() if line.startswith("annotate: disagree: ")]
    # one batch of 3 traces (batch_rows 4,096), yet the judge's task moved once per answered row
    assert [line.split(" traces")[0] for line in judge_lines[1:4]] == [
        "annotate: disagree: 1/3",
        "annotate: disagree: 2/3",
        "annotate: disagree: 3/3",
    ]


def test_stop_check_stops_before_writing(run_dir: RunDir) -> None:
    make_run(run_dir, ITEMS)
    stage = AnnotateStage(config(), only=["length"])
    ctx = StageContext(run=run_dir, progress=Reporter(mode="off"), log=run_logger(run_dir), should_stop=lambda: True)
    with pytest.raises(KeyboardInterrupt, match="stop requested"):  # a user's stop is an interrupt, not a budget
        stage.run(ctx)
    assert not run_dir.annotations.exists()


def test_missing_questions_names_ingest(run_dir: RunDir) -> None:
    make_run(run_dir, ITEMS)
    run_dir.questions.unlink()
    with pytest.raises(Exception, match=r"run `ingest SOURCE\.\.\.`"):
        quiet(run_dir, AnnotateStage(config(), only=["length"]))


def test_unknown_method_fails_in_check(run_dir: RunDir) -> None:
    from naturalthoughts.errors import ConfigError

    with pytest.raises(ConfigError, match="choose from"):
        AnnotateStage(config(), only=["length", "vibes"]).check(run_dir)


def test_trace_rows_keep_traces_order_and_ids(run_dir: RunDir) -> None:
    make_run(run_dir, ITEMS)
    write_traces(
        run_dir,
        [
            {"trace_id": f"x{i}", "question_id": r["question_id"], "reasoning": "r", "answer": "a"}
            for i, r in enumerate(pq.read_table(run_dir.traces).to_pylist())
        ][::-1],
    )
    annotate(run_dir, config(), only=["length"], quiet=True, force=True)
    assert [r["trace_id"] for r in rows(run_dir)] == ["x2", "x1", "x0"]
