"""The ledger (tokens, time and cost per stage, from the manifest) and provenance (configs, fingerprints,
versions)."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
from typing import Any

from naturalthoughts.errors import Fix
from naturalthoughts.report import plots
from naturalthoughts.report.html import Raw, Section, code, details, esc, figures, join, number, pre, table
from naturalthoughts.report.inputs import ReportInputs

# Libraries whose version can change what a run produces.
LIBRARIES = ("naturalthoughts", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "pyarrow",
             "sentence-transformers", "faiss-cpu", "xllamacpp", "vllm", "math-verify", "numpy", "pandas")  # fmt: skip
USAGE_KEYS = ("requests_sent", "cache_hits", "errors", "prompt_tokens", "completion_tokens", "cost_usd")


def ledger_rows(stages: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per stage key: the latest record's status and the sums over every attempt.

    Each record's usage is what that attempt spent (cache hits are free), so spend adds up over reruns; time is
    the wall time of every attempt, finished or not.
    """
    rows = []
    for key, records in stages.items():
        if not records:
            continue
        latest = records[-1]
        status = latest.get("status")
        if key == "report" and status == "running":
            status = "building this page"  # the report's own record, written before this page
        row: dict[str, Any] = {"stage": key, "status": status, "runs": len(records),
                               "finished_at": latest.get("finished_at")}  # fmt: skip
        row["seconds"] = sum(float(r.get("seconds") or 0.0) for r in records)
        for name in USAGE_KEYS:
            row[name] = sum((r.get("usage") or {}).get(name) or 0 for r in records)
        rows.append(row)
    return rows


def ledger_section(inputs: ReportInputs) -> Section:
    rows = ledger_rows(inputs.stages)
    if not rows:
        return Section.not_run("ledger", "Ledger", "the manifest has no stage yet.", Fix("run").at(inputs.run))
    total = {name: sum(r[name] for r in rows) for name in ("seconds", *USAGE_KEYS)}
    body = [
        [
            r["stage"],
            r["status"],
            r["runs"],
            _duration(r["seconds"]),
            r["requests_sent"],
            r["cache_hits"],
            r["errors"],
            r["prompt_tokens"],
            r["completion_tokens"],
            _dollars(r["cost_usd"]),
        ]
        for r in rows
    ]
    body.append([Raw("<b>total</b>"), "", sum(r["runs"] for r in rows), _duration(total["seconds"]),
                 total["requests_sent"], total["cache_hits"], total["errors"], total["prompt_tokens"],
                 total["completion_tokens"], _dollars(total["cost_usd"])])  # fmt: skip
    header = ["stage", "status", "runs", "time", "requests sent", "cache hits", "errors", "prompt tokens",
              "completion tokens", "cost"]  # fmt: skip
    svgs = [plots.hbar([r["stage"] for r in rows], [r["seconds"] / 60 for r in rows], "Wall time per stage",
                       "minutes (all attempts)", "ledger-time", fmt="{:,.1f}")]  # fmt: skip
    tokens = [r["prompt_tokens"] + r["completion_tokens"] for r in rows]
    if any(tokens):
        spent = [(r["stage"], t) for r, t in zip(rows, tokens, strict=True) if t]
        svgs.append(plots.hbar([s for s, _ in spent], [t for _, t in spent], "Model tokens per stage",
                               "prompt + completion tokens", "ledger-tokens"))  # fmt: skip
    note = Raw(
        '<p class="note">Sums over every attempt of each stage (a resumed stage\'s attempts add up, and a '
        "killed attempt counts what the spend ledger holds for it); status is the latest attempt's. Cost uses "
        "the prices in each stage's config.</p>"
    )
    parts = [table(header, body, numeric_from=2, cls="ledger"), note]
    if (budget := budget_paragraph(inputs)) is not None:
        parts.append(budget)
    return Section("ledger", "Ledger", join(*parts, figures(*svgs)))


def budget_paragraph(inputs: ReportInputs) -> Raw | None:
    """Spent vs budget for ``nt generate``, from the durable spend ledger (requests in flight at a kill count)."""
    from naturalthoughts.engines.cache import recorded_spend
    from naturalthoughts.generate.control import BUDGET_SCOPE
    from naturalthoughts.generate.ledger import budget_line

    records = inputs.stages.get(BUDGET_SCOPE) or []
    if not records:
        return None
    config = records[-1].get("config") or {}
    since = recorded_spend(inputs.run.cache_db, scope=BUDGET_SCOPE, whole_history=False)
    ever = recorded_spend(inputs.run.cache_db, scope=BUDGET_SCOPE)
    if ever is None:
        return None
    status = {
        "max_cost": config.get("max_cost"),
        "max_total_tokens": config.get("max_total_tokens"),
        "spent_usd": since.cost_usd if since else 0.0,
        "spent_tokens": since.total_tokens if since else 0,
        "requests_sent": since.requests if since else 0,
        "reserved_in_flight": since.reserved if since else 0,
        "estimated_in_flight": since.estimated if since else 0,
    }
    if since is None:
        text = "generate: its work finished; a budget counts afresh from the next run."
    else:
        line = budget_line(status) or f"sent {since.requests:,} requests (no budget set)"
        text = f"generate {line}, since its work last finished."
    text += (f" Every request the teacher was ever sent: {ever.requests:,} ({ever.total_tokens:,} tokens, "
             f"{_dollars(ever.cost_usd)}).")  # fmt: skip
    return Raw(f'<p class="budget">{esc(text)}</p>')


def _duration(seconds: float) -> str:
    from naturalthoughts.progress import format_duration

    return format_duration(seconds) if seconds >= 1 else f"{seconds:.2f}s"


def _dollars(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def versions() -> list[tuple[str, str]]:
    out = [("python", sys.version.split()[0]), ("platform", platform.platform())]
    for name in LIBRARIES:
        try:
            out.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def provenance_section(inputs: ReportInputs) -> Section:
    stages = inputs.stages
    parts: list[str | Raw] = [table(["package", "version"], versions(), numeric_from=2,
                                    caption="Versions that built this report")]  # fmt: skip
    for key, records in stages.items():
        if not records:
            continue
        record = records[-1]
        parts.append(
            details(
                f"{key} · {record.get('status')} · version {record.get('version', '?')} · "
                f"{record.get('finished_at') or record.get('started_at') or ''}",
                _record_html(record),
            )
        )
    if not stages:
        parts.append(Raw(f'<p class="not-run">not run: the manifest has no stage yet. Run '
                         f"{code(Fix('run').at(inputs.run).command_line())}.</p>"))  # fmt: skip
    return Section("provenance", "Provenance", join(*parts))


def _record_html(record: dict[str, Any]) -> Raw:
    config = json.dumps(record.get("config") or {}, indent=2, sort_keys=True, default=str)
    parts: list[str | Raw] = [
        Raw(f"<p>config sha256 {code((record.get('config_sha256') or '')[:16])} · reason: "
            f"{esc(record.get('reason') or '–')}</p>"),
        pre(config),
    ]  # fmt: skip
    for kind in ("inputs", "outputs"):
        files = record.get(kind) or {}
        if files:
            rows = [[path, number(fp.get("bytes")), (fp.get("sha256") or "")[:16], fp.get("by") or ""]
                    for path, fp in files.items()]  # fmt: skip
            parts.append(table([kind[:-1], "bytes", "sha256", "written by"], rows, numeric_from=1))
    if record.get("error"):
        parts.append(Raw(f'<p class="error">{esc(record["error"])}</p>'))
    return Raw(join(*parts))
