"""nt study: the grid, cell names and per-cell stage keys, the result table, and its report section."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from naturalthoughts.config import validate
from naturalthoughts.errors import ConfigError
from naturalthoughts.report import build_report
from naturalthoughts.report.synthetic import write_synthetic_run
from naturalthoughts.rundir import RunDir
from naturalthoughts.study.config import StudyGrid, load_study_config
from naturalthoughts.study.grid import expand, groups, select_stage, sft_stage, train_stage
from naturalthoughts.study.results import (
    TABLE_CSV,
    TABLE_MD,
    CellResult,
    aggregate,
    markdown,
    read_rows,
    study_dir,
    write_results,
)

GRID = {"selections": [{"label": "random", "method": "random"}, {"label": "disagree", "method": "disagree"}],
        "sizes": [1000, 10000], "mixes": ["none", "random:.5"], "seeds": [0, 1, 2]}  # fmt: skip


def study_file(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "run"), "study": GRID, **extra}), encoding="utf-8")
    return path


def test_grid_expands_to_named_cells_with_their_own_stage_keys(tmp_path: Path) -> None:
    config = load_study_config(study_file(tmp_path))
    cells = expand(config.study)
    assert len(cells) == 2 * 2 * 2 * 3 and len(groups(config.study)) == 8
    names = [c.name for c in cells]
    assert len(set(names)) == len(names)
    assert names[:4] == ["random-1k-none-s0", "random-1k-none-s1", "random-1k-none-s2", "random-1k-random-0.5-s0"]
    cell = cells[3]
    keys = [select_stage(cell, config.study).key, sft_stage(cell, config).key, train_stage(cell, config).key]
    assert keys == ["select:random-1k-s0", "sft-data:random-1k-random-0.5-s0", "train:random-1k-random-0.5-s0"]
    assert sft_stage(cell, config).config.mix == "random:0.5" and train_stage(cell, config).config.seed == 0
    assert select_stage(cells[4], config.study).config.seed == 1  # each seed redraws the selection


def test_one_selection_for_every_seed_when_asked(tmp_path: Path) -> None:
    grid = StudyGrid(**{**GRID, "reseed_selection": False})
    selections = {c.selection_name for c in expand(grid)}
    assert selections == {"random-1k", "random-10k", "disagree-1k", "disagree-10k"}


def test_grid_values_cannot_be_set_twice(tmp_path: Path) -> None:
    config = load_study_config(study_file(tmp_path, sft={"mix": "difficulty"}))
    with pytest.raises(ConfigError, match=r"sft\.mix"):
        sft_stage(expand(config.study)[0], config)
    with pytest.raises(ConfigError, match="each label once"):
        load_study_config(study_file(tmp_path, study={**GRID, "selections": [GRID["selections"][0]] * 2}))
    with pytest.raises(ConfigError, match="mix"):
        validate(StudyGrid, {**GRID, "mixes": ["sometimes"]})


def _results() -> list[CellResult]:
    out = [CellResult("base", "base", None, None, None, "think", "gsm8k", 0.20, 0.04, 100, 300.0)]
    for seed, accuracy in enumerate((0.30, 0.40, 0.35)):
        out.append(CellResult(f"random-1k-none-s{seed}", "random", 1000, "none", seed, "think", "gsm8k", accuracy,
                              0.05, 100, 800.0 + seed))  # fmt: skip
        out.append(CellResult(f"random-1k-none-s{seed}", "random", 1000, "none", seed, "think", "gpqa", 0.25, 0.03,
                              198, 2000.0))  # fmt: skip
    return out


def test_table_gives_mean_and_standard_error_over_seeds() -> None:
    rows = aggregate(_results())
    base = next(r for r in rows if r.label == "base")
    assert base.stderr == 0.04 and base.stderr_over == "items" and base.seeds == 1
    gsm = next(r for r in rows if r.label == "random" and r.benchmark == "gsm8k")
    assert gsm.accuracy == pytest.approx(0.35) and gsm.seeds == 3 and gsm.stderr_over == "seeds"
    assert gsm.stderr == pytest.approx(math.sqrt(((0.05**2) * 2) / 2 / 3))  # sample sd 0.05 / sqrt(3)
    assert gsm.mean_tokens == pytest.approx(801.0)
    text = markdown(rows, "Study t")
    assert "| base | – | – | think | – | 20.0 ± 4.0 | 300 | 1 |" in text
    assert "| random | 1000 | none | think | 25.0 ± 0.0 | 35.0 ± 2.9 |" in text


def test_results_files_round_trip_and_show_in_the_report(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", n=60)
    folder = study_dir(run, "t")
    write_results(folder, _results(), "Study t")
    assert (folder / TABLE_MD).read_text().startswith("# Study t")
    assert read_rows(folder / TABLE_CSV) == aggregate(_results())
    info = build_report(run)
    assert info["section_errors"] == {} and "study" not in info["not_run"]
    html = run.report.read_text(encoding="utf-8")
    section = html[html.index('<section id="study">') :]
    section = section[: section.index("</section>")]
    assert "35.0 ± 2.9" in section and section.count("<svg") == 2  # one accuracy-vs-tokens plot per benchmark


QUESTIONS = [
    ("What is 2 + 3?", "5"),
    ("What is 7 times 6?", "42"),
    ("Name the capital of France.", "Paris"),
    ("What is 10 minus 4?", "6"),
    ("How many legs does a spider have?", "8"),
    ("What is 9 squared?", "81"),
]


def tiny_study(tmp_path: Path, teacher: dict, student: Path) -> Path:
    """A 2 x 1 x 1 grid on six questions: the real teacher (llama.cpp), annotators, TRL and evaluation."""
    import json

    source = tmp_path / "questions.jsonl"
    source.write_text("".join(json.dumps({"question": q, "reference_answer": a}) + "\n" for q, a in QUESTIONS))
    engine = {"engine": "transformers", "model": str(student), "dtype": "float32", "batch_size": 8}
    config = {
        "run_dir": str(tmp_path / "run"),
        "sources": [str(source)],
        "ingest": {"decontaminate": []},
        # A thinking budget closes the tiny teacher's reasoning (it never closes it itself), so traces are complete.
        # Greedy decoding, so the pool (and which traces are complete) is the same on every run.
        "generate": {"engine": teacher, "max_tokens": 40, "prompt_template": "think-tags", "temperature": 0.0,
                     "thinking": {"budget": 24, "answer_max_tokens": 12}},
        "annotate": {"annotators": ["length", "domain", "strategies", "verbosity"]},
        "sft": {"max_length": 512, "student": str(student)},
        "train": {"preset": "cpu-demo", "student": str(student), "max_steps": 2, "tokens_per_step": 512,
                  "tokens_per_micro_batch": 512, "max_length": 512, "save_steps": 50},
        "eval": {"benchmarks": ["gsm8k"], "limit": 2, "max_tokens": 8, "engine": engine},
        "study": {"name": "tiny", "sizes": [3], "allow_smaller": True,
                  # Complete traces only (the paper's filter): SFT data is built from complete traces.
                  "selections": [{"label": "random", "method": "filter:complete>random"},
                                 {"label": "longest", "method": "filter:complete>length(mode=longest)"}]},
    }  # fmt: skip
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.mark.slow
def test_tiny_study_writes_its_table_and_a_rerun_does_no_work(
    tmp_path: Path, llamacpp_openai_config: object, tiny_llama_dir: Path
) -> None:
    from naturalthoughts.progress import quiet_reporter
    from naturalthoughts.study.stage import run_study, stage_keys

    teacher = llamacpp_openai_config.model_dump(mode="json")  # type: ignore[attr-defined]
    config = load_study_config(tiny_study(tmp_path, teacher, tiny_llama_dir))
    outcomes = run_study(config, reporter=quiet_reporter())
    assert [o.key for o in outcomes] == stage_keys(config) and {o.status for o in outcomes} == {"done"}
    assert "train:random-3-none-s0" in stage_keys(config) and "eval:longest-3-none-s0" in stage_keys(config)
    run = RunDir(config.run_dir)
    folder = study_dir(run, "tiny")
    rows = read_rows(folder / TABLE_CSV)
    assert {(r.label, r.size, r.benchmark) for r in rows} == {("base", None, "gsm8k"), ("random", 3, "gsm8k"),
                                                                ("longest", 3, "gsm8k")}  # fmt: skip
    assert "| random | 3 | none | think |" in (folder / TABLE_MD).read_text()
    page = run.report.read_text(encoding="utf-8")
    study_section = page[page.index('<section id="study">') :].split("</section>")[0]
    assert "<td>longest</td>" in study_section and "<td>base</td>" in study_section

    again = run_study(config, reporter=quiet_reporter())
    assert {o.status for o in again} == {"up-to-date"}  # a rerun does no work

    (run.eval_dir / "random-3-none-s0" / "summary.parquet").unlink()  # one cell's evaluation lost
    third = run_study(config, reporter=quiet_reporter())
    assert [o.key for o in third if o.status == "done"] == ["eval:random-3-none-s0", "study-table:tiny", "report"]
