"""Extending the toolkit through its registries, end to end through `nt run`.

A throwaway engine (one new file plus one registry line) answers for generate, annotate and evaluation; a new stage
(one new file, one registry line, one CLI file) runs inside `nt run`. The same run then shows the outcomes and the
staleness rules of the stage contract:

- one failed evaluation request: `nt run` still writes the report, names the failed items and exits 7 (and says
  to rerun, not to raise a budget); the rerun retries them;
- changing only the engines' concurrency reruns nothing;
- retraining a model makes its evaluation stale: `nt run` reruns that evaluation and the report only;
- a budget stop exits 6 and says to raise the budget, not to retry failed items.

The engine is written for the test (a scripted model: it answers from rules, like the replaying servers other tests
use); everything else (ingest, generate, annotate, select, SFT data, real TRL training of a tiny model, eval, the
report, the runner and the CLI) is the production code.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from naturalthoughts import registry
from naturalthoughts.cli import main
from naturalthoughts.engines.config import register_engine, unregister_engine
from naturalthoughts.pipeline import load_pipeline_config, pipeline_stages
from naturalthoughts.progress import quiet_reporter
from naturalthoughts.runner import Runner

ENGINE_FILE = '''
"""``engine: scripted``: a model that answers from rules (a throwaway engine for the contract test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from naturalthoughts.config import VOLATILE
from naturalthoughts.engines.base import BatchedEngine, ChatRequest, ChatResult
from naturalthoughts.engines.config import BaseEngineConfig


class ScriptedEngineConfig(BaseEngineConfig):
    engine_class: ClassVar[str] = "scripted_engine:ScriptedEngine"
    loads_folder: ClassVar[bool] = True  # a trained student can be evaluated on it
    engine: Literal["scripted"] = "scripted"
    model: str = "scripted"
    concurrency: int = Field(2, ge=1, json_schema_extra=VOLATILE)
    fail_first: str | None = Field(None, description="a file: while it does not exist, the first request fails")


def _value(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """The smallest value valid for a JSON schema (what a schema-constrained model could answer)."""
    if "$ref" in schema:
        return _value(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return _value(next(s for s in schema[key] if s.get("type") != "null"), defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: _value(sub, defs) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [_value(schema["items"], defs) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return "x" * schema.get("minLength", 1)


class ScriptedEngine(BatchedEngine):
    name = "scripted"

    def __init__(self, config: ScriptedEngineConfig) -> None:
        self.config = config
        self.batch_size = config.concurrency
        folder = Path(config.model)
        if folder.is_dir() and not (folder / "config.json").exists():
            raise ValueError(f"{folder} is not a model folder")

    @staticmethod
    def identity(config: ScriptedEngineConfig) -> str:
        return f"scripted:{config.model}"

    def model_identity(self) -> str:
        return self.identity(self.config)

    def answer_batch(self, requests: list[ChatRequest]) -> list[ChatResult]:
        return [self._answer(request) for request in requests]

    def _answer(self, request: ChatRequest) -> ChatResult:
        marker = self.config.fail_first
        if marker is not None and not Path(marker).exists():
            Path(marker).write_text("failed once")
            return ChatResult(error="scripted: the first request fails")
        if request.json_schema is not None:
            text = json.dumps(_value(request.json_schema, request.json_schema.get("$defs", {})))
        elif request.prefill is not None:
            text = "The answer is 42."
        else:
            text = "<think>I add the numbers, then check the sum.</think>\\nThe answer is 42."
        words = sum(len(m["content"].split()) for m in request.messages)
        return ChatResult(text=text, finish_reason="stop", prompt_tokens=words, completion_tokens=len(text.split()))
'''

STAGE_FILE = '''
"""``wordcount``: words in every trace's reasoning -> ``wordcounts.parquet`` (a new stage for the contract test)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.atomic import write_parquet
from naturalthoughts.config import StrictModel
from naturalthoughts.rundir import RunDir
from naturalthoughts.stage import Stage, StageContext, StageResult


class WordCountConfig(StrictModel):
    column: str = "reasoning"


class WordCountStage(Stage):
    name = "wordcount"
    config_model = WordCountConfig
    reads = ("traces.parquet",)
    writes = ("wordcounts.parquet",)

    def inputs(self, run: RunDir) -> list[Path]:
        return [run.traces]

    def outputs(self, run: RunDir) -> list[Path]:
        return [run.root / "wordcounts.parquet"]

    def run(self, ctx: StageContext) -> StageResult:
        traces = pq.read_table(ctx.run.traces, columns=["trace_id", self.config.column])
        words = pc.list_value_length(pc.utf8_split_whitespace(pc.fill_null(traces[self.config.column], "")))
        table = pa.table({"trace_id": traces["trace_id"], "words": words})
        write_parquet(table, self.outputs(ctx.run)[0])
        return StageResult(counts={"traces": table.num_rows}, summary=f"{table.num_rows} traces counted")
'''

CLI_FILE = '''
"""`nt wordcount`: words per trace (the new stage's command)."""

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("wordcount", help="Count the words of every trace's reasoning into wordcounts.parquet.")
    def wordcount(run: Path = typer.Option(..., "--run", help="Run directory.")) -> None:
        from naturalthoughts.cli.common import run_stage
        from wordcount_stage import WordCountStage

        run_stage(WordCountStage(), run)
'''

QUESTIONS = [("What is 40 plus 2?", "42"), ("What is 6 times 7?", "42"), ("What is 50 minus 8?", "42"),
             ("What is 84 divided by 2?", "42")]  # fmt: skip


@pytest.fixture
def extended(tmp_path: Path) -> Iterator[Path]:
    """The engine, the stage and its command, each one new file; registered with one line each."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    for name, text in (("scripted_engine", ENGINE_FILE), ("wordcount_stage", STAGE_FILE), ("wordcount_cli", CLI_FILE)):
        (plugins / f"{name}.py").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    sys.path.insert(0, str(plugins))
    try:
        import scripted_engine

        register_engine(scripted_engine.ScriptedEngineConfig)  # the engine's registry line
        registry.register(registry.StageSpec("wordcount", "wordcount_stage:WordCountStage",  # the stage's line
                                             "wordcount_stage:WordCountConfig", "wordcount", "default",
                                             cli="wordcount_cli"), before="report")  # fmt: skip
        yield tmp_path
    finally:
        registry.unregister("wordcount")
        unregister_engine("scripted")
        sys.path.remove(str(plugins))
        for name in ("scripted_engine", "wordcount_stage", "wordcount_cli"):
            sys.modules.pop(name, None)


def _config(tmp_path: Path, student: Path, **changes: dict) -> Path:
    source = tmp_path / "questions.jsonl"
    source.write_text("".join(json.dumps({"question": q, "reference_answer": a}) + "\n" for q, a in QUESTIONS))
    scripted = {"engine": "scripted"}
    config = {
        "run_dir": str(tmp_path / "run"),
        "sources": [str(source)],
        "ingest": {"decontaminate": []},
        "generate": {"engine": scripted, "max_tokens": 64, "prompt_template": "think-tags"},
        "annotate": {"annotators": ["length", "domain", "verbosity", "correctness"], "length": {"tokenizer": "approx"},
                     "domain": {"method": "llm"}, "verbosity": {"method": "llm"}, "annotator_engine": scripted,
                     "judge_engine": scripted, "disagree": {"second_engine": None}},
        "select": [{"method": "filter:complete>random", "size": 3, "name": "pick", "allow_smaller": True}],
        "sft": {"max_length": 512, "student": str(student)},
        "train": {"preset": "cpu-demo", "student": str(student), "max_steps": 1, "tokens_per_step": 512,
                  "tokens_per_micro_batch": 512, "max_length": 512, "save_steps": 50},
        "eval": {"benchmarks": ["gsm8k"], "limit": 2, "max_tokens": 16, "modes": ["no-think"],
                 "engine": {**scripted, "fail_first": str(tmp_path / "failed-once")}},
        "wordcount": {},
        "report": {},
    }  # fmt: skip
    for section, values in changes.items():
        config[section] = {**config[section], **values}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _nt(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`nt ARGS` in this process (where the test registered its engine and stage): exit code, stdout, stderr."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _records(run: Path) -> dict[str, list[dict]]:
    return json.loads((run / "manifest.json").read_text())["stages"]


def _ran(before: dict[str, list[dict]], after: dict[str, list[dict]]) -> set[str]:
    return {key for key, records in after.items() if len(records) > len(before.get(key, []))}


@pytest.mark.slow
def test_a_new_engine_and_stage_run_through_nt_run_with_honest_outcomes(
    extended: Path, tiny_llama_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path, run = extended, extended / "run"
    config = _config(tmp_path, tiny_llama_dir)
    code, out, _ = _nt(capsys, "--help")
    assert code == 0 and "wordcount" in out  # the new stage's command is listed

    code, out, err = _nt(capsys, "run", str(config), "-q")
    records = _records(run)
    assert code == 7, out + err
    assert (run / "report.html").exists() and records["report"][-1]["status"] == "done"  # the report is written
    assert records["eval:pick"][-1]["status"] == "incomplete"
    assert "eval:pick: 1 of 2 samples not answered" in err and "retry" in err and "budget" not in err
    assert all(records[key][-1]["status"] == "done" for key in records if key != "eval:pick")
    assert pq.read_table(run / "wordcounts.parquet").num_rows == len(QUESTIONS)  # the new stage ran
    traces = pq.read_table(run / "traces.parquet").to_pylist()
    assert {t["teacher"] for t in traces} == {"scripted:scripted"} and all(t["complete"] for t in traces)
    annotations = pq.read_table(run / "annotations.parquet").to_pylist()
    assert all(a["domain_method"].startswith("llm:scripted") and a["verbosity"] is not None for a in annotations)
    samples = pq.read_table(run / "eval" / "pick" / "samples.parquet").to_pylist()
    assert {s["engine"] for s in samples} == {f"scripted:{run / 'models' / 'pick'}"}

    # The rerun retries the failed request only: that evaluation and the report rerun.
    before = _records(run)
    code, out, err = _nt(capsys, "run", str(config), "-q")
    assert code == 0, out + err
    assert _ran(before, _records(run)) == {"eval:pick", "report"}

    # Only the engines' concurrency changes: nothing reruns.
    faster = {"engine": "scripted", "concurrency": 7}
    evaluated = {**faster, "fail_first": str(tmp_path / "failed-once")}
    config = _config(tmp_path, tiny_llama_dir, generate={"engine": faster, "concurrency": 3},
                     annotate={"annotator_engine": faster, "judge_engine": {**faster, "concurrency": 5}},
                     eval={"engine": evaluated, "concurrency": 4})  # fmt: skip
    before = _records(run)
    code, out, err = _nt(capsys, "run", str(config), "-q")
    assert code == 0 and _ran(before, _records(run)) == set(), out + err

    # Retraining the model makes its evaluation stale: that evaluation and the report rerun, nothing else.
    train = next(s for s in pipeline_stages(load_pipeline_config(config)) if s.key == "train:pick")
    assert Runner(run, force=True, reporter=quiet_reporter()).run_stage(train).status == "done"
    before = _records(run)
    code, out, err = _nt(capsys, "run", str(config), "-q")
    assert code == 0, out + err
    assert _ran(before, _records(run)) == {"eval:pick", "report"}
    assert _records(run)["eval:pick"][-1]["reason"].startswith("input changed: models/pick")


def test_a_budget_stop_exits_6_with_its_own_advice(extended: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    config = _config(tmp_path, tmp_path, generate={"max_total_tokens": 20, "engine": {"engine": "scripted",
                                                                                       "concurrency": 1}})  # fmt: skip
    data = yaml.safe_load(config.read_text())
    for section in ("sft", "train", "eval"):
        data.pop(section)
    config.write_text(yaml.safe_dump(data))
    code, out, err = _nt(capsys, "run", str(config), "-q")
    assert code == 6, out + err
    records = _records(tmp_path / "run")
    assert records["generate"][-1]["status"] == "stopped" and "annotate" not in records  # the run ends there
    assert "budget" in err and "retry" not in err
