"""Which parts of a run's tables are current, read from the manifest: the runner's records are the one authority.

Every stage record holds the fingerprints of the inputs the stage ran on. ``annotations.parquet`` is written by
several ``annotate`` runs (``only=[...]`` refreshes some annotators' columns and keeps the others), so whether one
annotator's columns are current is a question about records, not files: they are **current** when the newest
successful ``annotate`` record that ran that annotator read today's ``traces.parquet``, **stale** when it read
another one, **missing** when no record ran it, and **unknown** when the run has annotations but no ``annotate``
record (a folder written by an older version, or copied without its manifest).

Importing this module is cheap (no annotator, no pyarrow): ``nt select`` and the report ask it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from naturalthoughts.digest import fingerprint
from naturalthoughts.manifest import Manifest

if TYPE_CHECKING:
    from naturalthoughts.rundir import RunDir

Freshness = Literal["current", "stale", "missing", "unknown"]
ANNOTATE = "annotate"


def annotator_inputs(run: RunDir) -> dict[str, str | None] | None:
    """``{annotator: sha256 of the traces.parquet it was last computed from}``, from the newest successful
    ``annotate`` record that ran each one; None when the manifest has no successful ``annotate`` record."""
    records = [r for r in Manifest(run.manifest).records(ANNOTATE) if r.get("status") == "done"]
    if not records:
        return None
    computed_from: dict[str, str | None] = {}
    for record in records:  # oldest first: a newer record overrides
        traces = ((record.get("inputs") or {}).get(run.traces.name) or {}).get("sha256")
        for name in record.get("annotators") or {}:
            computed_from[name] = traces
    return computed_from


def annotator_freshness(run: RunDir) -> dict[str, Freshness]:
    """The freshness of every annotator the manifest knows (see the module docstring); empty when it knows none."""
    computed_from = annotator_inputs(run)
    if computed_from is None:
        return {}
    current = fingerprint(run.traces).get("sha256") if run.traces.exists() else None
    return {name: "current" if traces == current else "stale" for name, traces in computed_from.items()}


def freshness(run: RunDir, annotator: str, known: dict[str, Freshness] | None = None) -> Freshness:
    """Whether ``annotator``'s columns were computed from the current traces (``known``: a computed
    :func:`annotator_freshness`, to ask about several annotators with one read of the manifest)."""
    known = annotator_freshness(run) if known is None else known
    if annotator in known:
        return known[annotator]
    if known or not run.annotations.exists():
        return "missing"
    return "unknown"


def made_from_older(run: RunDir, key: str, table: str) -> dict[str, object] | None:
    """The newest successful record of stage ``key`` when it read another ``table`` (a path relative to the run)
    than the one the run holds now; None when it read this one, or nothing records it."""
    record = Manifest(run.manifest).latest(key, ("done",))
    if record is None:
        return None
    recorded = ((record.get("inputs") or {}).get(table) or {}).get("sha256")
    if recorded is None:
        return None
    path = run.root / table
    current = fingerprint(path).get("sha256") if path.exists() else None
    return record if recorded != current else None
