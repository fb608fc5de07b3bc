"""Agreement between two strategy annotators (e.g. lexical vs llm), per strategy.

Both annotators run over the same traces (model replies come from the run's cache when present).
For each strategy, presence in a trace is a yes/no label; with ``b`` as the reference, the report
gives ``a``'s precision and recall and Cohen's kappa (chance-corrected agreement). Traces that either
annotator could not label are left out and counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from naturalthoughts.annotate.base import AnnotateContext
from naturalthoughts.annotate.config import AnnotateConfig
from naturalthoughts.annotate.registry import ANNOTATORS, annotator_class
from naturalthoughts.annotate.strategies import STRATEGY_NAMES
from naturalthoughts.errors import ConfigError
from naturalthoughts.rundir import RunDir
from naturalthoughts.shortcuts import shortcut
from naturalthoughts.stage import Stage, StageContext, StageResult, Usage


@dataclass
class StrategyAgreement:
    strategy: str
    support_a: int  # traces where a found it
    support_b: int  # traces where b found it
    precision: float | None  # of a, against b
    recall: float | None
    kappa: float | None  # None when undefined (both annotators constant on this strategy)


@dataclass
class CompareReport:
    a: str
    b: str
    rows: int  # traces both labelled
    skipped: int  # traces left out because a or b failed on them
    per_strategy: list[StrategyAgreement] = field(default_factory=list)
    methods: dict[str, str] = field(default_factory=dict)

    def as_dicts(self) -> list[dict[str, object]]:
        return [vars(s) for s in self.per_strategy]


def agreement(labels_a: list[list[str] | None], labels_b: list[list[str] | None], a: str, b: str) -> CompareReport:
    """Per-strategy precision/recall (of a against b) and Cohen's kappa over traces both labelled."""
    # Imported here: scikit-learn takes seconds to import and only this comparison needs it.
    from sklearn.metrics import cohen_kappa_score, precision_score, recall_score

    both = [(x, y) for x, y in zip(labels_a, labels_b, strict=True) if x is not None and y is not None]
    report = CompareReport(a=a, b=b, rows=len(both), skipped=len(labels_a) - len(both))
    for name in STRATEGY_NAMES:
        ya = np.array([name in x for x, _ in both], dtype=int)
        yb = np.array([name in y for _, y in both], dtype=int)
        precision = recall = kappa = None
        if len(both):
            precision = float(precision_score(yb, ya, zero_division=np.nan))
            recall = float(recall_score(yb, ya, zero_division=np.nan))
            kappa = float(cohen_kappa_score(ya, yb)) if len(set(ya) | set(yb)) > 1 else None
        report.per_strategy.append(
            StrategyAgreement(name, int(ya.sum()), int(yb.sum()), _finite(precision), _finite(recall), _finite(kappa))
        )
    return report


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


class CompareStage(Stage):
    """``nt annotate --compare A,B``: agreement of two strategy methods; writes no annotations (so it always runs)."""

    name = "annotate-compare"
    config_model = AnnotateConfig
    reads = ("traces.parquet",)

    def __init__(self, config: AnnotateConfig | None = None, *, a: str, b: str, limit: int | None = None) -> None:
        super().__init__(config, a=a, b=b, limit=limit)

    def check(self, run: RunDir) -> None:
        for method in (self.args["a"], self.args["b"]):
            if method not in ANNOTATORS["strategies"]:
                choices = ", ".join(ANNOTATORS["strategies"])
                raise ConfigError(f"the compared methods must be strategy methods: {choices} (got {method!r})")

    def inputs(self, run: RunDir) -> list[Path]:
        return [run.traces]

    def outputs(self, run: RunDir) -> list[Path]:
        return []

    def run(self, ctx: StageContext) -> StageResult:
        config: AnnotateConfig = self.config  # type: ignore[assignment]
        a, b, limit = self.args["a"], self.args["b"], self.args["limit"]
        traces = pq.read_table(ctx.run.require("traces"), columns=["trace_id", "reasoning"])
        if limit is not None:
            traces = traces.slice(0, limit)
        traces = traces.append_column("reasoning_tokens", pa.nulls(traces.num_rows, pa.int64()))
        actx = AnnotateContext(
            run=ctx.run, config=config, progress=ctx.progress, should_stop=ctx.should_stop, rows=traces.num_rows
        )
        labels: dict[str, list[list[str] | None]] = {}
        methods: dict[str, str] = {}
        counts: dict[str, int] = {}
        try:
            for method in (a, b):
                annotator = annotator_class("strategies", method)(actx)
                labels[method] = []
                for start in range(0, traces.num_rows, config.batch_rows):
                    batch = traces.slice(start, config.batch_rows)
                    labels[method] += list(annotator.annotate(batch)["strategies"])
                annotator.finish()
                methods[method] = annotator.method
                counts.update({f"{method}.{k}": v for k, v in annotator.counts.items()})
        finally:
            usage = actx.usage()
            actx.close()
        report = agreement([_as_list(x) for x in labels[a]], [_as_list(x) for x in labels[b]], a, b)
        report.methods = methods
        return StageResult(
            counts={**counts, "rows": report.rows, "skipped": report.skipped},
            usage=Usage.from_dict(usage),
            summary=f"{a} vs {b} over {report.rows:,} traces ({report.skipped:,} left out)",
            extra={"agreement": report.as_dicts(), "methods": methods},
            value=report,
        )


# The notebook shortcut: compare(run, config=None, *, a="lexical", b="llm", limit=None) (naturalthoughts.shortcuts)
compare = shortcut("annotate-compare")


def _as_list(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, pa.Scalar):
        return value.as_py()
    return list(value)  # type: ignore[call-overload]


__all__ = ["CompareReport", "CompareStage", "StrategyAgreement", "agreement", "compare"]
