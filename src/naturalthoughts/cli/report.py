"""`nt report`: one self-contained HTML page for a run directory."""

from __future__ import annotations

from typing import Annotated

import typer

from naturalthoughts.cli.common import ConfigOption, ForceOption, QuietOption, RunOption, WaitOption

HELP = (
    "Write RUN/report.html, one page that opens offline: pool, selections, SFT mix, loss, evaluation, trace browser."
    "\n\nThe page shows the pool, each selection against the pool, the SFT mix and loss curves, evaluation "
    "(accuracy against mean tokens), the study table, the ledger, provenance and a trace browser. Scripts, styles "
    "and plots are inlined; nothing is fetched from a network. Sections whose stage has not run say so."
    "\n\nSmall runs inline every trace text, so report.html is one file to share. Larger runs keep the texts in "
    "RUN/report_data/ beside it (loaded on demand): copy both. See docs/report.md."
    "\n\nExamples:\n\n  nt report --run runs/demo\n\n  nt report --run runs/demo --inline-limit-mb 0"
)


def register(app: typer.Typer) -> None:
    @app.command("report", help=HELP)
    def report_cmd(
        run: RunOption,
        config: ConfigOption = None,
        title: Annotated[str | None, typer.Option("--title", help="Page title.")] = None,
        inline_limit_mb: Annotated[
            float | None,
            typer.Option("--inline-limit-mb", min=0, help="Inline trace texts up to this size \\[default: 4]."),
        ] = None,
        force: ForceOption = False,
        wait: WaitOption = False,
        quiet: QuietOption = False,
    ) -> None:
        from naturalthoughts.cli.common import run_stage
        from naturalthoughts.config import load_section
        from naturalthoughts.console import say
        from naturalthoughts.report import ReportConfig, ReportStage

        cfg = load_section(ReportConfig, config, "report", {"title": title, "inline_limit_mb": inline_limit_mb})
        outcome = run_stage(ReportStage(cfg), run, force=force, wait=wait, quiet=quiet)
        if outcome.value is not None:
            info = outcome.value
            side = "" if info["inline"] else f" + {info['side_files']:,} files in report_data/"
            say(f"report: {outcome.result.outputs[0]} ({info['html_bytes'] / 1e6:,.1f} MB{side}); "
                f"{info['traces']:,} traces")  # fmt: skip
            if info["not_run"]:
                say(f"  not run yet: {', '.join(info['not_run'])}")
            for section, message in info["section_errors"].items():
                say(f"  section {section} could not be built: {message}", style="red")
