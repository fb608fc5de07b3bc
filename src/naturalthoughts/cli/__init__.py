"""The ``nt`` command line: a thin layer over the Python API in ``naturalthoughts.<stage>``.

Each command lives in its own module here and only parses options, calls the stage's API and
prints the result. Registering a command is one line in :func:`build_app`.
"""

from __future__ import annotations

import os
import sys

import typer

from naturalthoughts.errors import NTError


def _offline_defaults() -> None:
    # Nothing is downloaded from a hub at run time; users with network can override these.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_app() -> typer.Typer:
    from naturalthoughts.cli import annotate, doctor, generate, ingest, later, run, select

    app = typer.Typer(
        name="nt",
        help="NaturalThoughts: turn a pool of questions into a sample-efficient reasoning-distillation "
        "dataset and a distilled student.\n\nStages: ingest → generate → annotate → select → train → eval "
        "→ report. Each reads and writes tables in a run directory (--run DIR).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for module in (ingest, generate, annotate, select, later, run, doctor):
        module.register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    _offline_defaults()
    app = build_app()
    try:
        app(args=argv, prog_name="nt", standalone_mode=False)
    except NTError as exc:
        from naturalthoughts.console import err_console

        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors etc.
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):  # click's wrapping of Ctrl-C
            _interrupted()
        raise


def _interrupted() -> None:
    from naturalthoughts.console import err_console

    err_console.print("[yellow]interrupted: finished work is saved; run the same command to resume.[/]")
    sys.exit(130)
