"""Statistics a reviewer accepts: paired differences between models evaluated on the same items, with standard
errors clustered by item and a cluster bootstrap confidence interval; beside accuracy, the no-answer rate and the
accuracy among answered samples, so a format effect (a model that answers more often) shows as such.

Used by ``nt eval compare``, the study table and the report, always the same way:

- **Pairing.** Two models' samples pair when they answered the same request: the same benchmark, mode, thinking
  budget, item and evaluation seed (and, for study groups, the same training seed; a model without one, the base
  student, pairs with every training seed of the other). Only samples graded on both sides count: a failed request
  or a sample the judge gave no verdict for drops the pair. A sample with no answer is graded (wrong) and counts.
- **Standard error.** Samples of one item are not independent (seeds, training seeds), so the standard error of a
  mean is clustered by item: ``sqrt(C / (C - 1) * sum_c (sum_{i in c} (x_i - mean))^2) / N`` for ``N`` samples in
  ``C`` items (Miller 2024, "Adding error bars to evals"). With one sample per item it is the usual
  ``stdev / sqrt(N)``; with equal cluster sizes, the standard deviation of the item means over ``sqrt(C)``.
- **Paired difference** ``b - a`` of accuracy: the clustered standard error of the per-sample differences, which
  removes the variance the two models share (easy and hard items). ``significant`` means larger than 2 SE.
- **Bootstrap CI.** Items are resampled with replacement (``resamples`` times, seeded, so a table is reproducible);
  the percentile interval of the difference, and of the difference in accuracy among answered samples (a ratio,
  whose denominators differ between models: no closed-form paired SE is given for it).

The record fields read are those of ``eval/NAME/samples.parquet``: ``benchmark, mode, budget, item_id, seed,
correct, extracted, valid, error``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

RESAMPLES = 2000  # bootstrap resamples: the CI's Monte Carlo error is about 1% of its width
CONFIDENCE = 0.95
SIGNIFICANT_SE = 2.0  # "larger than 2 SE" marks a difference


# ---- means with clustered standard errors ------------------------------------------------------------------------
@dataclass(frozen=True)
class Estimate:
    """A mean over samples with its standard error clustered by item."""

    mean: float
    stderr: float | None  # None with fewer than two clusters
    samples: int
    clusters: int


def _clustered_stderr(values: np.ndarray, codes: np.ndarray, n_clusters: int) -> float | None:
    if n_clusters < 2:
        return None
    residual_sums = np.bincount(codes, weights=values - values.mean(), minlength=n_clusters)
    variance = n_clusters / (n_clusters - 1) * float(np.sum(residual_sums**2)) / len(values) ** 2
    return math.sqrt(variance)


def _codes(clusters: Sequence[Hashable] | None, n: int) -> tuple[np.ndarray, int]:
    """Cluster labels as 0..C-1 (every sample its own cluster when none are given)."""
    if clusters is None:
        return np.arange(n), n
    index: dict[Hashable, int] = {}
    codes = np.fromiter((index.setdefault(c, len(index)) for c in clusters), dtype=np.int64, count=n)
    return codes, len(index)


def clustered_mean(values: Sequence[float], clusters: Sequence[Hashable] | None = None) -> Estimate:
    """The mean of ``values`` and its standard error clustered by ``clusters`` (one label per value; None: every
    value its own cluster, the usual ``stdev / sqrt(n)``)."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        raise ValueError("no values")
    codes, n_clusters = _codes(clusters, array.size)
    return Estimate(float(array.mean()), _clustered_stderr(array, codes, n_clusters), int(array.size), n_clusters)


# ---- pairing -----------------------------------------------------------------------------------------------------
def graded(record: dict[str, Any]) -> bool:
    """A sample that counts: the request succeeded and it has a verdict (no answer is a verdict: wrong)."""
    return record.get("error") is None and record.get("correct") is not None


