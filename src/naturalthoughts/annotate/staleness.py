"""Which annotators of ``annotations.parquet`` were computed from the current ``traces.parquet``.

The file's schema metadata key :data:`ANNOTATORS_KEY` holds JSON ``{annotator name: traces fingerprint}``:
:meth:`naturalthoughts.rundir.RunDir.traces_fingerprint` at the time each annotator last ran. ``nt annotate``
refreshes the entries of the annotators it runs and keeps the others, so after ``nt generate --retry`` (or a new
temperature) the annotators that were not rerun are visibly stale. Each row also carries the ``response_hash`` of
the trace it was last annotated against.

:func:`stale_annotators` is what ``nt select`` (and anything else reading annotations) asks before trusting them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq

from naturalthoughts.rundir import RunDir

ANNOTATORS_KEY = "naturalthoughts.annotators"


def recorded_fingerprints(path: Path) -> dict[str, str] | None:
    """``{annotator: traces fingerprint}`` from an annotations file; None when the file does not record them."""
    if not path.exists():
        return None
    metadata = pq.read_schema(path).metadata or {}
    raw = metadata.get(ANNOTATORS_KEY.encode())
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


def refresh_command(run: RunDir, names: Iterable[str]) -> str:
    """The command that recomputes ``names`` in ``run``."""
    return f"nt annotate --run {run.root} --only {','.join(names)}"


def stale_annotators(run: RunDir | str | Path, names: Iterable[str] | None = None) -> dict[str, str]:
    """Annotators whose columns cannot be trusted for the current traces, each with the reason and the fix.

    ``names``: the annotators the caller needs (default: every annotator the file records). An annotator is
    stale when it was computed from other traces than the current ``traces.parquet`` (regenerated, retried,
    resampled), or missing when it never ran (its columns are null). An empty dict means every one is current.
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    recorded = recorded_fingerprints(run.annotations)
    wanted = list(names) if names is not None else sorted(recorded or {})
    if not run.annotations.exists():
        return {name: f"{run.annotations} does not exist: run `nt annotate --run {run.root}`" for name in wanted}
    if recorded is None:
        return {
            name: f"{run.annotations} does not record which traces it was computed from (written by an older "
            f"version): run `nt annotate --run {run.root}`"
            for name in wanted
        }
    current = run.traces_fingerprint()
    reasons: dict[str, str] = {}
    for name in wanted:
        if name not in recorded:
            reasons[name] = f"the {name} annotator has not run: run `{refresh_command(run, [name])}`"
        elif recorded[name] != current:
            reasons[name] = (
                f"the {name} annotations were computed from an earlier traces.parquet (traces changed since, e.g. "
                f"`nt generate --retry`): run `{refresh_command(run, [name])}`"
            )
    return reasons
