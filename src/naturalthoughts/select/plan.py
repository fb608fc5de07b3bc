"""Bind a parsed expression to the registered filters and methods, then run it over a pool.

Semantics of ``filter:F1,F2>A>B>C``:

1. The pool is every trace in ``traces.parquet`` without an error (a failed request is never selectable, whatever
   the filters). Filters narrow it: a trace is eligible when every filter term keeps it. The default filter
   ``complete,max_tokens(16384)`` is added unless a term of the same name is given (which replaces it), the term
   ``all`` appears, or the default filter is turned off. ``!all`` would keep nothing and is refused.
2. Traces with a null in a column some method reads are not eligible (the manifest records how many).
3. ``A`` orders the eligible traces, handing sub-sets to ``B>C`` to be ordered (see
   :mod:`naturalthoughts.select.base`); the rightmost method's sub-sets are shuffled. No method means ``random``.
4. The selection is the first N of the order: ``rank`` is the position, ``score`` the leftmost method's score,
   ``method`` the method stages, with ``NAME:backfill`` where a tier method took the trace only to backfill.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import ValidationError

from naturalthoughts.config import StrictModel
from naturalthoughts.select.base import Context, Filter, Inner, Method, Rows, shuffle, shuffler
from naturalthoughts.select.expr import Call, Expression, expression_error, parse
from naturalthoughts.select.filters import DEFAULT_FILTER, FILTERS
from naturalthoughts.select.pool import Pool
from naturalthoughts.select.registry import METHODS


@dataclass(frozen=True)
class Bound:
    call: Call
    spec: Method | Filter
    params: Any

    def columns(self) -> list[str]:
        return self.spec.columns(self.params)


@dataclass(frozen=True)
class Plan:
    expression: Expression
    filters: tuple[Bound, ...]
    methods: tuple[Bound, ...]

    def text(self) -> str:
        """The effective expression, default filter included (``filter:all`` when no filter applies, so it never
        reads like the default-filtered expression)."""
        filters = ",".join(f.call.text() for f in self.filters) or "all"
        return f"filter:{filters}>{self.method_text()}"

    def method_text(self) -> str:
        return ">".join(m.call.text() for m in self.methods) or "random"

    def columns(self) -> list[str]:
        """Every column the plan reads, in order of first use."""
        return list(dict.fromkeys(c for b in (*self.filters, *self.methods) for c in b.columns()))


def _bind_call(text: str, call: Call, registry: Mapping[str, Method | Filter], kind: str) -> Bound:
    spec = registry.get(call.name)
    if spec is None:
        close = difflib.get_close_matches(call.name, list(registry), n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        raise expression_error(text, call.pos, f"unknown {kind} `{call.name}`{hint} (known: {', '.join(registry)})")
    return Bound(call, spec, _params(text, call, spec.params, kind))


def _params(text: str, call: Call, model: type[StrictModel], kind: str) -> Any:
    fields = list(model.model_fields)
    values: dict[str, str] = {}
    positions: dict[str, int] = {}
    for i, (key, value, pos) in enumerate(call.args):
        if key is None:
            if i >= len(fields) or any(k for k, _, _ in call.args[:i]):
                message = f"unexpected value {value!r} for {kind} `{call.name}`; name it: key=value"
                raise expression_error(text, pos, message)
            key = fields[i]
        values[key], positions[key] = value, pos
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        fields_text = (f"{n}" if f.is_required() else f"{n}={f.default}" for n, f in model.model_fields.items())
        allowed = ", ".join(fields_text)
        problems, bad_keys = [], set()
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            bad_keys.add(str(err["loc"][0]) if err["loc"] else "")
            problems.append(
                f"unknown parameter `{where}`" if err["type"] == "extra_forbidden" else f"{where}: {err['msg']}"
            )
        pos = next((p for k, p in positions.items() if k in bad_keys), call.pos)
        accepts = f"accepts: {allowed}" if allowed else "takes no parameters"
        raise expression_error(text, pos, f"{kind} `{call.name}`: {'; '.join(problems)} ({accepts})") from None


def bind(text: str, default_filter: bool = True) -> Plan:
    """Parse ``text`` and check every name and parameter; raises an error pointing at the bad token."""
    expression = parse(text)
    filters = [_bind_call(text, call, FILTERS, "filter") for call in expression.filters]
    methods = [_bind_call(text, call, METHODS, "method") for call in expression.methods]
    for bound in methods[:-1]:
        if bound.spec.terminal:  # type: ignore[union-attr]
            message = f"nothing may follow `{bound.call.name}`: it ignores later stages"
            raise expression_error(text, bound.call.pos, message)
    for bound in filters:
        if bound.call.name == "all" and bound.call.negated:
            message = "`!all` would keep no trace; use `all` to keep every trace and drop the default filter"
            raise expression_error(text, bound.call.pos, message)
    given = {f.call.name for f in filters}
    if default_filter and "all" not in given:
        default_text = f"filter:{DEFAULT_FILTER}"
        defaults = [_bind_call(default_text, c, FILTERS, "filter") for c in parse(default_text).filters]
        filters = [d for d in defaults if d.call.name not in given] + filters
    filters = [f for f in filters if f.call.name != "all"]
    return Plan(expression, tuple(filters), tuple(methods))


def eligible_rows(plan: Plan, pool: Pool) -> tuple[Rows, dict[str, int]]:
    """Rows passing every filter and with every method column present, and how many survive each step."""
    funnel = {"pool": pool.n}
    keep = pool.without_error()
    funnel["without error"] = int(keep.sum())
    for bound in plan.filters:
        mask = bound.spec.mask(pool, bound.params)  # type: ignore[union-attr]
        keep &= ~mask if bound.call.negated else mask
        funnel[f"filter:{bound.call.text()}"] = int(keep.sum())
    for column in dict.fromkeys(c for m in plan.methods for c in m.columns()):
        keep &= pool.valid(column)
        funnel[f"has {column}"] = int(keep.sum())
    return np.flatnonzero(keep), funnel


def order(plan: Plan, ctx: Context, rows: Rows) -> Rows:
    """All eligible rows the methods keep, best first."""
    if not plan.methods:
        return shuffle(ctx.rng, rows)

    def stage(i: int) -> Inner:
        if i == len(plan.methods):
            return shuffler(ctx.rng)
        bound, inner = plan.methods[i], stage(i + 1)
        return lambda r: bound.spec.order(ctx, r, bound.params, inner)  # type: ignore[union-attr]

    return stage(0)(rows)


def scores(plan: Plan, pool: Pool, rows: Rows) -> np.ndarray:
    """The leftmost method score that is not NaN for each row (NaN when no method scores)."""
    out = np.full(len(rows), np.nan)
    for bound in plan.methods:
        if bound.spec.score is not None:  # type: ignore[union-attr]
            out = np.where(np.isnan(out), np.asarray(bound.spec.score(pool, rows, bound.params), float), out)  # type: ignore[union-attr]
    return out


def _backfilled(plan: Plan, ctx: Context, rows: Rows) -> list[np.ndarray | None]:
    """For each method stage: which of ``rows`` it took only to backfill (None for methods that never do)."""
    out: list[np.ndarray | None] = []
    for bound in plan.methods:
        fallback = bound.spec.fallback  # type: ignore[union-attr]
        out.append(None if fallback is None else np.asarray(fallback(ctx, rows, bound.params), bool))
    return out


def backfill_counts(plan: Plan, ctx: Context, rows: Rows) -> dict[str, dict[str, int]]:
    """``{stage: {"first": n, "backfill": m}}`` for each stage that can backfill: where the selected rows came from
    (for ``length``: the Bernoulli pass, then the weighted fill; for ``disagree``: the disagreement tier, then the
    rest)."""
    counts = {}
    for bound, fell_back in zip(plan.methods, _backfilled(plan, ctx, rows), strict=True):
        if fell_back is not None:
            counts[bound.call.text()] = {"first": int((~fell_back).sum()), "backfill": int(fell_back.sum())}
    return counts


def labels(plan: Plan, ctx: Context, rows: Rows) -> pa.Array:
    """The ``method`` column: stage texts joined by ``>``, with ``:backfill`` where a method backfilled."""
    parts = [b.call.text() for b in plan.methods] or ["random"]
    bits = np.zeros(len(rows), dtype=np.int64)
    for i, fell_back in enumerate(_backfilled(plan, ctx, rows)):
        if fell_back is not None:
            bits |= fell_back.astype(np.int64) << i
    unique, codes = np.unique(bits, return_inverse=True)
    names = [">".join(p + (":backfill" if int(b) >> i & 1 else "") for i, p in enumerate(parts)) for b in unique]
    dictionary = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(names, pa.string()))
    return dictionary.cast(pa.string())
