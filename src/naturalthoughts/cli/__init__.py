"""The ``nt`` command line: a thin layer over the Python API in ``naturalthoughts.<stage>``.

Each command lives in its own module here and only parses options, runs the stage through the runner and prints
the result. A stage's command is registered by the stage's line in :mod:`naturalthoughts.registry` (its ``cli``
module's ``register(app)``); the other commands are :data:`OTHER_COMMANDS`. The error policy lives here, once: every
expected failure is one or two lines on stderr with a documented exit code (``naturalthoughts.errors``); a
traceback only with ``--debug`` (or ``NT_DEBUG=1``).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

EXIT_CODES_HELP = (
    "Exit codes: 0 ok · 1 internal error · 2 usage or config error · 3 missing prerequisite · 4 bad input · "
    "5 needs network · 6 budget stop · 7 engine failure · 8 run directory busy · 9 disk full or read-only · "
    "130 interrupted · 143 terminated."
)


def _offline_defaults() -> None:
    # Nothing is downloaded from a hub at run time; users with network can override these.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# Commands that are not a stage's (the stage commands come from the stage registry), with their help panel.
OTHER_COMMANDS = {"run": "Pipeline", "study": "Pipeline", "doctor": "Tools"}


def build_app() -> typer.Typer:
    import importlib

    from naturalthoughts import registry

    pipeline = " → ".join(spec.name for spec in registry.pipeline_specs())
    app = typer.Typer(
        name="nt",
        help="NaturalThoughts: turn a pool of questions into a sample-efficient reasoning-distillation "
        f"dataset and a distilled student.\n\nStages: {pipeline}. Each reads and writes tables in a run directory "
        "(--run DIR); a stage whose inputs and config have not changed since its last successful run is skipped "
        "(up to date; --force reruns it).",
        epilog=EXIT_CODES_HELP + " Add --debug to any command for a traceback.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for module in (*registry.command_modules(), *OTHER_COMMANDS):
        importlib.import_module(command_module(module)).register(app)
    for info in app.registered_commands:
        info.callback = _interrupts_as_errors(info.callback)
        info.rich_help_panel = OTHER_COMMANDS.get(info.name or "", "Stages")
    for group in app.registered_groups:  # `nt eval` (with `nt eval compare`)
        group.rich_help_panel = OTHER_COMMANDS.get(group.name or "", "Stages")
        sub = group.typer_instance
        if sub is not None and sub.registered_callback is not None:  # `nt eval` itself is the group's callback
            sub.registered_callback.callback = _interrupts_as_errors(sub.registered_callback.callback)
        for info in sub.registered_commands if sub is not None else ():
            info.callback = _interrupts_as_errors(info.callback)
    return app


def command_module(name: str) -> str:
    """The module of a command: ``naturalthoughts.cli.NAME``, else ``NAME`` itself (a command defined elsewhere)."""
    import importlib.util

    ours = f"naturalthoughts.cli.{name}"
    return ours if importlib.util.find_spec(ours) is not None else name


def _interrupts_as_errors(callback: Callable[..., Any] | None) -> Callable[..., Any] | None:
    """typer turns a KeyboardInterrupt into a silent exit code 130; raise our own error instead, so the message
    is printed (and SIGTERM keeps its own code, 143)."""
    if callback is None:
        return None

    @functools.wraps(callback)
    def command(*args: Any, **kwargs: Any) -> Any:
        from naturalthoughts.errors import Interrupted, Terminated

        try:
            return callback(*args, **kwargs)
        except KeyboardInterrupt as exc:
            raise Interrupted(terminated=isinstance(exc, Terminated)) from exc

    return command


def main(argv: list[str] | None = None) -> None:
    from naturalthoughts.interrupts import install_for_process, leave

    install_for_process()  # SIGINT/SIGTERM from the first moment: exit 130/143, within a deadline
    _offline_defaults()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("NT_DEBUG", "") not in ("", "0")
    args = [a for a in args if a != "--debug"]
    from naturalthoughts.cli import common

    common._invocation[:] = args
    try:
        code = build_app()(args=args, prog_name="nt", standalone_mode=False)
    except SystemExit:
        raise
    except BaseException as exc:
        if debug:  # the traceback is added; the message and the exit code stay what they are without --debug
            print_traceback(exc)
        leave(exit_code_for(_signal_behind(exc) or exc, debug))
    if isinstance(code, int) and code:
        # typer turns a signal that came while it parsed the options into a silent 130, SIGTERM's too
        leave(exit_code_for(signalled) if (signalled := _signal_behind(None)) is not None else code)


def _signal_behind(exc: BaseException | None) -> BaseException | None:
    """The error to report for the SIGINT or SIGTERM that arrived, when ``exc`` does not say so itself (None: no
    signal, or ``exc`` says it): raised inside code that wraps what it raises (an import's ``__set_name__`` makes
    it a RuntimeError), a signal still exits 130 or 143 with its message."""
    from naturalthoughts.errors import EXIT_TERMINATED, Interrupted, NTError
    from naturalthoughts.interrupts import exit_code, requested

    if not requested() or isinstance(exc, KeyboardInterrupt | NTError):
        return None
    return Interrupted(terminated=exit_code() == EXIT_TERMINATED)


def print_traceback(exc: BaseException) -> None:
    """The traceback of ``exc`` on stderr (``--debug``), with any key scrubbed like every other output."""
    import traceback

    from naturalthoughts.console import err_console
    from naturalthoughts.redact import scrub

    text = scrub("".join(traceback.format_exception(exc)))
    err_console.print(text.rstrip(), markup=False, highlight=False, soft_wrap=True)


def exit_code_for(exc: BaseException, debug: bool = False) -> int:
    """Print ``exc`` the way the user should see it and return the exit code."""
    from naturalthoughts.console import print_error
    from naturalthoughts.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, NTError, Terminated, storage_error

    click_exceptions = _click_exceptions()
    if not isinstance(exc, NTError):
        exc = storage_error(exc) or exc  # a full disk is the machine's state, not a bug of ours
    if isinstance(exc, click_exceptions["Abort"]) and isinstance(exc.__context__, KeyboardInterrupt):
        exc = exc.__context__  # click wraps Ctrl-C (and our SIGTERM exception) in Abort
    if isinstance(exc, NTError):
        print_error(exc.render(lambda fix: f"`{fix.command_line()}`"))  # what to do, as the nt command
        return exc.exit_code
    if isinstance(exc, Terminated):
        print_error("terminated (SIGTERM): finished work is saved; run the same command again to resume.", "yellow")
        return EXIT_TERMINATED
    if isinstance(exc, (KeyboardInterrupt, *click_exceptions["Abort"])):
        print_error("interrupted: finished work is saved; run the same command again to resume.", "yellow")
        return EXIT_INTERRUPTED
    if isinstance(exc, click_exceptions["Exit"]):
        return int(getattr(exc, "exit_code", 0) or 0)
    if isinstance(exc, click_exceptions["ClickException"]):
        message = exc.format_message()
        ctx = getattr(exc, "ctx", None)
        hint = f"\nTry '{ctx.command_path} --help' for help." if ctx is not None else ""
        print_error(f"{message}{hint}")
        return 2
    print_error(
        f"internal error: {type(exc).__name__}: {exc}\n"
        "This is a bug in naturalthoughts. Run the same command with --debug for the traceback and report it."
    )
    return 1


def _click_exceptions() -> dict[str, tuple[type[BaseException], ...]]:
    """typer vendors click (``typer._click``); a plain ``click`` may be installed too. Catch both."""
    modules = []
    try:
        import typer._click.exceptions as vendored

        modules.append(vendored)
    except ImportError:  # older typer: plain click
        pass
    try:
        import click.exceptions as plain

        modules.append(plain)
    except ImportError:
        pass
    out: dict[str, tuple[type[BaseException], ...]] = {}
    for name in ("Abort", "Exit", "ClickException"):
        out[name] = tuple(getattr(m, name) for m in modules if hasattr(m, name))
    import typer.exceptions

    out["Exit"] = (*out["Exit"], typer.exceptions.Exit)
    out["Abort"] = (*out["Abort"], typer.exceptions.Abort)
    return out
