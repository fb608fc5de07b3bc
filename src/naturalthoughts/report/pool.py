"""The pool section (domains, lengths, strategies, correctness, disagreement) and the selections section (each
selection against the pool: the ``nt select --compare`` table, drawn)."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.errors import Fix
from naturalthoughts.report import html, plots
from naturalthoughts.report.html import Raw, Section, code, figures, join, number, percent, table
from naturalthoughts.report.inputs import ReportInputs
from naturalthoughts.report.provenance import provenance_table

TRI_PARTS = ("yes", "no", "unknown")
TRI_COLORS = (plots.PALETTE[2], plots.PALETTE[3], "#bab0ac")


def pool_section(inputs: ReportInputs) -> Section:
    run = inputs.run
    if not inputs.has_traces:
        return Section.not_run(
            "pool",
            "Pool",
            "no traces yet (generate them, or import yours with the ingest stage's `traces` option).",
            Fix("generate").at(run),
        )
    n = inputs.n
    questions = pq.read_metadata(run.questions).num_rows if run.questions.exists() else None
    complete = inputs.flags("traces", "complete")
    errors = int(inputs.column("traces", "error").is_valid().to_numpy(zero_copy_only=False).sum())
    cards = html.stat_cards([
        ("questions", questions), ("traces", n), ("complete", Raw(html.esc(percent(_share(complete == 1, n))))),
        ("failed requests", errors), ("annotated", "yes" if run.annotations.exists() else "no"),
    ])  # fmt: skip
    parts: list[str | Raw] = [cards, provenance_table(inputs), _rejected(inputs), _stale_annotations(inputs)]
    if not run.annotations.exists():
        parts.append(Raw(f'<p class="not-run">annotations not run: domains, strategies, correctness and disagreement '
                         f"appear after {code(Fix('annotate').at(run).command_line())}.</p>"))  # fmt: skip
    parts.append(figures(*_pool_plots(inputs)))
    parts.append(_domain_table(inputs))
    return Section("pool", "Pool", join(*parts))


def _stale_annotations(inputs: ReportInputs) -> Raw | None:
    """A warning naming the annotators computed from other traces than today's (selection refuses them)."""
    from naturalthoughts.select.pool import annotate_fix
    from naturalthoughts.staleness import annotator_freshness

    run = inputs.run
    if not run.annotations.exists():
        return None
    known = annotator_freshness(run)
    if not known:
        return Raw('<p class="error">nothing records which traces annotations.parquet was computed from (no annotate '
                   f"record in the manifest): its columns may be stale. Refresh them with "
                   f"{code(Fix('annotate').at(run).command_line())}.</p>")  # fmt: skip
    stale = sorted(name for name, state in known.items() if state != "current")
    if not stale:
        return None
    return Raw(
        f'<p class="error">computed from older traces (shown here, but selection refuses them): '
        f"{html.esc(', '.join(stale))}. Refresh with {code(annotate_fix(run, stale).command_line())}.</p>"
    )


def _share(mask: np.ndarray, n: int) -> float:
    return float(mask.sum()) / n if n else float("nan")


def _rejected(inputs: ReportInputs) -> Raw | None:
    path = inputs.run.rejected
    if not path.exists():
        return None
    kinds = pq.read_table(path, columns=["kind"])["kind"]
    if not len(kinds):
        return html.para("No question was rejected at ingest.")
    counts = pc.value_counts(kinds).to_pylist()
    rows = sorted(((c["values"], c["counts"]) for c in counts), key=lambda r: -r[1])
    return html.details(f"{len(kinds):,} questions rejected at ingest", table(["kind", "questions"], rows))


def _pool_plots(inputs: ReportInputs) -> list[str]:
    svgs = []
    domains, names = inputs.codes("annotations", "domain")
    if names:
        counts = np.bincount(domains[domains >= 0], minlength=len(names))
        svgs.append(plots.hbar(names, counts.tolist(), "Traces per domain", "traces", "pool-domains"))
    tokens = inputs.preferred("reasoning_tokens")
    if np.isfinite(tokens).any():
        svgs.append(plots.histogram(tokens[np.isfinite(tokens)] + 1, "Reasoning length", "reasoning tokens (+1, log)",
                                    "pool-lengths"))  # fmt: skip
    strategies, present = inputs.strategy_sets()
    if present and strategies.null_count < len(strategies):
        flat = pc.list_flatten(strategies)
        counts = pc.value_counts(flat).to_pylist() if len(flat) else []
        annotated = len(strategies) - strategies.null_count
        labels = [c["values"] for c in counts]
        shares = [c["counts"] / annotated for c in counts]
        svgs.append(plots.hbar(labels, shares, "Traces using each strategy", "share of annotated traces",
                               "pool-strategies", fmt="{:.0%}"))  # fmt: skip
        per_trace = pc.list_value_length(strategies).to_numpy(zero_copy_only=False)
        per_trace = per_trace[~np.isnan(per_trace.astype(float))]
        bins = np.bincount(per_trace.astype(np.int64))
        svgs.append(
            plots.grouped_bars(
                [str(i) for i in range(len(bins))],
                {"traces": bins.tolist()},
                "Distinct strategies per trace",
                "traces",
                "pool-nstrategies",
                fmt="{:,.0f}",
            )
        )
    flags = {"complete": inputs.flags("traces", "complete")}
    for column in ("correct", "disagree"):
        flags[column] = inputs.flags("annotations", column)
    parts = {label: [_share(values == code_, len(values)) for values in flags.values()]
             for label, code_ in zip(TRI_PARTS, (1, 0, -1), strict=True)}  # fmt: skip
    svgs.append(plots.stacked_hbar(list(flags), parts, "Complete, correct, models disagree", "share of traces",
                                   "pool-flags", colors=TRI_COLORS, percent=True))  # fmt: skip
    return svgs


