"""nt export-data: a selection (or SFT set) as a Hugging Face dataset folder, loaded back with `datasets`, with a card
that names every item of its provenance; a push without the network exits 5 with the folder written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from naturalthoughts.annotate.stage import AnnotateStage
from naturalthoughts.export_data import ExportDataConfig, ExportDataStage
from naturalthoughts.ingest import IngestConfig, IngestStage
from naturalthoughts.rundir import RunDir
from naturalthoughts.select.config import SelectConfig
from naturalthoughts.select.stage import SelectStage
from naturalthoughts.sft import SftDataConfig, SftDataStage
from nt_cli import nt
from test_traces_pipeline import CHEAP_ANNOTATORS, FOUR_LAYOUTS, run_all

QUESTIONS_ONLY = str(Path(__file__).parent / "data" / "traces" / "bespoke_stratos_17k.jsonl")


@pytest.fixture
def selected_run(run_dir: RunDir) -> RunDir:
    ingest = IngestStage(IngestConfig(near_dup=False, decontaminate=["gsm8k", "math500"]), sources=FOUR_LAYOUTS)
    select = SelectStage(SelectConfig(method="strategy(min=0)", size=6, seed=3, name="pick"))
    run_all(run_dir, [ingest, AnnotateStage(CHEAP_ANNOTATORS), select])
    return run_dir


def card_parts(folder: Path) -> tuple[dict, str]:
    text = (folder / "README.md").read_text(encoding="utf-8")
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def test_a_selection_exports_as_a_loadable_dataset_with_its_provenance(selected_run: RunDir, tmp_path: Path) -> None:
    from datasets import load_dataset

    out = tmp_path / "pick-dataset"
    config = ExportDataConfig(out=str(out), license="apache-2.0", language=["en"], shard_rows=4)
    outcome = run_all(selected_run, [ExportDataStage(config, selection="pick")])[0]
    assert outcome.record["counts"] == {"rows": 6, "shards": 2}
    assert sorted(p.name for p in (out / "data").iterdir()) == ["train-00000-of-00002.parquet",
                                                                 "train-00001-of-00002.parquet"]  # fmt: skip

    dataset = load_dataset(str(out), split="train")
    assert dataset.num_rows == 6 and dataset["rank"] == list(range(6))
    row = dataset[0]
    assert row["response"] == f"<think>\n{row['reasoning']}\n</think>\n\n{row['answer']}"
    assert row["messages"][-2:] == [{"role": "user", "content": row["question"]},
                                    {"role": "assistant", "content": row["response"]}]  # fmt: skip
    assert {"teacher", "origin", "source", "strategies", "correct", "reference_answer"} <= set(dataset.column_names)

    header, body = card_parts(out)
    assert header["license"] == "apache-2.0" and header["language"] == ["en"]
    assert header["task_categories"] == ["text-generation", "question-answering"]
    assert header["size_categories"] == ["n<1K"]
    assert header["configs"][0]["data_files"][0]["path"] == "data/train-*"
    provenance = json.loads((out / "provenance.json").read_text())
    # Every item of provenance, in the card: the source pools with their ids, the teachers, the annotators and their
    # models, the selection's expression, size and seed, the mix, the decontamination list and counts, the version.
    for source in FOUR_LAYOUTS:
        assert source["source"] in body and f"traces ({source['traces']})" in body
    for teacher in {t["teacher"] for t in provenance["teachers"]}:
        assert teacher in body
    assert provenance["pool"]["traces_fingerprint"] in body and provenance["pool"]["questions_fingerprint"] in body
    for annotator, method in provenance["annotators"]["methods"].items():
        assert f"| {annotator} | {method.replace('|', chr(92) + '|')} |" in body
    assert f"judge {provenance['annotators']['judge_model']}" in body
    assert "expression: `filter:complete,max_tokens(16384)>strategy(min=0)`" in body
    assert "size asked: 6; seed: 3" in body and "System-1/System-2 mix: none" in body
    assert "| gsm8k |" in body and "| math500 |" in body and provenance["decontamination"]["benchmarks"]["gsm8k"] > 0
    assert "naturalthoughts 0.1.0" in body and provenance["toolkit"]["version"] == "0.1.0"
    assert f"{provenance['export']['rows']:,} rows" in body


def test_an_sft_set_exports_with_its_mix(selected_run: RunDir, tmp_path: Path, tiny_llama_dir: Path) -> None:
    from datasets import load_dataset

    sft = SftDataStage(SftDataConfig(mix="random:0.5", max_length=512, student=str(tiny_llama_dir)), selection="pick")
    out = tmp_path / "sft-dataset"
    export = ExportDataStage(ExportDataConfig(out=str(out), license="mit"), sft=sft.args["name"])
    run_all(selected_run, [sft, export])
    dataset = load_dataset(str(out), split="train")
    assert (
        dataset.num_rows == 6
        and set(dataset["mode"]) <= {"system-1", "system-2"}
        and "messages" in dataset.column_names
    )
    _, body = card_parts(out)
    assert "System-1/System-2 mix: random:0.5" in body and "`pick`" in body


def test_a_push_without_network_exits_5_with_the_folder_written(selected_run: RunDir, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    out = tmp_path / "pushed"
    code = nt("export-data", "--run", str(selected_run.root), "--selection", "pick", "--out", str(out),
                   "--license", "cc-by-4.0", "--push-to-hub", "someone/pick")  # fmt: skip
    assert code == 5
    err = capsys.readouterr().err
    assert "huggingface.co is unreachable" in err and f"written at {out}" in err and "Traceback" not in err
    assert (out / "README.md").exists() and list((out / "data").glob("train-*.parquet"))
    assert nt("export-data", "--run", str(selected_run.root), "--out", str(out)) == 2  # neither source named
    assert nt("export-data", "--run", str(selected_run.root), "--selection", "nope", "--out", str(out)) == 3
