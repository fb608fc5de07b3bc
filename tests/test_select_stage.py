"""The select stage on the stage contract: the runner, staleness, failed traces, the response cap, natural/forced
traces, exactly N from the length rule, negation and names, and the user-facing errors through the real CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from naturalthoughts.errors import BadInputError, Fix, MissingInputError
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner, run_one
from naturalthoughts.select import (
    ExpressionError,
    NotEnoughEligible,
    SelectConfig,
    SelectStage,
    StaleAnnotationsError,
    bind,
    default_name,
    select,
)
from naturalthoughts.select.stage import stale_selections
from test_select_pools import ANNOTATORS, nt, record_annotators, strategy_lists, traces_digest, write_pool


def annotated_pool(run: RunDir, n: int = 400, **kwargs) -> dict[str, np.ndarray]:
    """A pool whose annotations (strategies, domain, token counts) were computed from the traces as written."""
    rng = np.random.default_rng(0)
    counts = rng.integers(3, 10, n)
    tokens = rng.integers(500, 9000, n)
    columns = {"tokens": tokens, "counts": counts}
    write_pool(
        run, n,
        traces={"reasoning_tokens": tokens, "reasoning": [f"reasoning {i}" for i in range(n)]},
        annotations={
            "strategies": strategy_lists(rng, counts), "n_strategies": counts, "strategy_density": rng.random(n),
            "domain": rng.choice(["Law", "Science"], n), "reasoning_tokens": tokens, "response_tokens": tokens + 20,
        },
        **kwargs,
    )  # fmt: skip
    return columns


def regenerate_traces(run: RunDir, n: int) -> None:
    """Rewrite traces.parquet as `nt generate --retry` would: same trace ids, new responses."""
    before = run.traces_fingerprint()
    table = pq.read_table(run.traces)
    new = [f"regenerated reasoning {i}" for i in range(n)]
    table = table.set_column(table.schema.get_field_index("reasoning"), "reasoning", pq_array(new, table, "reasoning"))
    if "response_hash" in table.schema.names:  # once traces carry a content hash, the fingerprint reads it
        column = pq_array([f"h{i}" for i in range(n)], table, "response_hash")
        table = table.set_column(table.schema.get_field_index("response_hash"), "response_hash", column)
    pq.write_table(table, run.traces)
    assert run.traces_fingerprint() != before


def stamp_annotations(run: RunDir, computed_from: dict[str, str]) -> None:
    """Record annotate runs that computed each annotator from the given traces (as `nt annotate --only` would)."""
    record_annotators(run, computed_from)


def pq_array(values: list, table, name: str):
    import pyarrow as pa

    return pa.array(values, table.schema.field(name).type)


def row_numbers(path: Path) -> np.ndarray:
    return np.array([int(t[1:]) for t in pq.read_table(path)["trace_id"].to_pylist()], dtype=np.int64)


# ---- the stage contract ----------------------------------------------------------------------------------------


def test_stage_runs_through_the_runner_and_is_skipped_when_up_to_date(run_dir: RunDir) -> None:
    annotated_pool(run_dir)
    config = SelectConfig(method="topic", size=100, seed=1)
    with Runner(run_dir) as runner:
        first = runner.run_stage(SelectStage(config))
        second = runner.run_stage(SelectStage(config))
    assert (first.key, first.status, second.status) == ("select:topic-100", "done", "up-to-date")
    record = Manifest(run_dir.manifest).latest("select:topic-100")
    assert record["status"] == "done" and record["counts"]["selected"] == 100
    assert set(record["inputs"]) == {"traces.parquet", "annotations.parquet"}
    assert list(record["outputs"]) == ["selections/topic-100.parquet"]
    assert record["config"]["expression"] == "filter:complete,max_tokens(16384)>topic"
    # inputs are the tables the expression reads: without annotation columns, only the traces
    assert SelectStage(SelectConfig(method="filter:all>random", size=5)).inputs(run_dir) == [run_dir.traces]
    short_ref = SelectStage(SelectConfig(method="filter:all>short-ref", size=5)).inputs(run_dir)
    assert short_ref == [run_dir.traces, run_dir.questions]

    reseeded = run_one(SelectStage(config.model_copy(update={"seed": 2})), run_dir)
    assert reseeded.status == "done" and reseeded.reason == "config changed: seed"
    regenerate_traces(run_dir, 400)
    with pytest.raises(StaleAnnotationsError):  # the runner sees the new traces; the stage refuses stale topics
        run_one(SelectStage(config), run_dir)


def test_check_validates_the_expression_without_any_table(tmp_path: Path, run_dir: RunDir) -> None:
    empty = RunDir(tmp_path / "nothing-yet")
    SelectStage(SelectConfig(method="filter:correct>disagree>strategy(4,6)", size=5)).check(empty)
    with pytest.raises(ExpressionError, match="unknown method `topik`"):
        SelectStage(SelectConfig(method="topik", size=5)).check(empty)
    with pytest.raises(ExpressionError, match="min \\(9\\) is greater than max \\(4\\)"):
        SelectStage(SelectConfig(method="strategy(min=9,max=4)", size=5)).check(empty)
    assert not empty.root.exists()

    annotated_pool(run_dir)  # nt run checks every selection before the first one runs
    good, bad = SelectStage(SelectConfig(method="random", size=5)), SelectStage(SelectConfig(method="x>>", size=5))
    with Runner(run_dir) as runner, pytest.raises(ExpressionError):
        runner.run_all([good, bad])
    assert not run_dir.selection("random-5").exists()


def test_a_selection_made_from_older_traces_is_stale_by_its_manifest_record(run_dir: RunDir) -> None:
    annotated_pool(run_dir)
    result = select(run_dir, method="random", size=50, force=True)
    record = Manifest(run_dir.manifest).latest(f"select:{result.name}")
    assert record["inputs"]["traces.parquet"]["sha256"] == traces_digest(run_dir)  # what it read
    assert stale_selections(run_dir) == {}
    regenerate_traces(run_dir, 400)
    fix = stale_selections(run_dir)[result.name]  # what makes it again, with its recorded options
    assert fix == Fix("select", method="random", size=50, seed=0, name=result.name).at(run_dir)


def test_not_enough_eligible_is_bad_input() -> None:
    assert issubclass(NotEnoughEligible, BadInputError) and NotEnoughEligible.exit_code == 4


# ---- staleness ---------------------------------------------------------------------------------------------------


def test_regenerated_traces_make_select_fail_with_the_refresh_command(run_dir: RunDir) -> None:
    annotated_pool(run_dir)
    regenerate_traces(run_dir, 400)
    with pytest.raises(StaleAnnotationsError) as err:
        select(run_dir, method="strategy", size=10, force=True)
    message = str(err.value)
    assert "annotations for `length`, `strategies` were computed from older traces (traces.parquet changed since)" in (
        message
    )
    assert err.value.fix == Fix("annotate", only="length,strategies").at(run_dir)
    assert isinstance(err.value, MissingInputError) and err.value.exit_code == 3

    # a selection that needs no annotation still runs, and its statistics do not use the stale ones
    result = select(run_dir, method="filter:all>random", size=10, force=True)
    assert np.isnan(result.statistics["mean distinct strategies"])
    assert "domain entropy (bits)" not in result.statistics

    # refreshing one annotator leaves the other named
    fresh = traces_digest(run_dir)
    stamp_annotations(run_dir, {**dict.fromkeys(ANNOTATORS, "an older digest"), "strategies": fresh})
    with pytest.raises(StaleAnnotationsError) as err:
        select(run_dir, method="strategy", size=10, force=True)
    assert err.value.fix == Fix("annotate", only="length").at(run_dir)
    stamp_annotations(run_dir, dict.fromkeys(ANNOTATORS, fresh))
    assert select(run_dir, method="strategy", size=10, force=True).selected == 10


def test_annotations_that_record_no_fingerprint_are_not_trusted(run_dir: RunDir) -> None:
    annotated_pool(run_dir, annotated_from=None)  # written before annotate recorded what it saw
    with pytest.raises(StaleAnnotationsError) as err:
        select(run_dir, method="topic", size=10, force=True)
    assert "have no record of which traces they were computed from" in str(err.value)
    assert err.value.fix == Fix("annotate", only="domain,length").at(run_dir)


def test_embeddings_of_the_question_do_not_depend_on_the_traces(run_dir: RunDir) -> None:
    vectors = np.random.default_rng(1).normal(size=(300, 8))
    write_pool(run_dir, 300, embeddings=vectors)  # no annotations.parquet at all
    assert select(run_dir, method="semantic(k=4)", size=30, force=True).selected == 30
    write_pool(run_dir, 300, embeddings=vectors, embedded="trace")
    with pytest.raises(StaleAnnotationsError) as err:
        select(run_dir, method="semantic(k=4)", size=30, force=True)
    assert err.value.fix == Fix("annotate", only="embeddings").at(run_dir)
    write_pool(run_dir, 300, embeddings=vectors, embedded="trace", annotations={})  # annotate recorded embeddings
    assert select(run_dir, method="semantic(k=4)", size=30, force=True).selected == 30


# ---- which traces can be selected ----------------------------------------------------------------------------------


def test_failed_traces_are_never_selected(run_dir: RunDir) -> None:
    n = 200
    failed = np.arange(n) % 4 == 0
    write_pool(
        run_dir, n,
        traces={"error": np.where(failed, "HTTP 500: upstream error", None),
                "finish_reason": np.where(failed, "error", "stop"), "complete": True},
    )  # fmt: skip
    for expr in ("random", "filter:all>random", "filter:!complete>random", "length(mode=longest)"):
        result = select(run_dir, method=expr, size=n, allow_smaller=True, name="any", force=True)
        assert not failed[row_numbers(result.path)].any(), expr
    assert select(run_dir, method="filter:all", size=10, force=True).funnel["without error"] == n - failed.sum()
    with pytest.raises(NotEnoughEligible, match="without error: 150"):
        select(run_dir, method="filter:all", size=n, force=True)


def test_default_cap_counts_the_whole_response(run_dir: RunDir) -> None:
    # Four groups of 50: (reasoning, answer, server completion_tokens, annotated response_tokens)
    groups = [
        (16_000, 1_000, None, None),  # 17,000 by reasoning + answer: over the cap
        (16_000, 100, None, None),  # 16,100: under
        (500, 500, 17_000, None),  # the server counted 17,000: over, though reasoning + answer is 1,000
        (500, 500, 20_000, 1_000),  # the teacher's tokenizer counted 1,000: under
    ]
    n = 50 * len(groups)
    group = np.repeat(np.arange(len(groups)), 50)
    column = {k: [groups[g][i] for g in group] for i, k in enumerate(("reasoning", "answer", "server", "annotated"))}
    write_pool(
        run_dir, n,
        traces={"reasoning_tokens": column["reasoning"], "answer_tokens": column["answer"],
                "completion_tokens": column["server"]},
        annotations={"response_tokens": column["annotated"]},
    )  # fmt: skip
    result = select(run_dir, method="random", size=100, force=True)
    assert sorted(set(group[row_numbers(result.path)])) == [1, 3] and result.eligible == 100
    assert result.notes["token_counts"]["response_tokens"] == {
        "annotations.response_tokens": 50,
        "traces.completion_tokens": 50,
        "traces.reasoning_tokens+answer_tokens": 100,
    }
    # the reasoning-only cap and floor read the reasoning count
    assert select(run_dir, method="filter:all,max_reasoning_tokens(16384)", size=10, force=True).eligible == n
    assert select(run_dir, method="filter:all,min_tokens(10000)", size=10, force=True).eligible == 100


def test_natural_and_forced_filters(run_dir: RunDir) -> None:
    n = 300
    forced = np.arange(n) % 3 == 0
    write_pool(run_dir, n, traces={"forced": forced})
    assert (
        select(run_dir, method="random", size=10, force=True).eligible == n
    )  # the paper's filter (complete) keeps both
    natural = select(run_dir, method="filter:natural", size=200, force=True)
    assert not forced[row_numbers(natural.path)].any() and natural.eligible == 200
    only_forced = select(run_dir, method="filter:forced", size=100, force=True)
    assert forced[row_numbers(only_forced.path)].all() and only_forced.eligible == 100

    write_pool(run_dir, n)  # traces written before thinking budgets: no `forced` column, none was forced
    pq.write_table(pq.read_table(run_dir.traces).drop_columns(["forced"]), run_dir.traces)
    assert select(run_dir, method="filter:natural", size=10, force=True).eligible == n
    assert select(run_dir, method="filter:forced", size=10, allow_smaller=True, force=True).eligible == 0


# ---- exactly N from the length rule -----------------------------------------------------------------------------


def test_length_rule_returns_exactly_n_filled_with_the_same_weights(run_dir: RunDir) -> None:
    per_bucket = 5000
    tokens = np.repeat([1000, 4000], per_bucket)  # keep probability 0.018 and 0.57
    write_pool(run_dir, len(tokens), traces={"reasoning_tokens": tokens})
    result = select(run_dir, method="length", size=4000, force=True)
    table = pq.read_table(result.path)
    rows, methods = row_numbers(result.path), np.array(table["method"].to_pylist())
    assert len(rows) == 4000 == len(set(rows.tolist()))
    steps = result.notes["backfill"]["length"]
    assert steps["first"] == (methods == "length").sum() and steps["backfill"] == (methods == "length:backfill").sum()
    assert steps["first"] + steps["backfill"] == 4000 and steps["backfill"] > 0
    assert np.all(methods[: steps["first"]] == "length")  # the pass comes first, then the fill
    filled_long = (tokens[rows[methods == "length:backfill"]] == 4000).mean()
    # The rest after the pass is ~4,910 short and ~2,140 long traces; weights 0.018 vs 0.57 make the fill long
    assert filled_long > 0.9, filled_long
    record = Manifest(run_dir.manifest).latest(f"select:{result.name}")
    assert record["notes"]["backfill"]["length"] == steps
    assert (
        select(run_dir, method="length", size=4000, name="again", force=True).path.read_bytes()
        == result.path.read_bytes()
    )


def test_length_rule_returns_n_whenever_the_pool_holds_n(run_dir: RunDir) -> None:
    tokens = np.where(np.arange(100) < 20, 0, 800)  # 20 traces of weight 0 (no reasoning)
    write_pool(run_dir, 100, traces={"reasoning_tokens": tokens})
    result = select(run_dir, method="filter:all>length", size=100, force=True)
    rows = row_numbers(result.path)
    assert sorted(rows.tolist()) == list(range(100))
    assert (tokens[rows[-20:]] == 0).all()  # weight 0 comes last
    few = select(run_dir, method="filter:all>length", size=30, force=True)
    assert few.selected == 30 and (tokens[row_numbers(few.path)] == 800).all()


# ---- negation and names ----------------------------------------------------------------------------------------------


def test_negated_all_is_refused_and_negation_is_in_the_name(run_dir: RunDir) -> None:
    with pytest.raises(ExpressionError) as err:
        bind("filter:!all>random")
    assert "`!all` would keep no trace" in str(err.value) and str(err.value).splitlines()[2] == " " * 10 + "^"

    assert default_name("filter:!complete", 10) == "filter-not-complete-10"
    assert default_name("filter:complete", 10) == "filter-complete-10"
    quoted = {
        default_name("filter:domain('Computer Science')", 10),
        default_name("filter:domain(Computer-Science)", 10),
    }
    assert len(quoted) == 2

    n = 100
    write_pool(run_dir, n, traces={"complete": np.arange(n) < 60})
    negated, plain = (
        select(run_dir, method="filter:!complete", size=40, force=True),
        select(run_dir, method="filter:complete", size=60, force=True),
    )
    assert (negated.name, plain.name) == ("filter-not-complete-40", "filter-complete-60")
    assert row_numbers(negated.path).min() >= 60 and row_numbers(plain.path).max() < 60

    without_default = select(run_dir, method="random", size=10, default_filter=False, force=True)
    assert without_default.name == "filter-all+random-10" != select(run_dir, method="random", size=10, force=True).name


# ---- the CLI (a subprocess, as a user runs it) ----------------------------------------------------------------------


@pytest.mark.slow
def test_cli_errors_name_the_culprit_without_a_traceback(run_dir: RunDir) -> None:
    annotated_pool(run_dir)
    root = str(run_dir.root)
    assert nt("select", "--run", root, "-m", "topic", "-n", "20").returncode == 0

    too_many = nt("select", "--run", root, "-m", "random", "-n", "100000")
    assert too_many.returncode == 4 and "--allow-smaller" in too_many.stderr and "eligible" in too_many.stderr

    negated = nt("select", "--run", root, "-m", "filter:!all", "-n", "5")
    assert negated.returncode == 2 and "`!all` would keep no trace" in negated.stderr

    regenerate_traces(run_dir, 400)
    stale = nt("select", "--run", root, "-m", "strategy", "-n", "5")
    assert stale.returncode == 3, stale.stderr
    assert f"nt annotate --run {root} --only length,strategies" in " ".join(stale.stderr.split())
    for result in (too_many, negated, stale):
        assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.slow
def test_cli_reads_the_selection_from_a_config_file(tmp_path: Path, run_dir: RunDir) -> None:
    annotated_pool(run_dir)
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        "select:\n  - {name: picked, method: 'topic', size: 30, seed: 3}\n  - {name: other, method: random, size: 5}\n"
    )
    done = nt("select", "--run", str(run_dir.root), "--config", str(config), "--name", "picked")
    assert done.returncode == 0, done.stderr
    assert pq.read_metadata(run_dir.selection("picked")).num_rows == 30
    assert Manifest(run_dir.manifest).latest("select:picked")["config"]["seed"] == 3