def answered(record: dict[str, Any]) -> bool:
    """The sample gave an answer: one was extracted and it is a possible one (not a letter outside the options)."""
    return record.get("extracted") is not None and record.get("valid") is not False


COMPARISON_KEY = ("benchmark", "mode", "budget")  # what two models are compared on
REQUEST_KEY = ("item_id", "seed")  # which samples of the two pair up within a comparison


@dataclass(frozen=True)
class Pairs:
    """Paired samples of models a and b: per pair its item (the cluster), correctness and whether each answered."""

    items: list[Hashable]
    correct_a: np.ndarray
    correct_b: np.ndarray
    answered_a: np.ndarray
    answered_b: np.ndarray

    def __len__(self) -> int:
        return len(self.items)


def pair(
    records_a: Iterable[dict[str, Any]], records_b: Iterable[dict[str, Any]], replicate: str | None = None
) -> Pairs:
    """The samples of a and b (one comparison: same benchmark, mode and budget) answered on the same requests.

    ``replicate`` names a field that repeats a model (a study group's training seed): samples pair only within the
    same replicate, and a side whose replicate is None (the base student) pairs with every replicate of the other.
    """
    side_a: dict[tuple[Any, ...], dict[str, Any]] = {}
    a_by_request: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in filter(graded, records_a):
        request = tuple(r[k] for k in REQUEST_KEY)
        side_a[(r.get(replicate) if replicate else None, *request)] = r
        a_by_request[request].append(r)
    matched: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for b in filter(graded, records_b):
        request = tuple(b[k] for k in REQUEST_KEY)
        rep = b.get(replicate) if replicate else None
        if rep is None:  # b has no replicates: every replicate of a on this request pairs with it
            matched += [(a, b) for a in a_by_request.get(request, [])]
        elif (a := side_a.get((rep, *request)) or side_a.get((None, *request))) is not None:
            matched.append((a, b))
    return Pairs(
        items=[a["item_id"] for a, _ in matched],
        correct_a=np.array([bool(a["correct"]) for a, _ in matched], dtype=float),
        correct_b=np.array([bool(b["correct"]) for _, b in matched], dtype=float),
        answered_a=np.array([answered(a) for a, _ in matched], dtype=float),
        answered_b=np.array([answered(b) for _, b in matched], dtype=float),
    )


# ---- the paired comparison ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairedDifference:
    """Model b against model a on the samples they share: accuracy, no-answer rate and accuracy among answered
    samples of each, the difference ``b - a`` with its clustered paired SE and bootstrap CI."""

    a: str
    b: str
    samples: int  # paired samples
    items: int  # distinct items among them (the clusters)
    accuracy_a: float
    accuracy_b: float
    difference: float  # accuracy_b - accuracy_a
    stderr: float | None
    ci_low: float | None
    ci_high: float | None
    no_answer_a: float
    no_answer_b: float
    no_answer_difference: float
    no_answer_stderr: float | None
    answered_accuracy_a: float | None  # None when a never answered
    answered_accuracy_b: float | None
    answered_difference: float | None
    answered_ci_low: float | None
    answered_ci_high: float | None
    confidence: float = CONFIDENCE
    resamples: int = RESAMPLES

    @property
    def z(self) -> float | None:
        """The difference in standard errors (None when the SE is zero or unknown)."""
        return self.difference / self.stderr if self.stderr else None

    @property
    def significant(self) -> bool:
        """Larger than 2 paired standard errors."""
        return self.stderr is not None and abs(self.difference) > SIGNIFICANT_SE * self.stderr


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def compare(
    pairs: Pairs, a: str, b: str, resamples: int = RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
) -> PairedDifference | None:
    """The paired comparison of ``pairs`` (None when no sample pairs)."""
    n = len(pairs)
    if n == 0:
        return None
    codes, n_items = _codes(pairs.items, n)
    difference = pairs.correct_b - pairs.correct_a
    no_answer_difference = pairs.answered_a - pairs.answered_b  # (1 - answered_b) - (1 - answered_a)
    hits_a, hits_b = pairs.correct_a * pairs.answered_a, pairs.correct_b * pairs.answered_b
    answered_a, answered_b = _ratio(hits_a.sum(), pairs.answered_a.sum()), _ratio(hits_b.sum(), pairs.answered_b.sum())
    low, high, answered_low, answered_high = _bootstrap(
        codes, n_items, difference, (hits_a, pairs.answered_a, hits_b, pairs.answered_b), resamples, confidence, seed
    )
    return PairedDifference(
        a=a,
        b=b,
        samples=n,
        items=n_items,
        accuracy_a=float(pairs.correct_a.mean()),
        accuracy_b=float(pairs.correct_b.mean()),
        difference=float(difference.mean()),
        stderr=_clustered_stderr(difference, codes, n_items),
        ci_low=low,
        ci_high=high,
        no_answer_a=1.0 - float(pairs.answered_a.mean()),
        no_answer_b=1.0 - float(pairs.answered_b.mean()),
        no_answer_difference=float(no_answer_difference.mean()),
        no_answer_stderr=_clustered_stderr(no_answer_difference, codes, n_items),
        answered_accuracy_a=answered_a,
        answered_accuracy_b=answered_b,
        answered_difference=None if answered_a is None or answered_b is None else answered_b - answered_a,
        answered_ci_low=answered_low,
        answered_ci_high=answered_high,
        confidence=confidence,
        resamples=resamples,
    )


