"""Imported traces through the rest of the pipeline, and beside generated ones.

- Four small files in four real layouts go through ingest -> annotate -> select -> sft-data -> train with no
  ``nt generate`` (real Parquet, the real lexical/length/correctness annotators, TRL on the tiny random Llama).
- Imported and generated traces have the same columns with the same meanings: the same replies, generated through a
  local server replaying them and imported from a file, give the same rows.
- ``nt generate`` on a run with imported traces refuses, or (``--add-to-imported``) adds samples beside them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from naturalthoughts.annotate import AnnotateConfig
from naturalthoughts.annotate.stage import AnnotateStage
from naturalthoughts.engines import engine_identity
from naturalthoughts.errors import ConfigError
from naturalthoughts.generate import GenerateConfig
from naturalthoughts.generate.stage import GenerateStage
from naturalthoughts.ingest import IngestConfig, IngestStage
from naturalthoughts.manifest import Manifest
from naturalthoughts.progress import quiet_reporter
from naturalthoughts.report.config import ReportConfig
from naturalthoughts.report.stage import ReportStage
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner
from naturalthoughts.select.config import SelectConfig
from naturalthoughts.select.stage import SelectStage
from naturalthoughts.sft import SftDataConfig, SftDataStage
from naturalthoughts.tables import TRACES
from naturalthoughts.train import TrainConfig, TrainStage
from test_annotate_support import ReplayServer

DATA = Path(__file__).parent / "data" / "traces"
FAST_INGEST = {"near_dup": False, "decontaminate": []}
FOUR_LAYOUTS = [
    {"source": str(DATA / "numinamath_qwq_cot.jsonl"), "traces": "r1", "teacher": "Qwen/QwQ-32B-Preview"},
    {"source": str(DATA / "openthoughts_114k_metadata.jsonl"), "traces": "split", "teacher": "deepseek-ai/DeepSeek-R1"},
    {
        "source": str(DATA / "am_deepseek_r1_distilled.jsonl"),
        "traces": "messages",
        "teacher": "deepseek-ai/DeepSeek-R1",
    },
    {"source": str(DATA / "openthoughts3_1.2m.jsonl"), "traces": "messages", "teacher": "Qwen/QwQ-32B"},
]
CHEAP_ANNOTATORS = AnnotateConfig.model_validate(
    {"annotators": ["length", "strategies", "verbosity", "correctness"], "correctness": {"use_judge": False}}
)


def run_all(run: RunDir, stages: list) -> list:
    with Runner(run, reporter=quiet_reporter()) as runner:
        return runner.run_all(stages)


def test_four_layouts_go_from_ingest_to_a_trained_student_without_generate(
    run_dir: RunDir, tiny_llama_dir: Path
) -> None:
    sft = SftDataStage(SftDataConfig(mix="none", max_length=512, student=str(tiny_llama_dir)), selection="pick")
    train = TrainConfig.model_validate({
        "preset": "cpu-demo", "student": str(tiny_llama_dir), "max_steps": 2, "logging_steps": 1, "save_steps": 2,
        "tokens_per_step": 512, "tokens_per_micro_batch": 512, "max_length": 512,
    })  # fmt: skip
    stages = [
        IngestStage(IngestConfig(**FAST_INGEST), sources=FOUR_LAYOUTS),
        AnnotateStage(CHEAP_ANNOTATORS),
        SelectStage(SelectConfig(method="strategy(min=0)", size=20, name="pick", allow_smaller=True)),
        sft,
        TrainStage(train, sft=sft.args["name"]),
    ]
    outcomes = run_all(run_dir, stages)
    assert [o.status for o in outcomes] == ["done"] * 5
    manifest = Manifest(run_dir.manifest)
    assert manifest.records("generate") == []  # no teacher ran

    traces = pq.read_table(run_dir.traces).to_pylist()
    assert {t["origin"] for t in traces} == {"imported"} and len(traces) == 3 + 3 + 3 + 5
    assert {Path(t["source"]).name for t in traces} == {Path(s["source"]).name for s in FOUR_LAYOUTS}
    annotations = {a["trace_id"]: a for a in pq.read_table(run_dir.annotations).to_pylist()}
    assert all(annotations[t["trace_id"]]["reasoning_tokens"] for t in traces)
    numina = [annotations[t["trace_id"]] for t in traces if t["source"].endswith("numinamath_qwq_cot.jsonl")]
    assert [a["correct"] for a in numina] == [True, True, False]  # math-verify on the ground truth
    counts = manifest.latest("annotate")["annotators"]["correctness"]
    assert counts["source_compared"] == 3 and counts["source_agree"] == 3  # the source's own flag agrees

    examples = pq.read_table(run_dir.sft_dir / sft.args["name"] / "train.parquet").to_pylist()
    by_id = {t["trace_id"]: t for t in traces}
    assert len({Path(by_id[e["trace_id"]]["source"]).name for e in examples}) == 4  # every layout reached SFT
    assistant = examples[0]["messages"][-1]["content"]
    assert by_id[examples[0]["trace_id"]]["reasoning"] in assistant
    loss = pq.read_table(run_dir.models_dir / sft.args["name"] / "loss.parquet").to_pylist()
    assert [r["step"] for r in loss] == [1, 2] and all(r["tokens"] > 0 for r in loss)


REPLIES = {
    "What is 2 + 3?": "<think>\nTwo plus three. Let me count: 3, 4, 5.\n</think>\n\nThe answer is 5.",
    "Name the capital of France.": "<think>\nFrance's capital is Paris.\n</think>\n\nParis.",
    "Is 17 a prime number?": "<think>\n17 has no divisor between 2 and 4, so it is prime. Wait, check 4: no.",
}


def _replay(body: dict) -> str:
    return REPLIES[body["messages"][-1]["content"]]


def test_imported_and_generated_traces_have_the_same_columns_and_meanings(tmp_path: Path) -> None:
    """The same three replies (one never closes its reasoning), generated through a replaying server and imported
    from an R1-style file, give the same schema and, column by column, the same values where both mean the same."""
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps({"question": q}) + "\n" for q in REPLIES), encoding="utf-8")
    responses = tmp_path / "responses.jsonl"
    responses.write_text("".join(json.dumps({"question": q, "response": r}) + "\n" for q, r in REPLIES.items()))
    generated, imported = RunDir(tmp_path / "generated"), RunDir(tmp_path / "imported")
    with ReplayServer(_replay) as server:
        engine = server.engine()
        config = GenerateConfig(engine=engine, prompt_template="r1", progress=False)
        run_all(generated, [IngestStage(IngestConfig(**FAST_INGEST), sources=[str(questions)]), GenerateStage(config)])
    teacher = engine_identity(engine)
    source = {"source": str(responses), "traces": "r1", "teacher": teacher}
    run_all(imported, [IngestStage(IngestConfig(**FAST_INGEST), sources=[source])])

    schemas = [pq.read_schema(run.traces) for run in (generated, imported)]
    assert schemas[0].remove_metadata() == schemas[1].remove_metadata() == TRACES.remove_metadata()
    assert [f.metadata for f in schemas[0]] == [f.metadata for f in schemas[1]]  # the same documented meanings

    rows = [{t["question_id"]: t for t in pq.read_table(run.traces).to_pylist()} for run in (generated, imported)]
    assert rows[0].keys() == rows[1].keys()
    same = ["trace_id", "question_id", "sample", "teacher", "reasoning", "answer", "finish_reason", "complete",
            "forced", "error", "response_hash", "system_prompt", "source_correct", "reasoning_phase_tokens",
            "answer_phase_tokens"]  # fmt: skip
    for question_id, made in rows[0].items():
        read = rows[1][question_id]
        assert {c: made[c] for c in same} == {c: read[c] for c in same}
        # Where they differ, each says what it is: who made it, and what counted its tokens.
        assert (made["origin"], read["origin"]) == ("generated", "imported")
        assert made["tokenizer"] == "server:completion_tokens" and read["tokenizer"] == "approx:chars/4"
        assert made["source"] is None and read["source"] == str(responses)
        assert made["completion_tokens"] == 5 and read["completion_tokens"] is None  # only a server counts those
    assert sorted(t["complete"] for t in rows[1].values()) == [False, True, True]


def test_generate_refuses_to_replace_imported_traces_or_adds_samples_beside_them(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    responses = tmp_path / "responses.jsonl"
    responses.write_text("".join(json.dumps({"question": q, "response": r}) + "\n" for q, r in REPLIES.items()))
    run_all(run, [IngestStage(IngestConfig(**FAST_INGEST), sources=[{"source": str(responses), "traces": "r1"}])])
    before = pq.read_table(run.traces).to_pylist()
    with ReplayServer(_replay) as server:
        config = GenerateConfig(engine=server.engine(), prompt_template="r1", progress=False, samples=2)
        with pytest.raises(ConfigError, match="holds 3 traces the ingest stage imported"):
            run_all(run, [GenerateStage(config)])
        assert pq.read_table(run.traces).to_pylist() == before  # untouched
        outcome = run_all(run, [GenerateStage(config.model_copy(update={"imported": "add"}))])[0]
    after = pq.read_table(run.traces).to_pylist()
    assert after[:3] == before  # the imported rows, as they were
    added = after[3:]
    assert len(added) == 6 and {t["origin"] for t in added} == {"generated"}
    assert sorted({t["sample"] for t in added}) == [1, 2]  # numbered after each question's imported sample 0
    assert outcome.record["imported_traces_kept"] == 3
    run_all(run, [ReportStage(ReportConfig())])
    page = run.report.read_text(encoding="utf-8")
    shown = "Where the traces came from: 3 of 9 imported (by the ingest stage), 6 generated (by the generate stage)."
    assert shown in page
    assert str(responses) in page and "approx:chars/4" in page and "server:completion_tokens" in page
    with pytest.raises(ConfigError, match="holds 6 generated traces; importing would replace them"):
        run_all(
            run,
            [IngestStage(IngestConfig(**FAST_INGEST), sources=[{"source": str(responses), "traces": "r1"}])],
        )


def test_a_pipeline_yaml_with_trace_sources_runs_without_a_generate_stage(tmp_path: Path) -> None:
    from naturalthoughts.pipeline import load_pipeline_config, run_pipeline, stage_keys

    numina, ot3 = FOUR_LAYOUTS[0], FOUR_LAYOUTS[3]
    config_path = tmp_path / "pipeline.yaml"
    config_path.write_text(
        f"""
