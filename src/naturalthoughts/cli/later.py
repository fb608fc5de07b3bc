"""Commands whose stages are not built yet: they say so plainly and exit non-zero."""

from __future__ import annotations

import typer

from naturalthoughts.errors import NTError

NOT_BUILT = {
    "train": "Supervised fine-tuning of a student on a selection (TRL, System-1/System-2 mixing).",
    "eval": "Evaluate a student on GPQA-Diamond, MMLU-Pro, SuperGPQA, MMLU, GSM8K, AIME, MATH-500.",
    "report": "Write one self-contained HTML report for a run.",
}


def register(app: typer.Typer) -> None:
    for name, what in NOT_BUILT.items():
        _register_one(app, name, what)


def _register_one(app: typer.Typer, name: str, what: str) -> None:
    def command(ctx: typer.Context) -> None:
        raise NTError(f"`nt {name}` is not built yet. {what}")

    app.command(
        name,
        help=f"\\[not built yet] {what}",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(command)
