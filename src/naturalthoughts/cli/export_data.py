"""`nt export-data`: a selection or SFT set as a Hugging Face dataset folder with a provenance card."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from naturalthoughts.cli.common import ForceOption, QuietOption, RunOption, WaitOption

HELP = (
    "Write a selection (or an SFT set) as a Hugging Face dataset folder: data/train-*.parquet shards, a README.md "
    "dataset card (license, task categories, size category; where every row came from: source pools, teachers, "
    "annotators and their models, the selection expression, size, seed, mix, decontamination, toolkit version) and "
    "provenance.json. Load it with datasets.load_dataset(OUT)."
    "\n\n--push-to-hub OWNER/NAME uploads it with huggingface_hub (needs network and HF_TOKEN; the folder is "
    "written first: offline the command exits 5 at once, without a token 3)."
    "\n\nExamples:\n\n  nt export-data --run runs/demo --selection natural --out exports/natural --license apache-2.0"
    "\n\n  nt export-data --run runs/demo --sft natural+system1-0.3 --out exports/sft --push-to-hub me/natural-sft"
)


def register(app: typer.Typer) -> None:
    @app.command("export-data", help=HELP, no_args_is_help=True)
    def export_data_cmd(
        run: RunOption,
        out: Annotated[Path, typer.Option("--out", help="The dataset folder to write (replaced when it exists).")],
        selection: Annotated[
            str | None, typer.Option("--selection", help="Selection name (RUN/selections/NAME.parquet).")
        ] = None,
        sft: Annotated[str | None, typer.Option("--sft", help="SFT set name instead (RUN/sft/NAME/).")] = None,
        license: Annotated[
            str | None, typer.Option("--license", help="The card's license (apache-2.0, mit, cc-by-4.0, other...).")
        ] = None,
        pretty_name: Annotated[str | None, typer.Option("--pretty-name", help="The card's title.")] = None,
        language: Annotated[
            list[str] | None, typer.Option("--language", help="Language code for the card (repeatable).")
        ] = None,
        push_to_hub: Annotated[
            str | None, typer.Option("--push-to-hub", metavar="OWNER/NAME", help="Upload as a Hub dataset.")
        ] = None,
        private: Annotated[bool, typer.Option("--private", help="Create the Hub dataset private.")] = False,
        shard_rows: Annotated[int | None, typer.Option("--shard-rows", help="Rows per Parquet shard (50000).")] = None,
        force: ForceOption = False,
        wait: WaitOption = False,
        quiet: QuietOption = False,
    ) -> None:
        from naturalthoughts.cli.common import run_stage
        from naturalthoughts.config import validate
        from naturalthoughts.console import say
        from naturalthoughts.export_data import ExportDataConfig, ExportDataStage

        given = {"out": str(out), "license": license, "pretty_name": pretty_name, "language": language or None,
                 "push_to_hub": push_to_hub, "private": private or None, "shard_rows": shard_rows}  # fmt: skip
        cfg = validate(ExportDataConfig, {k: v for k, v in given.items() if v is not None}, "nt export-data options")
        outcome = run_stage(ExportDataStage(cfg, selection=selection, sft=sft), run, force=force, wait=wait,
                            quiet=quiet)  # fmt: skip
        if outcome.value is not None:
            say(f"export-data: {outcome.value['rows']:,} rows -> {outcome.value['folder']}")
            if outcome.value.get("pushed"):
                say(f"  on the Hub: {outcome.value['pushed']}")