run_dir: {tmp_path / "run"}
sources:
  - source: {numina["source"]}
    traces: r1
    teacher: Qwen/QwQ-32B-Preview
  - source: {ot3["source"]}
    traces: messages
    teacher: Qwen/QwQ-32B
ingest: {{near_dup: false, decontaminate: []}}
annotate: {{annotators: [length, strategies, correctness], correctness: {{use_judge: false}}}}
select:
  - {{method: "strategy(min=0)", size: 4, name: diverse}}
report: null
""",
        encoding="utf-8",
    )
    config = load_pipeline_config(config_path)
    assert stage_keys(config) == ["ingest", "annotate", "select:diverse"]
    outcomes = run_pipeline(config)
    assert [o.status for o in outcomes] == ["done"] * 3
    run = RunDir(tmp_path / "run")
    assert pq.read_metadata(run.selection("diverse")).num_rows == 4
    assert {t["teacher"] for t in pq.read_table(run.traces).to_pylist()} == {"Qwen/QwQ-32B-Preview", "Qwen/QwQ-32B"}
    added = load_pipeline_config(config_path).model_copy()
    added.generate = added.generate.model_copy(update={"imported": "add"})
    assert stage_keys(added) == ["ingest", "generate", "annotate", "select:diverse"]  # more samples beside them
