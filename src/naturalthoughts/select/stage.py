"""The select stage: read the pool, run an expression, write ``selections/NAME.parquet``, record the manifest."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from naturalthoughts.atomic import write_parquet
from naturalthoughts.config import validate
from naturalthoughts.errors import NTError
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir
from naturalthoughts.select.base import Context
from naturalthoughts.select.compare import describe
from naturalthoughts.select.config import SelectConfig
from naturalthoughts.select.plan import Plan, bind, eligible_rows, labels, order, scores
from naturalthoughts.select.pool import COLUMN_SOURCES, Pool
from naturalthoughts.tables import SELECTION

# Parquet options fixed here so the same selection is the same bytes (no timestamps are written).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_dictionary": ["method"], "write_statistics": True}


class NotEnoughEligible(NTError):
    """Fewer traces are eligible than were asked for."""

    exit_code = 7


@dataclass
class SelectionResult:
    name: str
    path: Path
    expression: str  # the effective expression (default filter included)
    size: int
    seed: int
    eligible: int
    selected: int
    funnel: dict[str, int]
    statistics: dict[str, float]
    notes: dict[str, Any] = field(default_factory=dict)

    def read(self) -> pa.Table:
        import pyarrow.parquet as pq

        return pq.read_table(self.path)


def human_size(size: int) -> str:
    for unit, scale in (("m", 1_000_000), ("k", 1000)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


def default_name(expression: str, size: int) -> str:
    """A file name from the expression and size: ``filter-complete-correct+disagree+strategy-10k``."""
    text = re.sub(r"[^A-Za-z0-9._+\-]+", "-", expression.replace(">", "+")).strip("-.+") or "selection"
    if len(text) > 100:  # keep names short but distinct
        text = text[:90].rstrip("-.+") + "-" + hashlib.sha256(expression.encode()).hexdigest()[:8]
    return f"{text}-{human_size(size)}"


def _funnel_text(funnel: dict[str, int]) -> str:
    return ", ".join(f"{step}: {count}" for step, count in funnel.items())


def _table(plan: Plan, pool: Pool, rows: np.ndarray, config: SelectConfig) -> pa.Table:
    score = scores(plan, pool, rows)
    table = pa.Table.from_arrays(
        [
            pool.trace_id.take(pa.array(rows)),
            pa.array(np.arange(len(rows), dtype=np.int64)),
            pa.array(score, mask=np.isnan(score)),
            labels(plan, pool, rows),
        ],
        schema=SELECTION,
    )
    provenance = {"expression": plan.text(), "size": str(config.size), "seed": str(config.seed)}
    return table.replace_schema_metadata({f"naturalthoughts.select.{k}": v for k, v in provenance.items()})


def _inputs(run: RunDir, plan: Plan) -> list[Path]:
    tables = ["traces"] + [COLUMN_SOURCES[c][0] for c in plan.columns()]
    if run.annotations.exists():
        tables.append("annotations")  # reasoning_tokens prefer the annotated count
    return [getattr(run, t) for t in dict.fromkeys(tables)]


def select(
    run: RunDir | str,
    expr: str,
    size: int,
    seed: int = 0,
    name: str | None = None,
    allow_smaller: bool = False,
    default_filter: bool = True,
) -> SelectionResult:
    """Select ``size`` traces of ``run`` with the expression ``expr`` (see docs/selection.md).

    Writes ``selections/NAME.parquet`` (trace_id, rank, score, method) and a ``select:NAME`` manifest record.
    The same pool, expression, size and seed give a byte-identical file.
    """
    run = RunDir(run) if not isinstance(run, RunDir) else run
    config = validate(
        SelectConfig,
        {"method": expr, "size": size, "seed": seed, "name": name, "allow_smaller": allow_smaller,
         "default_filter": default_filter},
        source="nt select options",
    )  # fmt: skip
    plan = bind(config.method, default_filter=config.default_filter)
    name = config.name or default_name(plan.expression.canonical(), config.size)
    pool = Pool.load(run)
    for bound in (*plan.filters, *plan.methods):
        kind = "filter" if bound in plan.filters else "method"
        for column in bound.columns():
            pool.require(column, f"{kind} `{bound.call.text()}`")
    record_config = config.model_dump() | {"name": name, "expression": plan.text()}
    with Manifest(run.manifest).stage(f"select:{name}", config=record_config, inputs=_inputs(run, plan)) as record:
        rows, funnel = eligible_rows(plan, pool)
        ctx = Context(pool=pool, rng=np.random.default_rng(config.seed), size=config.size, seed=config.seed)
        ordered = order(plan, ctx, rows)
        funnel["eligible"] = len(ordered)
        record.extra["funnel"] = funnel
        if len(ordered) < config.size and not config.allow_smaller:
            raise NotEnoughEligible(
                f"asked for {config.size} traces but only {len(ordered)} are eligible for `{plan.text()}` "
                f"({_funnel_text(funnel)}); ask for at most {len(ordered)} or pass --allow-smaller to take them all."
            )
        chosen = ordered[: config.size]
        path = write_parquet(_table(plan, pool, chosen, config), run.selection(name), **PARQUET_OPTIONS)
        statistics = describe(pool, chosen)
        record.counts = {"pool": pool.n, "eligible": len(ordered), "selected": len(chosen)}
        record.extra.update({"output": str(path), "statistics": statistics, "notes": ctx.notes})
    return SelectionResult(
        name=name, path=path, expression=plan.text(), size=config.size, seed=config.seed, eligible=len(ordered),
        selected=len(chosen), funnel=funnel, statistics=statistics, notes=ctx.notes,
    )  # fmt: skip