def _domain_table(inputs: ReportInputs) -> Raw | None:
    domains, names = inputs.codes("annotations", "domain")
    if not names:
        return None
    tokens = inputs.preferred("reasoning_tokens")
    n_strategies = inputs.numbers("annotations", "n_strategies")
    correct = inputs.numbers("annotations", "correct")
    disagree = inputs.numbers("annotations", "disagree")
    rows = []
    labels = [*names, "(no domain)"] if (domains < 0).any() else names
    for code_, name in enumerate(labels):
        mask = domains == (code_ if code_ < len(names) else -1)
        rows.append(
            [
                name,
                int(mask.sum()),
                percent(_share(mask, inputs.n)),
                _median(tokens[mask]),
                _mean(n_strategies[mask]),
                percent(_mean(correct[mask])),
                percent(_mean(disagree[mask])),
            ]
        )
    header = ["domain", "traces", "share", "median reasoning tokens", "mean distinct strategies", "correct",
              "models disagree"]  # fmt: skip
    return table(header, rows, cls="domains", caption="Per domain (rates over traces with a value)")


def _median(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else float("nan")


def _mean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


# ---- selections ------------------------------------------------------------------------------------------------

RATE_ROWS = ("correct rate", "disagreement rate")
QUANTILE_ROWS = {"p10": "reasoning tokens p10", "p25": "reasoning tokens p25", "p50": "reasoning tokens p50",
                 "p75": "reasoning tokens p75", "p90": "reasoning tokens p90"}  # fmt: skip


def selections_section(inputs: ReportInputs) -> Section:
    run = inputs.run
    title = "Selections against the pool"
    if inputs.has_traces and not inputs.selection_names and (left_out := _left_out(inputs)) is not None:
        return Section("selections", title, left_out)
    if not inputs.has_traces or not inputs.selection_names:
        return Section.not_run("selections", title, "no selection yet.",
                               Fix("select", method="EXPR", size="N").at(run))  # fmt: skip
    from naturalthoughts.select.compare import compare

    frame = compare(run, inputs.selection_names, write_csv=False)
    columns = [str(c) for c in frame.columns]
    svgs = []
    domain_rows = [i for i in frame.index if str(i).startswith("domain: ")]
    if domain_rows:
        matrix = frame.loc[domain_rows].to_numpy(dtype=float)
        svgs.append(plots.heatmap([r.removeprefix("domain: ") for r in domain_rows], columns, matrix,
                                  "Domain shares", "sel-domains"))  # fmt: skip
    if all(r in frame.index for r in QUANTILE_ROWS.values()):
        q = {k: frame.loc[row].to_numpy(dtype=float).tolist() for k, row in QUANTILE_ROWS.items()}
        if np.isfinite(q["p50"]).any():
            svgs.append(plots.quantile_ranges(columns, q, "Reasoning length (p10 · p25–p75 · median · p90)",
                                              "reasoning tokens", "sel-lengths"))  # fmt: skip
    rates = {r: frame.loc[r].to_numpy(dtype=float).tolist() for r in RATE_ROWS if r in frame.index}
    if any(np.isfinite(v).any() for v in rates.values()):
        svgs.append(plots.grouped_bars(columns, rates, "Correct and disagreement rates", "share of traces",
                                       "sel-rates"))  # fmt: skip
    diversity = {r: frame.loc[r].to_numpy(dtype=float).tolist()
                 for r in ("mean distinct strategies", "domain entropy (bits)") if r in frame.index}  # fmt: skip
    if any(np.isfinite(v).any() for v in diversity.values()):
        svgs.append(plots.grouped_bars(columns, diversity, "Diversity", "value", "sel-diversity"))
    rows = [[str(stat), *(number(float(v)) for v in frame.loc[stat].tolist())] for stat in frame.index]
    compare_table = table(["statistic", *columns], rows, cls="compare",
                          caption=Fix("select", compare=True).command_line())  # fmt: skip
    return Section("selections", title, join(_selection_list(inputs), figures(*svgs), compare_table))


def _selection_list(inputs: ReportInputs) -> Raw:
    rows = []
    for name in inputs.selection_names:
        key = f"select:{name}"
        record = inputs.latest(key) or (inputs.stages.get(key) or [{}])[-1]  # manifests of older versions: "ok"
        config = record.get("config") or {}
        funnel = record.get("funnel") or {}
        selected, missing = inputs.selection_rows(name)
        note = f"{missing:,} trace ids not in the pool (stale: select it again)" if missing else ""
        rows.append([name, str(config.get("expression") or config.get("method") or "?"), len(selected),
                     config.get("seed"), funnel.get("eligible"), note])  # fmt: skip
    listed = table(["selection", "expression", "traces", "seed", "eligible", "note"], rows, numeric_from=2)
    left_out = _left_out(inputs)
    return Raw(join(listed, left_out)) if left_out is not None else listed


def _left_out(inputs: ReportInputs) -> Raw | None:
    """The selections made from older traces, left out of the report, each with the command that makes it again."""
    if not inputs.stale_selections:
        return None
    items = "".join(f"<li>{html.esc(name)}: {code(fix.command_line())}</li>"
                    for name, fix in inputs.stale_selections.items())  # fmt: skip
    return Raw(
        f'<p class="note">Left out: selections made from older traces (the traces changed since; a pipeline '
        f"run refreshes only its own selections). Make them again with:</p><ul>{items}</ul>"
    )