def _bootstrap(
    codes: np.ndarray,
    n_items: int,
    difference: np.ndarray,
    answered_parts: tuple[np.ndarray, ...],
    resamples: int,
    confidence: float,
    seed: int,
) -> tuple[float | None, ...]:
    """Percentile intervals over item resamples: of the mean difference, and of the difference in accuracy among
    answered samples. A resample weights each item by how often it was drawn (multinomial counts), so a mean is
    ``counts @ item_sums / counts @ item_sizes``."""
    if resamples <= 0 or n_items < 2:
        return None, None, None, None
    sums = [
        np.bincount(codes, weights=v, minlength=n_items) for v in (np.ones(len(codes)), difference, *answered_parts)
    ]
    size, diff, hits_a, ans_a, hits_b, ans_b = sums
    rng = np.random.default_rng(seed)
    means, answered = [], []
    for start in range(0, resamples, 500):  # bounded memory: 500 x items counts at a time
        counts = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=min(500, resamples - start))
        counts = counts.astype(float)
        means.append(counts @ diff / (counts @ size))
        with np.errstate(invalid="ignore", divide="ignore"):
            answered.append(counts @ hits_b / (counts @ ans_b) - counts @ hits_a / (counts @ ans_a))
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(np.concatenate(means), [tail, 100 - tail])
    finite = np.concatenate(answered)
    finite = finite[np.isfinite(finite)]
    if finite.size < 0.9 * resamples:  # too many resamples without an answer on one side: no interval
        return float(low), float(high), None, None
    answered_low, answered_high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high), float(answered_low), float(answered_high)


# ---- every pair of models ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """One paired difference on one benchmark, mode and budget."""

    benchmark: str
    mode: str
    budget: int | None
    result: PairedDifference


