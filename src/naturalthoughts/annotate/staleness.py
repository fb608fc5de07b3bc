"""Which annotators of ``annotations.parquet`` were computed from the current ``traces.parquet``: a thin reader of
the manifest (:mod:`naturalthoughts.staleness`).

``nt annotate`` refreshes the columns of the annotators it runs and keeps the others, so after ``nt generate
--retry`` (or a new temperature) the annotators that were not rerun are stale. Each row also carries the
``response_hash`` of the trace it was last annotated against.

:func:`stale_annotators` is what anything reading annotations asks before trusting them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from naturalthoughts.errors import Fix
from naturalthoughts.rundir import RunDir
from naturalthoughts.staleness import annotator_freshness, freshness


def refresh_fix(run: RunDir, names: Iterable[str]) -> Fix:
    """What recomputes ``names`` in ``run``."""
    return Fix("annotate", only=",".join(names)).at(run)


def stale_annotators(run: RunDir | str | Path, names: Iterable[str] | None = None) -> dict[str, tuple[str, Fix]]:
    """Annotators whose columns cannot be trusted for the current traces, each with the reason and the fix.

    ``names``: the annotators the caller needs (default: every annotator the manifest knows). An annotator is
    stale when it was computed from other traces than the current ``traces.parquet`` (regenerated, retried,
    resampled), missing when it never ran (its columns are null), unknown when nothing records what it was computed
    from. An empty dict means every one is current.
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    known = annotator_freshness(run)
    wanted = list(names) if names is not None else sorted(known)
    if not run.annotations.exists():
        return {name: (f"{run.annotations} does not exist", Fix("annotate").at(run)) for name in wanted}
    why = {
        "stale": "the {name} annotations were computed from an earlier traces.parquet (traces changed since)",
        "missing": "the {name} annotator has not run",
        "unknown": "nothing records which traces the {name} annotations were computed from (no annotate record in "
        "the manifest)",
    }
    reasons = {}
    for name in wanted:
        state = freshness(run, name, known)
        if state != "current":
            reasons[name] = (why[state].format(name=name), refresh_fix(run, [name]))
    return reasons
