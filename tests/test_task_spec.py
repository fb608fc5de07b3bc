"""reasoning-gym task specs with parameters (naturalthoughts.text.tasks): types read from each task's config, the
YAML form, errors that name the key and the task's parameters, scorers that never crash, and the CLI's exit code;
checked against reasoning-gym itself."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import reasoning_gym

from naturalthoughts.cli import main
from naturalthoughts.errors import ConfigError
from naturalthoughts.ingest import IngestConfig, ingest
from naturalthoughts.pipeline import load_pipeline_config
from naturalthoughts.rundir import RunDir
from naturalthoughts.text import tasks


def test_parameters_take_their_config_fields_types_and_generate_reasoning_gyms_items() -> None:
    task_set = tasks.parse_task_set(
        "reasoning-gym:basic_arithmetic{max_terms=3, max_digits=2, operators=[+,-]},syllogism{allow_no=no}:5:7"
    )
    arithmetic, syllogism = task_set.tasks
    assert arithmetic.params == (("max_digits", 2), ("max_terms", 3), ("operators", ("+", "-")))
    assert syllogism.params == (("allow_no", False),)
    assert (task_set.size, task_set.seed) == (5, 7)
    expected = reasoning_gym.create_dataset(
        "basic_arithmetic", size=5, seed=7, max_terms=3, max_digits=2, operators=["+", "-"]
    )
    generated = [entry for task, _, entry in tasks.entries(task_set) if task == arithmetic]
    assert [(e["question"], e["answer"]) for e in generated] == [(e["question"], e["answer"]) for e in expected]
    assert all("*" not in e["question"] and "/" not in e["question"] for e in generated)  # the operators took
    assert tasks.parse_task_set("reasoning-gym:basic_arithmetic{operators=[+;-]}:2") == tasks.parse_task_set(
        "reasoning-gym:basic_arithmetic{operators=[+,-]}:2"
    )


def test_the_canonical_text_reads_back_to_the_same_set() -> None:
    task_set = tasks.parse_task_set("reasoning-gym:gcd{ max_value = 50 ,min_value=10},chain_sum{allow_negation=yes}:4")
    assert task_set.text == "reasoning-gym:gcd{max_value=50,min_value=10},chain_sum{allow_negation=true}:4:0"
    assert tasks.parse_task_set(task_set.text) == task_set
    assert task_set.label(task_set.tasks[0]) == "reasoning-gym:gcd{max_value=50,min_value=10}:4:0"
    assert tasks.parse_task_set("reasoning-gym:gcd:3:-2").seed == -2


def test_the_yaml_form_is_the_same_set_and_a_pipeline_config_accepts_it(tmp_path: Path) -> None:
    as_text = tasks.parse_task_set("reasoning-gym:gcd{max_value=50},lcm{max_value=20},syllogism:6:3")
    as_mapping = tasks.from_mapping(
        {
            "reasoning-gym": {
                "tasks": {"gcd": {"max_value": 50}, "lcm": {"max_value": 20}, "syllogism": None},
                "size": 6,
                "seed": 3,
            }
        }
    )
    as_list = tasks.from_mapping({"tasks": [{"name": "gcd", "max_value": 50}, "lcm"], "size": 6})
    assert as_mapping == as_text
    assert as_list.tasks == (as_text.tasks[0], tasks.make_task("lcm")) and as_list.seed == 0
    config = tmp_path / "pool.yaml"
    config.write_text(
        f"run_dir: {tmp_path / 'run'}\n"
        "sources:\n"
        "  - reasoning-gym: {tasks: {gcd: {max_value: 50}}, size: 3, seed: 1}\n"
        "  - reasoning-gym:syllogism{allow_no=false}:2:1\n"
    )
    loaded = load_pipeline_config(config)
    assert loaded.sources == ["reasoning-gym:gcd{max_value=50}:3:1", "reasoning-gym:syllogism{allow_no=false}:2:1"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "reasoning-gym:gcd{max_valu=5}:3",
            r"task 'gcd' has no parameter 'max_valu' \(did you mean max_value.*"
            r"its parameters: min_numbers=2, max_numbers=2, min_value=1, max_value=1000",
        ),
        ("reasoning-gym:gcd{max_value=big}:3", r"'gcd' parameter 'max_value': big is not an int.*default is 1000"),
        ("reasoning-gym:gcd{max_value=2.5}:3", r"2.5 is not an int"),
        ("reasoning-gym:syllogism{allow_no=maybe}:3", r"'allow_no': maybe is not a bool"),
        ("reasoning-gym:basic_arithmetic{format_style=fancy}:3", r"'fancy' is not one of simple, natural"),
        (
            "reasoning-gym:gcd{min_value=50,max_value=10}:3",
            r"gcd\{max_value=10,min_value=50\}: reasoning-gym refuses these parameters \(max_value must be > min_value",
        ),
        ("reasoning-gym:gcd{seed=4}:3", r"'seed' is not a task parameter; the spec's SEED sets it"),
        ("reasoning-gym:gcd{size=4}:3", r"'size' is not a task parameter; the spec's N sets it"),
        ("reasoning-gym:gcd{max_value}:3", r"'max_value' is not key=value"),
        ("reasoning-gym:gcd{max_value=5,max_value=6}:3", r"sets 'max_value' twice"),
        ("reasoning-gym:gcd{max_value=5:3", r"unbalanced braces"),
        ("reasoning-gym:gcd{max_value=5}x:3", r"must end with '\}'"),
        ("reasoning-gym:gcd,gcd:3", r"task gcd is named twice"),
        ("reasoning-gym:gdc:3", r"no task 'gdc'; did you mean one of: gcd"),
        ("reasoning-gym:gcd", r"expected reasoning-gym:TASK\[\{key=value,...\}\]"),
        ("reasoning-gym:gcd:many", r"expected reasoning-gym:TASK"),
        ("reasoning-gym::3", r"give at least one task"),
        ("reasoning-gym:aiw{task_types=[x]}:3", r"'task_types' .*cannot be set from a source spec"),
    ],
)
def test_bad_specs_are_config_errors_that_name_the_key(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        tasks.parse_task_set(spec)


def test_bad_yaml_forms_name_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match=r"unknown key\(s\) items; keys: tasks, size, seed"):
        tasks.from_mapping({"tasks": ["gcd"], "items": 3})
    with pytest.raises(ConfigError, match="size must be a whole number"):
        tasks.from_mapping({"tasks": ["gcd"]})
    with pytest.raises(ConfigError, match="give at least one task"):
        tasks.from_mapping({"tasks": [], "size": 3})
    with pytest.raises(ConfigError, match=r"'lcm' parameter 'max_value': \[1;2\] is not an int"):
        tasks.from_mapping({"tasks": {"lcm": {"max_value": [1, 2]}}, "size": 3})


def test_every_registered_tasks_parameters_are_read() -> None:
    for name in tasks.task_names():
        assert not {"seed", "size"} & set(tasks.params_of(name))
    gcd = tasks.params_of("gcd")
    assert {n: (p.kind, p.default) for n, p in gcd.items()} == {
        "min_numbers": ("int", 2),
        "max_numbers": ("int", 2),
        "min_value": ("int", 1),
        "max_value": ("int", 1000),
    }
    assert tasks.params_of("basic_arithmetic")["operators"].kind == "list[str]"
    assert tasks.params_of("basic_arithmetic")["format_style"].choices == ("simple", "natural")
    assert tasks.params_of("number_sorting")["min_value"].kind == "float"


def test_scorers_are_the_tasks_own_and_a_scorer_that_raises_scores_zero() -> None:
    task_set = tasks.parse_task_set("gcd{max_value=60},syllogism,prime_factorization{max_value=100}:4:11")
    for task, row, entry in tasks.entries(task_set):
        own = reasoning_gym.create_dataset(task.name, size=4, seed=11, **task.config_kwargs())
        assert own[row - 1] == entry
        name, reference, scorer = tasks.scorer_for(task_set.label(task), row)
        assert (name, reference) == (task.name, entry["answer"])
        assert scorer(reference) == own.score_answer(reference, entry) == 1.0
        assert scorer(None) == 0.0
        prose = f"The answer is {reference}."
        if task.name == "prime_factorization":
            with pytest.raises(ValueError):  # the task's scorer cannot read prose; we score it 0, not crash
                own.score_answer(prose, entry)
            assert scorer(prose) == 0.0
        else:
            assert scorer(prose) == pytest.approx(own.score_answer(prose, entry))
            assert 0.0 < scorer(prose) < 1.0  # reasoning-gym's partial credit is kept


def test_ingest_reads_parameters_of_the_yaml_form_and_labels_rows_with_their_spec(run_dir: RunDir) -> None:
    source = tasks.spec_text({"reasoning-gym": {"tasks": {"gcd": {"max_value": 30}, "leg_counting": {}}, "size": 4,
                                                "seed": 7}})  # fmt: skip
    result = ingest(run_dir, IngestConfig(decontaminate=[]), sources=[source], force=True)
    df = pd.read_parquet(run_dir.questions)
    assert result.read == 8 and len(df) == 8
    gcd = df[df["source"] == "reasoning-gym:gcd{max_value=30}:4:7"]
    expected = reasoning_gym.create_dataset("gcd", size=4, seed=7, max_value=30)
    assert list(zip(gcd["question"], gcd["reference_answer"], strict=True)) == [
        (e["question"], e["answer"]) for e in expected
    ]
    assert list(gcd["source_row"]) == [1, 2, 3, 4]
    assert (df["source"] == "reasoning-gym:leg_counting:4:7").sum() == 4


def test_the_cli_refuses_a_bad_parameter_with_exit_2_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ingest", "reasoning-gym:gcd{max_valu=50}:3", "--run", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no parameter 'max_valu'" in err and "max_value=1000" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "questions.parquet").exists()