def comparisons(
    records_by_model: dict[str, list[dict[str, Any]]],
    pairs: Iterable[tuple[str, str]] | None = None,
    replicate: str | None = None,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
) -> list[Comparison]:
    """Paired differences for every pair of models (``pairs``: which, as (a, b) with the difference ``b - a``;
    default: every pair, in the order the models are given) on every benchmark, mode and budget both evaluated."""
    grouped: dict[str, dict[tuple[Any, ...], list[dict[str, Any]]]] = {}
    for model, records in records_by_model.items():
        by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
        for r in records:
            by_key[tuple(r[k] for k in COMPARISON_KEY)].append(r)
        grouped[model] = by_key
    names = list(records_by_model)
    chosen = list(pairs) if pairs is not None else [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    out = []
    for a, b in chosen:
        for key in (k for k in grouped.get(a, {}) if k in grouped.get(b, {})):
            result = compare(pair(grouped[a][key], grouped[b][key], replicate), a, b, resamples, confidence)
            if result is not None:
                out.append(Comparison(*key, result=result))
    return out


# ---- text --------------------------------------------------------------------------------------------------------
def points(value: float | None, signed: bool = False) -> str:
    """A share as percentage points with one decimal (``+4.2`` when signed); ``–`` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}"


def difference_text(d: PairedDifference, mark: bool = True) -> str:
    """``+10.0 ± 3.8 *``: the difference and its paired SE in points, marked when larger than 2 SE."""
    text = points(d.difference, signed=True) + (f" ± {100 * d.stderr:.1f}" if d.stderr is not None else "")
    return text + (" *" if mark and d.significant else "")


def interval_text(low: float | None, high: float | None) -> str:
    return "–" if low is None or high is None else f"[{points(low, True)}, {points(high, True)}]"


PAIRED_HEADER = [
    "benchmark",
    "mode",
    "a",
    "b",
    "items",
    "pairs",
    "acc a %",
    "acc b %",
    "b − a (pts ± SE)",
    "95% CI",
    "no answer a %",
    "no answer b %",
    "acc answered a %",
    "acc answered b %",
    "answered b − a (95% CI)",
]
PAIRED_NOTE = (
    "Paired on the same items (and seeds): b − a in accuracy points ± the paired standard error clustered by item, "
    "* when larger than 2 SE; 95% CI: item bootstrap (percentile). No answer: no answer extracted (or an impossible "
    "one); acc answered: accuracy among the samples that answered. A difference that comes with a no-answer "
    "difference and equal accuracy among answered samples is a format effect (answering at all), not answering right."
)


def mode_label(mode: str, budget: int | None) -> str:
    return mode if budget is None else f"{mode}@{budget}"


def paired_rows(found: Sequence[Comparison]) -> list[list[str]]:
    """The comparisons as table rows under :data:`PAIRED_HEADER`."""
    rows = []
    for c in found:
        d = c.result
        answered = (
            "–"
            if d.answered_difference is None
            else (f"{points(d.answered_difference, True)} {interval_text(d.answered_ci_low, d.answered_ci_high)}")
        )
        rows.append(
            [
                c.benchmark,
                mode_label(c.mode, c.budget),
                d.a,
                d.b,
                str(d.items),
                str(d.samples),
                points(d.accuracy_a),
                points(d.accuracy_b),
                difference_text(d),
                interval_text(d.ci_low, d.ci_high),
                points(d.no_answer_a),
                points(d.no_answer_b),
                points(d.answered_accuracy_a),
                points(d.answered_accuracy_b),
                answered,
            ]
        )
    return rows


PAIRED_FIELDS = ["benchmark", "mode", "budget", *(f.name for f in fields(PairedDifference)), "z", "significant"]


def from_records(records: Iterable[dict[str, Any]]) -> list[Comparison]:
    """:func:`paired_records` read back (from a CSV: empty or NaN values are None)."""
    names = {f.name for f in fields(PairedDifference)}
    out = []
    for record in records:
        clean = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in record.items()}
        budget = clean.get("budget")
        result = PairedDifference(**{k: v for k, v in clean.items() if k in names})
        out.append(Comparison(clean["benchmark"], clean["mode"], None if budget is None else int(budget), result))
    return out


def paired_records(found: Sequence[Comparison]) -> list[dict[str, Any]]:
    """The comparisons as flat records (CSV, pandas): every field of :class:`PairedDifference`, plus z and
    significant."""
    return [
        {
            "benchmark": c.benchmark,
            "mode": c.mode,
            "budget": c.budget,
            **asdict(c.result),
            "z": c.result.z,
            "significant": c.result.significant,
        }
        for c in found
    ]


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)
