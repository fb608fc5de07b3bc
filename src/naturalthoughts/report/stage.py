"""The report stage: whatever tables the run has -> ``RUN/report.html`` (+ ``RUN/report_data/``).

Each section reads its own tables and says "not run" (with the command that fills it) when they do not exist, so
the report can be built after any stage. A section that fails to build shows its error in the page and in the
stage's result (``extra.section_errors``) instead of failing the whole report; the log has the traceback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from naturalthoughts.atomic import FILE_MODE, write_text
from naturalthoughts.errors import Fix, MissingInputError
from naturalthoughts.manifest import Manifest
from naturalthoughts.report import evaluation, later, ledger, page
from naturalthoughts.report import pool as pool_sections
from naturalthoughts.report.browser import DATA_DIR, BrowserData, write_browser_data
from naturalthoughts.report.config import ReportConfig
from naturalthoughts.report.html import Section
from naturalthoughts.report.inputs import ReportInputs
from naturalthoughts.rundir import RunDir
from naturalthoughts.stage import Stage, StageContext, StageResult

SectionBuilder = Callable[[ReportInputs], Section]
SECTION_TITLES = {"pool": "Pool", "selections": "Selections against the pool", "sft": "SFT data",
                  "training": "Training", "evaluation": "Evaluation", "study": "Study", "ledger": "Ledger",
                  "provenance": "Provenance"}  # fmt: skip


def _study_section(inputs: ReportInputs) -> Section:
    from naturalthoughts.report.study import study_section

    return study_section(inputs)


SECTIONS: tuple[tuple[str, SectionBuilder], ...] = (
    ("pool", pool_sections.pool_section),
    ("selections", pool_sections.selections_section),
    ("sft", later.sft_section),
    ("training", later.training_section),
    ("evaluation", evaluation.evaluation_section),
    ("study", _study_section),
    ("ledger", ledger.ledger_section),
    ("provenance", ledger.provenance_section),
)


def data_dir(run: RunDir) -> Path:
    return run.root / DATA_DIR


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """A hidden temporary folder beside ``target`` (``.NAME.XXXX.tmp``, swept by the runner after a crash) that
    replaces ``target`` when the block succeeds."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        tmp.chmod(FILE_MODE | 0o111)  # mkdtemp's 0700 is too private for a shared run directory
        yield tmp
        old = tmp.with_name(f"{tmp.name[:-4]}.old.tmp")
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_sections(inputs: ReportInputs, log: Callable[[str], None] | None = None) -> tuple[list[Section], dict]:
    """Every section in page order, and the errors of those that could not be built (id -> message)."""
    sections, errors = [], {}
    for section_id, builder in SECTIONS:
        try:
            sections.append(builder(inputs))
        except Exception as exc:  # one broken section must not take the whole report down
            if log is not None:
                log(f"report section {section_id} failed:\n{traceback.format_exc()}")
            errors[section_id] = f"{type(exc).__name__}: {exc}"
            sections.append(Section.failed(section_id, SECTION_TITLES[section_id], exc))
    return sections, errors


def build_report(run: RunDir | str, config: ReportConfig | None = None, progress: object = None) -> dict:
    """Write ``report.html`` and ``report_data/`` for ``run``; returns counts and section errors.

    Usable without the runner (a notebook); the stage below calls it inside the runner.
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    inputs = ReportInputs(run, config or ReportConfig())
    log_lines: list[str] = []
    sections, errors = build_sections(inputs, log_lines.append)
    data: BrowserData | None = None
    with atomic_dir(data_dir(run)) as folder:
        if inputs.has_traces:
            data = write_browser_data(inputs, folder, progress)
        else:
            (folder / "README.txt").write_text("No traces yet: the report has no trace browser.\n", encoding="utf-8")
        sections.insert(len(sections) - 2, page.browser_section(data, Fix("generate").at(run)))
        title = inputs.config.title or f"naturalthoughts report · {run.root.resolve().name}"
        html = page.render(title, _subtitle(inputs), sections, data)
    write_text(html, run.report)  # after report_data/: the page never names chunks that are not there yet
    return {
        "traces": inputs.n if inputs.has_traces else 0,
        "sections": sum(s.status == "ok" for s in sections),
        "not_run": [s.id for s in sections if s.status == "not run"],
        "section_errors": errors,
        "inline": bool(data and data.inline),
        "side_files": data.side_files if data else 0,
        "side_bytes": data.side_bytes if data else 0,
        "html_bytes": run.report.stat().st_size,
        "log": log_lines,
        "left_out": dict(inputs.stale_selections) if inputs.has_traces else {},
    }


def _subtitle(inputs: ReportInputs) -> str:
    finished = [r.get("finished_at") for records in inputs.stages.values() for r in records if r.get("finished_at")]
    latest = max(finished) if finished else "–"
    return f"run directory {inputs.run.root} · data as of {latest} · opens offline: nothing is fetched from a network"


class ReportStage(Stage):
    """``nt report``: one self-contained HTML page for a run (see :mod:`naturalthoughts.report`)."""

    name = "report"
    # The tables it draws, whichever exist. The manifest's records (ledger, provenance) are not an input: they change
    # with every stage run, this one's own included, and those that matter change the tables read here too.
    reads = ("questions.parquet", "rejected.parquet", "traces.parquet", "annotations.parquet", "selections/*.parquet",
             "sft/*/meta.json", "models/*/{training.json, loss.parquet}", "eval/*/{summary,samples}.parquet",
             "study/*/table.csv")  # fmt: skip
    writes = ("report.html", "report_data/")
    config_model = ReportConfig

    def inputs(self, run: RunDir) -> list[Path]:
        return ReportInputs(run, self.config).input_files()

    def outputs(self, run: RunDir) -> list[Path]:
        return [run.report, data_dir(run)]

    def run(self, ctx: StageContext) -> StageResult:
        # Checked here, not in check(): nt run checks every stage before the first one has written anything.
        others = [key for key in Manifest(ctx.run.manifest).load()["stages"] if key != self.key]
        if not others and not ctx.run.questions.exists():
            raise MissingInputError(f"{ctx.run.root} is not a run directory (no stage has run in it): run {{fix}} "
                                    "first, or name another run directory.", fix=Fix("run").at(ctx.run))  # fmt: skip
        info = build_report(ctx.run, self.config, ctx.progress)  # type: ignore[arg-type]
        for line in info.pop("log"):
            ctx.log.info("%s", line)
        for section_id, message in info["section_errors"].items():
            ctx.progress.note(f"report section {section_id} could not be built: {message}")
        for name, fix in info["left_out"].items():
            ctx.progress.note(f"selection {name} was made from older traces: left out of the report; make it again "
                              f"with `{fix.command_line()}`")  # fmt: skip
        where = f"{ctx.run.report}" + ("" if info["inline"] else f" (+ {info['side_files']:,} files in {DATA_DIR}/)")
        return StageResult(
            counts={"traces": info["traces"], "sections": info["sections"], "html_bytes": info["html_bytes"]},
            outputs=[ctx.run.report, data_dir(ctx.run)],
            summary=f"{where}; not run yet: {', '.join(info['not_run']) or 'none'}",
            extra={
                "section_errors": info["section_errors"],
                "not_run": info["not_run"],
                "left_out": info["left_out"],
            },
            value=info,
        )
