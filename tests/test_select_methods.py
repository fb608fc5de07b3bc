"""Each selection method's defining property, on a pool built for it (real Parquet, real faiss)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from naturalthoughts.rundir import RunDir
from naturalthoughts.select import NotEnoughEligible, select
from naturalthoughts.select.methods.length import keep_probability
from naturalthoughts.select.pool import Pool
from naturalthoughts.tables import embeddings_schema
from test_select_pools import strategy_lists, write_pool


def picked(run: RunDir, expr: str, size: int, **kwargs) -> tuple[np.ndarray, list[str]]:
    """Row numbers (t0000123 -> 123) of the selection in rank order, and its method labels."""
    result = select(run, method=expr, size=size, force=True, **kwargs)
    table = pq.read_table(result.path)
    assert table["rank"].to_pylist() == list(range(len(table)))
    rows = np.array([int(t[1:]) for t in table["trace_id"].to_pylist()], dtype=np.int64)
    return rows, table["method"].to_pylist()


# ---- length ------------------------------------------------------------------------------------------------


def test_length_rule_keep_rates_match_the_paper_formula(run_dir: RunDir) -> None:
    lengths = np.array([500, 1000, 2000, 3000, 4000, 4500, 6000, 12000])
    per_bucket = 6000
    tokens = np.repeat(lengths, per_bucket)
    write_pool(run_dir, len(tokens), traces={"reasoning_tokens": tokens})
    rows, methods = picked(run_dir, "length", len(tokens))
    assert len(rows) == len(tokens)  # the whole pool was asked for: the fill takes every trace the pass left
    passed = rows[np.array(methods) == "length"]  # the Bernoulli pass; the rest is labelled length:backfill
    kept = np.bincount(passed // per_bucket, minlength=len(lengths)) / per_bucket
    expected = np.minimum(1, (lengths / 5000) ** 2.5)
    sigma = np.sqrt(expected * (1 - expected) / per_bucket)
    assert np.all(np.abs(kept - expected) <= 4 * sigma + 1e-12), (kept, expected)
    assert kept[-1] == 1.0 and kept[-2] == 1.0  # anything >= 5,000 tokens is always kept
    np.testing.assert_allclose(keep_probability(np.array([1000.0, 3000.0, 5000.0])), [0.0179, 0.2789, 1.0], atol=1e-4)


def test_length_longest_mode_orders_by_length(run_dir: RunDir) -> None:
    rng = np.random.default_rng(3)
    tokens = rng.integers(10, 16_000, 3000)
    write_pool(run_dir, 3000, traces={"reasoning_tokens": tokens})
    rows, _ = picked(run_dir, "length(mode=longest)", 500)
    assert np.all(np.diff(tokens[rows]) <= 0)
    assert tokens[rows].min() >= np.sort(tokens)[-500]
    score = pq.read_table(run_dir.selection("length-mode-longest-500"))["score"].to_numpy()
    np.testing.assert_array_equal(score, tokens[rows])


def test_annotated_token_counts_take_precedence(run_dir: RunDir) -> None:
    n = 1000
    own = np.full(n, 100)
    annotated = np.where(np.arange(n) < 500, 20_000, 100)  # annotated as too long for the default filter
    write_pool(
        run_dir, n, traces={"reasoning_tokens": own, "completion_tokens": own + 10},
        annotations={"reasoning_tokens": annotated, "response_tokens": annotated + 10},
    )  # fmt: skip
    result = select(run_dir, method="random", size=10, force=True)
    assert result.eligible == 500
    assert result.notes["token_counts"]["response_tokens"] == {"annotations.response_tokens": n}
    assert (
        select(run_dir, method="filter:all,min_tokens(1000)", size=10, force=True).eligible == 500
    )  # reasoning: annotated count too


# ---- strategy ----------------------------------------------------------------------------------------------


def _strategy_pool(run: RunDir, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 12, n)
    density = rng.random(n) * 10
    write_pool(
        run, n,
        annotations={"strategies": strategy_lists(rng, counts), "n_strategies": counts, "strategy_density": density},
    )  # fmt: skip
    return counts, density


def test_strategy_bounds_hold_and_low_density_is_downsampled(run_dir: RunDir) -> None:
    counts, density = _strategy_pool(run_dir, 20_000)
    in_bounds = (counts >= 4) & (counts <= 8)
    threshold = np.quantile(density[in_bounds], 0.25)
    low, high = in_bounds & (density < threshold), in_bounds & (density >= threshold)

    rows, _ = picked(run_dir, "strategy", 20_000, allow_smaller=True)
    assert np.all((counts[rows] >= 4) & (counts[rows] <= 8))
    assert set(np.flatnonzero(high)) <= set(rows.tolist())  # dense traces are all kept
    kept_low = np.isin(np.flatnonzero(low), rows).sum()
    expected, sigma = 0.25 * low.sum(), np.sqrt(low.sum() * 0.25 * 0.75)
    assert abs(kept_low - expected) <= 4 * sigma

    rows, _ = picked(run_dir, "strategy(min=2,max=3,low_density_keep=0)", 20_000, allow_smaller=True, name="s23")
    assert set(counts[rows].tolist()) == {2, 3}
    in_23 = (counts >= 2) & (counts <= 3)
    assert density[rows].min() >= np.quantile(density[in_23], 0.25)


def test_strategy_coverage_covers_more_combinations_than_random(run_dir: RunDir) -> None:
    n = 5000
    rng = np.random.default_rng(1)
    counts = np.full(n, 5)
    lists = strategy_lists(rng, counts)
    common = ["s0", "s1", "s2", "s3", "s4"]
    lists = [common if i % 10 else lst for i, lst in enumerate(lists)]  # 90% share one combination
    write_pool(run_dir, n, annotations={"strategies": lists, "n_strategies": counts, "strategy_density": 1.0})
    combos = np.array(["|".join(sorted(x)) for x in lists])
    available = len(set(combos.tolist()))

    covered, _ = picked(run_dir, "strategy(mode=coverage)", 300)
    randomly, _ = picked(run_dir, "random", 300)
    n_covered, n_random = len(set(combos[covered])), len(set(combos[randomly]))
    assert n_covered == min(300, available)
    assert n_covered > n_random


# ---- topic -------------------------------------------------------------------------------------------------


def test_topic_counts_are_uniform_within_one(run_dir: RunDir) -> None:
    sizes = {"Biology": 3000, "Mathematics": 1500, "Physics": 700, "Law": 40}
    domains = np.repeat(list(sizes), list(sizes.values()))
    write_pool(run_dir, len(domains), annotations={"domain": domains})
    for size in (101, 160):
        rows, _ = picked(run_dir, "topic", size, name=f"topic{size}")
        counts = np.unique(domains[rows], return_counts=True)[1]
        assert counts.sum() == size and counts.max() - counts.min() <= 1


def test_topic_backfills_when_a_domain_runs_short(run_dir: RunDir) -> None:
    sizes = {"Biology": 3000, "Mathematics": 1500, "Physics": 700, "Law": 40}
    domains = np.repeat(list(sizes), list(sizes.values()))
    write_pool(run_dir, len(domains), annotations={"domain": domains})
    rows, _ = picked(run_dir, "topic", 1000)
    got = dict(zip(*np.unique(domains[rows], return_counts=True), strict=True))
    assert got["Law"] == 40  # the short domain gives all it has ...
    others = [got["Biology"], got["Mathematics"], got["Physics"]]
    assert sum(others) == 960 and max(others) - min(others) <= 1  # ... and the others share its quota


def test_topic_field_level(run_dir: RunDir) -> None:
    rng = np.random.default_rng(2)
    fields = rng.choice(["algebra", "optics", "genetics", "torts", "poetry"], 4000, p=[0.6, 0.2, 0.1, 0.07, 0.03])
    write_pool(run_dir, 4000, annotations={"domain": "Science", "field": fields})
    rows, _ = picked(run_dir, "topic(level=field)", 250)
    counts = np.unique(fields[rows], return_counts=True)[1]
    assert len(counts) == 5 and counts.max() - counts.min() <= 1


# ---- semantic ----------------------------------------------------------------------------------------------


def test_semantic_covers_clusters_uniformly(run_dir: RunDir) -> None:
    rng = np.random.default_rng(5)
    blob_sizes = np.array([1500, 900, 600, 400, 250, 150, 100, 60])
    dim = 32
    centres = np.linalg.qr(rng.normal(size=(dim, dim)))[0][: len(blob_sizes)]  # orthonormal: well apart
    blob = np.repeat(np.arange(len(blob_sizes)), blob_sizes)
    vectors = centres[blob] + rng.normal(scale=0.01, size=(len(blob), dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    order = rng.permutation(len(blob))
    blob, vectors = blob[order], vectors[order]
    write_pool(run_dir, len(blob), embeddings=vectors)
    rows, _ = picked(run_dir, "semantic(k=8)", 240)
    counts = np.bincount(blob[rows], minlength=len(blob_sizes))
    assert counts.max() - counts.min() <= 1, counts  # 30 per cluster although the pool is 25:1 skewed


# ---- verbosity, disagree, short-ref ------------------------------------------------------------------------


def test_verbosity_terciles(run_dir: RunDir) -> None:
    rng = np.random.default_rng(4)
    weights = np.r_[[0.02] * 3, [0.18] * 5, [0.02] * 3]
    verbosity = rng.choice(np.arange(11.0), 3000, p=weights / weights.sum())
    write_pool(run_dir, 3000, annotations={"verbosity": verbosity})
    subsets = {}
    for level in ("low", "medium", "high"):
        rows, _ = picked(run_dir, f"verbosity(level={level})", 3000, allow_smaller=True)
        subsets[level] = rows
        assert len(rows) == 1000  # equal thirds even though scores cluster on a few values
    assert len(np.unique(np.concatenate(list(subsets.values())))) == 3000
    assert verbosity[subsets["low"]].max() <= verbosity[subsets["medium"]].min()
    assert verbosity[subsets["medium"]].max() <= verbosity[subsets["high"]].min()
    assert verbosity[subsets["low"]].mean() < verbosity[subsets["high"]].mean() - 2


def test_disagreement_examples_come_first_then_backfill(run_dir: RunDir) -> None:
    rng = np.random.default_rng(6)
    disagree = rng.random(4000) < 0.2
    write_pool(run_dir, 4000, annotations={"disagree": disagree})
    n_disagree = int(disagree.sum())

    rows, _ = picked(run_dir, "disagree", 500)
    assert disagree[rows].all()

    rows, methods = picked(run_dir, "disagree", n_disagree + 300, name="with-backfill")
    assert disagree[rows[:n_disagree]].all() and not disagree[rows[n_disagree:]].any()
    assert methods[:n_disagree] == ["disagree"] * n_disagree
    assert set(methods[n_disagree:]) == {"disagree:backfill"}

    with pytest.raises(NotEnoughEligible, match=f"only {n_disagree} are eligible"):
        select(run_dir, method="disagree(backfill=false)", size=n_disagree + 1, force=True)


def test_short_reference_threshold(run_dir: RunDir) -> None:
    rng = np.random.default_rng(7)
    words = rng.integers(1, 12, 2000)
    answers = [" ".join(["x"] * int(w)) for w in words]
    answers[0] = None  # no reference: never eligible
    write_pool(run_dir, 2000, reference_answer=answers)
    rows, _ = picked(run_dir, "short-ref(max_words=3)", 2000, allow_smaller=True)
    short = np.flatnonzero(words <= 3)
    assert sorted(rows.tolist()) == [i for i in short.tolist() if i != 0]
    rows, _ = picked(run_dir, "short-ref", 2000, allow_smaller=True)
    assert words[rows].max() <= 5


# ---- composition and filters -------------------------------------------------------------------------------


def test_filters_then_disagree_then_strategy(run_dir: RunDir) -> None:
    rng = np.random.default_rng(8)
    n = 6000
    counts = rng.integers(0, 12, n)
    complete, correct, disagree = rng.random(n) < 0.9, rng.random(n) < 0.6, rng.random(n) < 0.25
    write_pool(
        run_dir, n, traces={"complete": complete},
        annotations={"n_strategies": counts, "strategy_density": rng.random(n), "correct": correct,
                     "disagree": disagree, "strategies": strategy_lists(rng, counts)},
    )  # fmt: skip
    rows, methods = picked(run_dir, "filter:complete,correct>disagree>strategy", 600)
    assert complete[rows].all() and correct[rows].all()
    assert np.all((counts[rows] >= 4) & (counts[rows] <= 8))
    first_backfill = int(np.argmin(disagree[rows]))
    assert disagree[rows[:first_backfill]].all() and not disagree[rows[first_backfill:]].any()
    assert set(methods) == {"disagree>strategy", "disagree:backfill>strategy"}


def test_disagree_then_topic_is_uniform_inside_the_tier(run_dir: RunDir) -> None:
    rng = np.random.default_rng(9)
    domains = rng.choice(["A", "B", "C"], 5000, p=[0.8, 0.15, 0.05])
    disagree = rng.random(5000) < 0.3
    write_pool(run_dir, 5000, annotations={"domain": domains, "disagree": disagree})
    rows, _ = picked(run_dir, "disagree>topic", 150)
    assert disagree[rows].all()
    counts = np.unique(domains[rows], return_counts=True)[1]
    assert counts.max() - counts.min() <= 1


def test_default_filter_and_how_to_change_it(run_dir: RunDir) -> None:
    n = 1000
    complete = np.arange(n) % 4 != 0  # 750 complete
    tokens = np.where(np.arange(n) % 5 == 0, 20_000, 1000)  # 200 too long
    write_pool(run_dir, n, traces={"complete": complete, "reasoning_tokens": tokens})
    both = int((complete & (tokens <= 16_384)).sum())
    assert select(run_dir, method="random", size=10, force=True).eligible == both
    assert select(run_dir, method="filter:all>random", size=10, force=True).eligible == n
    assert select(run_dir, method="random", size=10, default_filter=False, name="nodefault", force=True).eligible == n
    assert select(run_dir, method="filter:max_tokens(32768)", size=10, force=True).eligible == int(complete.sum())
    assert select(run_dir, method="filter:!complete", size=10, force=True).eligible == int(
        (~complete & (tokens <= 16_384)).sum()
    )
    assert select(run_dir, method="filter:min_tokens(5000)", size=10, allow_smaller=True, force=True).eligible == 0


def test_semantic_reads_embeddings_in_any_order_and_skips_traces_without_one(run_dir: RunDir) -> None:
    n, dim = 600, 8
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    trace_ids = write_pool(run_dir, n)
    order = rng.permutation(n)[: n - 50]  # 50 traces have no row; 25 more have a null vector
    column = pa.FixedSizeListArray.from_arrays(pa.array(vectors[order].ravel()), dim)
    column = pa.array([None if i < 25 else v for i, v in enumerate(column.to_pylist())], column.type)
    schema = embeddings_schema(dim).with_metadata({"model": "test", "dim": str(dim), "of": "question"})
    table = pa.Table.from_arrays(
        [pa.array([trace_ids[i] for i in order]), pa.array([f"q{i}" for i in order]), column], schema=schema
    )
    pq.write_table(table, run_dir.embeddings, row_group_size=128)
    with_vector = {int(i) for i in order[25:]}
    rows, _ = picked(run_dir, "semantic(k=4)", n, allow_smaller=True)
    assert set(rows.tolist()) == with_vector
    matrix, have = Pool.load(run_dir).embeddings()
    assert have.sum() == len(with_vector)
    np.testing.assert_array_equal(matrix[order[25:]], vectors[order[25:]])
