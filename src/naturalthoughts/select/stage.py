"""The select stage: read the pool, run an expression, write ``selections/NAME.parquet``.

:class:`SelectStage` follows the stage contract (:mod:`naturalthoughts.stage`): manifest key ``select:NAME``, config
:class:`SelectConfig`, inputs the tables the expression reads, output the selection file. The runner records the
manifest and skips a selection whose inputs and config are unchanged. :func:`select` is the notebook shortcut.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from naturalthoughts.atomic import write_parquet
from naturalthoughts.errors import BadInputError, Fix
from naturalthoughts.rundir import RunDir
from naturalthoughts.select.base import Context
from naturalthoughts.select.compare import describe
from naturalthoughts.select.config import SelectConfig
from naturalthoughts.select.expr import Call, Expression
from naturalthoughts.select.plan import Plan, backfill_counts, bind, eligible_rows, labels, order, scores
from naturalthoughts.select.pool import COLUMN_SOURCES, TOKEN_COLUMNS, Pool, StaleAnnotationsError
from naturalthoughts.shortcuts import shortcut
from naturalthoughts.stage import Stage, StageContext, StageResult
from naturalthoughts.tables import SELECTION

if TYPE_CHECKING:
    from naturalthoughts.pipeline import PipelinePlan

# Parquet options fixed here so the same selection is the same bytes (no timestamps are written).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_dictionary": ["method"], "write_statistics": True}
METADATA_PREFIX = "naturalthoughts.select."


class NotEnoughEligible(BadInputError):
    """Fewer traces are eligible than were asked for (exit code 4, bad input)."""


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
        return pq.read_table(self.path)


def human_size(size: int) -> str:
    for unit, scale in (("m", 1_000_000), ("k", 1000)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


# Characters the file name keeps as they are, and the expression's own punctuation (mapped to "-" or "+").
_KEPT = "A-Za-z0-9._+\\-"
_STRUCTURE = ":,()=>!"


def default_name(expression: str, size: int) -> str:
    """A file name from the expression and size: ``filter-complete-correct+disagree+strategy-10k``.

    ``>`` becomes ``+``, ``!`` becomes ``not-`` (so ``filter:!complete`` is not named like ``filter:complete``), other
    punctuation ``-``. When that would lose information (quoted values, spaces) or the name would be long, a short
    hash of the expression is appended, so different expressions get different names.
    """
    text = expression.replace(">", "+").replace("!", "not-")
    text = re.sub(f"[^{_KEPT}]+", "-", text).strip("-.+") or "selection"
    lossy = re.search(f"[^{_KEPT}{re.escape(_STRUCTURE)}]", expression) is not None
    if lossy or len(text) > 100:
        text = text[:90].rstrip("-.+") + "-" + hashlib.sha256(expression.encode()).hexdigest()[:8]
    return f"{text}-{human_size(size)}"


def naming_expression(plan: Plan, default_filter: bool) -> str:
    """The expression a default name is made from: the canonical text, with ``all`` first when the default filter is
    off (``random`` without the default filter is named ``filter-all+random-N``, not like ``random``)."""
    expression = plan.expression
    if default_filter or any(f.name == "all" for f in expression.filters):
        return expression.canonical()
    return Expression(expression.text, (Call("all", 0), *expression.filters), expression.methods).canonical()


def _funnel_text(funnel: dict[str, int]) -> str:
    return ", ".join(f"{step}: {count}" for step, count in funnel.items())


class SelectStage(Stage):
    """``nt select``: ``SelectStage(SelectConfig(method=EXPR, size=N, ...))`` -> ``selections/NAME.parquet``.

    The same pool, expression, size and seed give a byte-identical file. Raises :class:`NotEnoughEligible` when fewer
    traces are eligible than asked for (unless ``allow_smaller``), a ``MissingColumnError`` naming the command that
    produces a missing column and a ``StaleAnnotationsError`` naming the one that refreshes stale annotations.
    """

    name = "select"
    config_model = SelectConfig
    reads = ("traces.parquet", "annotations.parquet", "embeddings.parquet", "questions.parquet (as needed)")
    writes = ("selections/NAME.parquet",)

    def __init__(self, config: SelectConfig) -> None:
        super().__init__(config)
        self._plan: Plan | None = None

    @classmethod
    def pipeline_stages(cls, plan: PipelinePlan) -> list[Stage]:
        return [cls(config) for config in plan.selections]

    @property
    def cfg(self) -> SelectConfig:
        return self.config  # type: ignore[return-value]

    @property
    def plan(self) -> Plan:
        """The bound expression (raises an ``ExpressionError`` pointing at the bad token)."""
        if self._plan is None:
            self._plan = bind(self.cfg.method, default_filter=self.cfg.default_filter)
        return self._plan

    @property
    def selection_name(self) -> str:
        return self.cfg.name or default_name(naming_expression(self.plan, self.cfg.default_filter), self.cfg.size)

    @property
    def key(self) -> str:
        return f"select:{self.selection_name}"

    def recorded_config(self) -> dict[str, Any]:
        return {**super().recorded_config(), "name": self.selection_name, "expression": self.plan.text()}

    @classmethod
    def refresh_fix(cls, record: dict[str, Any], run: RunDir) -> Fix:
        """This stage with the recorded method, size, seed and name: it makes the same selection again."""
        return refresh_fix(record.get("config") or {}, record["stage"].split(":", 1)[-1], run)

    def check(self, run: RunDir) -> None:
        """Validate the expression, its parameters and the name; needs no table (``nt run`` calls it first)."""
        _ = self.plan  # binding checks every name and parameter, also when the selection has an explicit name
        _ = self.selection_name

    def inputs(self, run: RunDir) -> list[Path]:
        """The tables the expression reads: traces always; annotations, questions, embeddings as its columns need."""
        columns = self.plan.columns()
        tables = ["traces"] + [COLUMN_SOURCES[c][0] for c in columns]
        if run.annotations.exists() and _reads_annotations(run, columns):
            tables.append("annotations")
        return [getattr(run, t) for t in dict.fromkeys(tables)]

    def outputs(self, run: RunDir) -> list[Path]:
        return [run.selection(self.selection_name)]

    def run(self, ctx: StageContext) -> StageResult:
        config, plan, name = self.cfg, self.plan, self.selection_name
        with ctx.progress.task(f"select {name}", total=4, unit="steps") as task:
            pool = Pool.load(ctx.run)
            _require_columns(plan, pool)
            task.advance(1, stats="pool read")
            rows, funnel = eligible_rows(plan, pool)
            task.advance(1, stats=f"{len(rows):,} pass the filters")
            method_ctx = Context(pool=pool, rng=np.random.default_rng(config.seed), size=config.size, seed=config.seed)
            ordered = order(plan, method_ctx, rows)
            funnel["eligible"] = len(ordered)
            if len(ordered) < config.size and not config.allow_smaller:
                raise NotEnoughEligible(
                    f"asked for {config.size} traces but only {len(ordered)} are eligible for `{plan.text()}` "
                    f"({_funnel_text(funnel)}); ask for at most {len(ordered)}, or take them all: {{fix}}.",
                    fix=Fix("select", allow_smaller=True),
                )
            chosen = ordered[: config.size]
            task.advance(1, stats=f"{len(chosen):,} selected")
            table = _table(plan, method_ctx, chosen, config)
            path = write_parquet(table, ctx.run.selection(name), **PARQUET_OPTIONS)
            task.advance(1, stats=str(path))
        notes = dict(method_ctx.notes)
        backfill = backfill_counts(plan, method_ctx, chosen)
        if backfill:
            notes["backfill"] = backfill
        if pool.provenance:
            notes["token_counts"] = dict(pool.provenance)  # which count served the length filters, per trace
        _say_fill(ctx, backfill)
        statistics = describe(pool, chosen)
        result = SelectionResult(
            name=name, path=path, expression=plan.text(), size=config.size, seed=config.seed, eligible=len(ordered),
            selected=len(chosen), funnel=funnel, statistics=statistics, notes=notes,
        )  # fmt: skip
        return StageResult(
            counts={"pool": pool.n, "eligible": len(ordered), "selected": len(chosen)},
            outputs=[path],
            summary=f"{len(chosen):,} selected of {len(ordered):,} eligible -> {path}",
            extra={
                "output": str(path),
                "expression": plan.text(),
                "funnel": funnel,
                "statistics": statistics,
                "notes": notes,
            },
            value=result,
        )


def _reads_annotations(run: RunDir, columns: list[str]) -> bool:
    """Whether the columns come from annotations.parquet: annotation columns, the fingerprints it records for other
    annotator outputs (embeddings), or token counts the `length` annotator wrote (preferred over the traces')."""
    if any(COLUMN_SOURCES[c][1] is not None for c in columns):
        return True
    names = pq.read_schema(run.annotations).names
    return any(c in TOKEN_COLUMNS and c in names for c in columns)


def _require_columns(plan: Plan, pool: Pool) -> None:
    """Every column the plan reads exists, is current and has values. Stale annotations are reported together,
    with one command that refreshes them all."""
    users = [
        (column, f"{'filter' if bound in plan.filters else 'method'} `{bound.call.text()}`")
        for bound in (*plan.filters, *plan.methods)
        for column in bound.columns()
    ]
    for column, who in users:
        pool.require_present(column, who)
    stale = [a for c in plan.columns() if (a := pool.annotator_of(c)) and pool.freshness(a) != "current"]
    if (found := pool.stale_message(stale)) is not None:
        needs = ", ".join(f"`{c}`" for c in plan.columns() if pool.annotator_of(c) in stale)
        reasons, fix = found
        raise StaleAnnotationsError(f"`{plan.text()}` needs {needs}: {reasons}: run {{fix}} to refresh them.", fix=fix)
    for column, who in users:
        pool.require(column, who)


def _say_fill(ctx: StageContext, backfill: dict[str, dict[str, int]]) -> None:
    for stage, counts in backfill.items():
        if stage.startswith("length") and counts["backfill"]:
            ctx.progress.note(
                f"{stage}: {counts['first']:,} traces passed the length rule's Bernoulli pass; "
                f"{counts['backfill']:,} more were drawn without replacement with the same weights to reach the size"
            )


def _table(plan: Plan, ctx: Context, rows: np.ndarray, config: SelectConfig) -> pa.Table:
    score = scores(plan, ctx.pool, rows)
    table = pa.Table.from_arrays(
        [
            ctx.pool.trace_id.take(pa.array(rows)),
            pa.array(np.arange(len(rows), dtype=np.int64)),
            pa.array(score, mask=np.isnan(score)),
            labels(plan, ctx, rows),
        ],
        schema=SELECTION,
    )
    provenance = {
        "expression": plan.text(),
        "size": str(config.size),
        "seed": str(config.seed),
    }
    return table.replace_schema_metadata({f"{METADATA_PREFIX}{k}": v for k, v in provenance.items()})


def refresh_fix(config: dict[str, Any], name: str, run: RunDir) -> Fix:
    """The select stage that makes selection ``name`` again from its recorded ``config``."""
    return Fix("select", method=str(config.get("method") or "random"), size=str(config.get("size") or "N"),
               seed=config.get("seed") or 0, name=name, allow_smaller=bool(config.get("allow_smaller")),
               no_default_filter=config.get("default_filter") is False).at(run)  # fmt: skip


def stale_selections(run: RunDir) -> dict[str, Fix]:
    """Selections computed from older traces than ``traces.parquet`` now holds (their manifest record read another
    one): name -> what makes each again (its recorded method, size, seed and name)."""
    from naturalthoughts.staleness import made_from_older

    if not run.selections_dir.exists() or not run.traces.exists():
        return {}
    stale: dict[str, Fix] = {}
    for path in sorted(run.selections_dir.glob("*.parquet")):
        record = made_from_older(run, f"select:{path.stem}", run.traces.name)
        if record is not None:
            stale[path.stem] = refresh_fix(record.get("config") or {}, path.stem, run)  # type: ignore[arg-type]
    return stale


# The notebook shortcut: select(run, config=None, *, method=EXPR, size=N, ..., force=False, quiet=False)
# (naturalthoughts.shortcuts): keywords naming SelectConfig fields set them.
select = shortcut("select")
