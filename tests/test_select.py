"""The select stage as users rely on it: determinism, errors, the expression grammar, compare, the CLI, output."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from naturalthoughts.cli import main
from naturalthoughts.errors import BadInputError, ConfigError, Fix, MissingInputError
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir
from naturalthoughts.select import (
    ExpressionError,
    MissingColumnError,
    NotEnoughEligible,
    bind,
    compare,
    default_name,
    parse,
    select,
)
from test_select_pools import strategy_lists, write_pool

DOMAINS = ["Biology", "Economics", "Law", "Mathematics", "Physics"]


@pytest.fixture
def pool(run_dir: RunDir) -> RunDir:
    """A fully annotated pool of 3,000 traces with embeddings and reference answers."""
    n = 3000
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 12, n)
    write_pool(
        run_dir, n,
        traces={"reasoning_tokens": rng.integers(100, 18_000, n), "complete": rng.random(n) < 0.95},
        annotations={
            "domain": rng.choice(DOMAINS, n, p=[0.5, 0.2, 0.15, 0.1, 0.05]),
            "field": rng.choice(["a", "b", "c"], n),
            "strategies": strategy_lists(rng, counts), "n_strategies": counts,
            "strategy_density": rng.random(n) * 5, "verbosity": rng.integers(0, 11, n).astype(float),
            "disagree": rng.random(n) < 0.3, "correct": rng.random(n) < 0.6,
        },
        reference_answer=[" ".join(["w"] * int(k)) for k in rng.integers(1, 10, n)],
        embeddings=rng.normal(size=(n, 16)).astype(np.float32),
    )  # fmt: skip
    return run_dir


EVERY_METHOD = [
    "random",
    "topic",
    "topic(level=field)",
    "semantic(k=12)",
    "strategy",
    "strategy(mode=coverage)",
    "length",
    "length(mode=longest)",
    "verbosity(level=medium)",
    "disagree",
    "short-ref(max_words=4)",
    "filter:complete,correct>disagree>strategy",
]


@pytest.mark.parametrize("expr", EVERY_METHOD)
def test_same_seed_same_bytes_other_seed_other_subset(pool: RunDir, expr: str) -> None:
    a = select(pool, method=expr, size=200, seed=1, name="a", allow_smaller=True, force=True)
    b = select(pool, method=expr, size=200, seed=1, name="b", allow_smaller=True, force=True)
    c = select(pool, method=expr, size=200, seed=2, name="c", allow_smaller=True, force=True)
    assert a.path.read_bytes() == b.path.read_bytes()
    ids_a = pq.read_table(a.path)["trace_id"].to_pylist()
    ids_c = pq.read_table(c.path)["trace_id"].to_pylist()
    assert len(ids_a) == a.selected > 0
    assert len(set(ids_a)) == len(ids_a)  # no trace twice
    if expr != "length(mode=longest)":  # the longest traces are the longest whatever the seed
        assert ids_a != ids_c


def test_size_larger_than_eligible_says_how_many(pool: RunDir) -> None:
    eligible = select(pool, method="random", size=10, force=True).eligible
    with pytest.raises(NotEnoughEligible) as err:
        select(pool, method="random", size=eligible + 1, force=True)
    assert f"only {eligible} are eligible" in str(err.value) and err.value.fix == Fix("select", allow_smaller=True)
    assert "filter:complete: " in str(err.value)  # the funnel shows where traces were lost
    result = select(pool, method="random", size=eligible + 1, allow_smaller=True, force=True)
    assert result.selected == eligible == pq.read_metadata(result.path).num_rows
    failed = Manifest(pool.manifest).records(f"select:random-{eligible + 1}")
    assert [r["status"] for r in failed] == ["failed", "done"]
    assert issubclass(NotEnoughEligible, BadInputError) and NotEnoughEligible.exit_code == 4


@pytest.mark.parametrize(
    ("expr", "annotator"),
    [
        ("topic", "domain"),
        ("strategy", "strategies"),
        ("verbosity(level=low)", "verbosity"),
        ("disagree", "disagree"),
        ("filter:correct>random", "correctness"),
        ("semantic", "embeddings"),
    ],
)
def test_missing_annotation_names_the_command(run_dir: RunDir, expr: str, annotator: str) -> None:
    write_pool(run_dir, 50, annotations={})  # annotations.parquet exists but every column is null
    with pytest.raises(MissingColumnError) as caught:
        select(run_dir, method=expr, size=10, force=True)
    assert caught.value.fix == Fix("annotate", only=annotator).at(run_dir)
    shown = caught.value.render(lambda fix: fix.command_line())  # as the command line prints it
    assert f"nt annotate --run {run_dir.root} --only {annotator}" in shown


def test_missing_tables_name_their_command(run_dir: RunDir) -> None:
    with pytest.raises(MissingInputError, match=r"traces\.parquet does not exist: run `generate`") as caught:
        select(run_dir, method="random", size=10, force=True)
    assert caught.value.fix == Fix("generate").at(run_dir)
    write_pool(run_dir, 50)  # traces only
    with pytest.raises(MissingColumnError, match=r"annotations.parquet does not exist") as caught:
        select(run_dir, method="topic", size=10, force=True)
    assert caught.value.fix == Fix("annotate", only="domain").at(run_dir)
    with pytest.raises(MissingColumnError, match=r"run `ingest SOURCE\.\.\.`"):
        select(run_dir, method="short-ref", size=10, force=True)


@pytest.mark.parametrize(
    ("expr", "message", "caret_at"),
    [
        ("topic>>random", "expected a method name or `filter:`, found '>'", 6),
        ("topik", "unknown method `topik`; did you mean `topic`?", 0),
        ("strategy(foo=1)", "unknown parameter `foo`", 9),
        ("strategy(min=9,max=4)", "min (9) is greater than max (4)", 0),
        ("verbosity", "level: Field required", 0),
        ("length(mode=short)", "mode: Input should be 'rule' or 'longest'", 7),
        ("random>topic", "nothing may follow `random`", 0),
        ("topic>filter:correct", "`filter:` must come before any method", 6),
        ("filter:complet>random", "unknown filter `complet`; did you mean `complete`?", 7),
        ("topic(level=field", "expected `,` or `)` in the argument list, found the end", 17),
        ("topic level", "expected `>` between stages or the end, found 'level'", 6),
        ("topic;", "unexpected character ';'", 5),
        ("", "the expression is empty", 0),
        ("short-ref(3,4)", "unexpected value '4'", 12),
    ],
)
def test_grammar_errors_point_at_the_bad_token(expr: str, message: str, caret_at: int) -> None:
    with pytest.raises(ExpressionError) as err:
        bind(expr)
    text = str(err.value)
    assert message in text
    lines = text.splitlines()
    assert lines[1] == f"  {expr}" and lines[2] == " " * (2 + caret_at) + "^"


def test_grammar_accepts_parameters_quotes_and_negation() -> None:
    plan = bind("filter:!disagree, domain('Computer Science'), max_tokens(8000) > strategy(4, 6) > topic(level=field)")
    assert plan.text() == (
        "filter:complete,!disagree,domain('Computer Science'),max_tokens(8000)>strategy(4,6)>topic(level=field)"
    )
    strategy = plan.methods[0].params
    assert (strategy.min, strategy.max) == (4, 6)
    assert plan.filters[-2].params.name == "Computer Science"
    assert parse(plan.text()).canonical() == plan.text()  # the canonical text parses back to itself
    assert bind("random", default_filter=False).filters == ()
    assert bind("filter:all>random").filters == ()


def test_default_names_are_file_safe() -> None:
    assert default_name("filter:complete,correct>disagree>strategy", 10_000) == (
        "filter-complete-correct+disagree+strategy-10k"
    )
    assert default_name("strategy(min=4,max=8)", 1234) == "strategy-min-4-max-8-1234"
    long = default_name("filter:" + ",".join(["complete"] * 40), 500_000)
    assert len(long) < 110 and long.endswith("-500k")


def test_bad_options_are_config_errors(pool: RunDir) -> None:
    with pytest.raises(ConfigError, match="size"):
        select(pool, method="random", size=0, force=True)
    with pytest.raises(ConfigError, match="name"):
        select(pool, method="random", size=10, name="../escape", force=True)


def test_manifest_records_parameters_and_statistics(pool: RunDir) -> None:
    result = select(pool, method="topic", size=500, seed=3, name="balanced", force=True)
    record = Manifest(pool.manifest).latest("select:balanced")
    assert record["status"] == "done"
    assert record["config"]["seed"] == 3 and record["config"]["expression"] == "filter:complete,max_tokens(16384)>topic"
    assert record["counts"] == {"pool": 3000, "eligible": result.eligible, "selected": 500}
    assert record["funnel"]["pool"] == 3000 and record["funnel"]["eligible"] == result.eligible
    stats = record["statistics"]
    assert stats["traces"] == 500 and stats["domain entropy (bits)"] > 2.3  # near log2(5) = 2.32
    assert {"traces.parquet", "annotations.parquet"} <= set(record["inputs"])  # keyed relative to the run
    assert record["outputs"] == {"selections/balanced.parquet": record["outputs"]["selections/balanced.parquet"]}


def test_compare_table_and_csv(pool: RunDir) -> None:
    select(pool, method="topic", size=300, name="topic", force=True)
    select(pool, method="disagree", size=300, name="disagree", force=True)
    select(pool, method="length(mode=longest)", size=300, name="longest", force=True)
    table = compare(pool)
    assert list(table.columns) == ["pool", "disagree", "longest", "topic"]
    assert table.loc["traces", "pool"] == 3000 and table.loc["traces", "topic"] == 300
    assert table.loc["domain entropy (bits)", "topic"] > table.loc["domain entropy (bits)", "pool"]
    assert table.loc["disagreement rate", "disagree"] == 1.0
    assert table.loc["reasoning tokens p50", "longest"] > table.loc["reasoning tokens p50", "pool"]
    for row in ("mean distinct strategies", "correct rate", "domain: Law", "reasoning tokens p90"):
        assert row in table.index
    from_csv = pd.read_csv(pool.selections_dir / "compare.csv", index_col="statistic")
    np.testing.assert_allclose(from_csv.to_numpy(), table.to_numpy(), rtol=1e-5)


def test_output_is_readable_with_pandas_duckdb_and_datasets(pool: RunDir) -> None:
    result = select(pool, method="disagree>topic", size=250, name="readable", force=True)
    frame = pd.read_parquet(result.path)
    assert list(frame.columns) == ["trace_id", "rank", "score", "method"] and len(frame) == 250
    assert duckdb.sql(f"select count(*), min(rank), max(rank) from '{result.path}'").fetchall() == [(250, 0, 249)]
    ds = load_dataset("parquet", data_files=str(result.path), split="train", cache_dir=str(pool.root / "hf"))
    assert ds.num_rows == 250 and ds[0]["rank"] == 0
    assert pq.read_schema(result.path).metadata[b"naturalthoughts.select.seed"] == b"0"


def test_cli_end_to_end(pool: RunDir, capsys: pytest.CaptureFixture[str]) -> None:
    main(["select", "--run", str(pool.root), "--method", "filter:complete,correct>disagree>strategy", "--size", "100"])
    out = capsys.readouterr().out
    path = pool.selection("filter-complete-correct+disagree+strategy-100")
    assert str(path) in out and "100 of" in out
    assert pq.read_metadata(path).num_rows == 100

    main(["select", "--run", str(pool.root), "-m", "topic", "-n", "50", "--seed", "4", "--name", "t50"])
    main(["select", "--run", str(pool.root), "--compare"])
    out = capsys.readouterr().out
    assert "domain entropy" in out and "t50" in out and "compare.csv" in out

    with pytest.raises(SystemExit) as exit_info:
        main(["select", "--run", str(pool.root), "-m", "topic>>x", "-n", "5"])
    assert exit_info.value.code == 2
    assert "^" in capsys.readouterr().err

    with pytest.raises(SystemExit) as exit_info:
        main(["select", "--run", str(pool.root), "-m", "disagree(backfill=false)", "-n", "2999"])
    assert exit_info.value.code == NotEnoughEligible.exit_code == 4
    err = capsys.readouterr().err
    assert "eligible" in err and "--allow-smaller" in err and "Traceback" not in err


def test_cli_help_documents_the_grammar(capsys: pytest.CaptureFixture[str]) -> None:
    main(["select", "--help"])
    out = capsys.readouterr().out
    for text in ("expression :=", "filter:", "complete,max_tokens(16384)", "strategy", "short-ref", "--compare"):
        assert text in out


def test_manifest_is_valid_json_after_several_selections(pool: RunDir) -> None:
    for seed in range(3):
        select(pool, method="random", size=20, seed=seed, name=f"r{seed}", force=True)
    data = json.loads(pool.manifest.read_text())
    assert {f"select:r{s}" for s in range(3)} <= set(data["stages"])


def test_duplicate_trace_ids_are_reported_with_their_row(run_dir: RunDir) -> None:
    write_pool(run_dir, 5)
    table = pq.read_table(run_dir.traces)
    pq.write_table(pa.concat_tables([table, table.slice(2, 1)]), run_dir.traces)
    with pytest.raises(BadInputError, match=r"traces.parquet: row 6: duplicate trace_id 't0000002'"):
        select(run_dir, method="random", size=2, force=True)


def test_duplicate_annotation_rows_are_reported(run_dir: RunDir) -> None:
    write_pool(run_dir, 5, annotations={"domain": "Law"})
    table = pq.read_table(run_dir.annotations)
    pq.write_table(pa.concat_tables([table, table.slice(1, 1)]), run_dir.annotations)
    with pytest.raises(BadInputError, match=r"annotations.parquet: row 6: duplicate trace_id 't0000001'"):
        select(run_dir, method="topic", size=2, force=True)
