"""What every command shares: the run-directory options, the engine options, and running a stage.

- ``RunOption``, ``ConfigOption``, ``ForceOption``, ``WaitOption``, ``QuietOption``: the same option, spelled and
  documented once, in every command.
- :func:`engine_section`: ``--engine/--model/--base-url`` applied to a config's ``engine`` section (``nt generate``
  and ``nt eval`` choose engines the same way); the engine names come from the engine registry.
- :func:`run_stage`: run one stage through the runner and say "up to date" when it was;
  :func:`raise_for_outcomes`: after the caller printed what was done, a budget stop exits 6 and failed items 7.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from naturalthoughts.errors import BudgetExceeded, ConfigError, EngineFailure

RunOption = Annotated[Path, typer.Option("--run", help="Run directory.", show_default=False)]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML: this command's section of a pipeline config, or the section alone."),
]
ForceOption = Annotated[bool, typer.Option("--force", help="Rerun even when the outputs are up to date.")]
WaitOption = Annotated[
    bool, typer.Option("--wait", help="If another nt process holds the run directory, wait for it instead of failing.")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display (the run's log still has it).")]


def engine_names() -> tuple[str, ...]:
    from naturalthoughts.engines.config import engine_names as registered

    return registered()


def engine_choices(*commands: str) -> str:
    """``llamacpp | openai | ...`` for the help of ``--engine`` when one of ``commands`` runs (or no shell started
    nt); else a word: other commands' help is built without importing the engine registry (pydantic)."""
    if invoked_command() not in (*commands, None):
        return "an engine name"
    return " | ".join(engine_names())


def engine_section(data: dict[str, Any], engine: str | None, model: str | None, base_url: str | None) -> dict:
    """The ``engine`` section after command-line options: switching away from the engine the section names drops
    that engine's keys; a section that names no engine is the settings of the engine the options choose (``engine:
    {model: m, max_retries: 2}`` with ``--base-url``: all kept). What ``--model`` sets and which engines take
    ``--base-url`` are the engine configs' own (``model_field``, a ``base_url`` field)."""
    from naturalthoughts.config import copy_mapping, set_option
    from naturalthoughts.engines.config import DEFAULT_ENGINE, engine_config_class

    section = copy_mapping(data.get("engine") or {})
    names = engine_names()
    served = [name for name in names if "base_url" in engine_config_class(name).model_fields]
    if engine is None and base_url is not None and section.get("engine", DEFAULT_ENGINE) not in served:
        engine = served[0]  # a base URL only makes sense for an endpoint
    if engine is not None and engine not in names:
        raise ConfigError(f"--engine {engine}: choose one of {', '.join(names)}")
    if engine is not None and "engine" not in section:
        set_option(section, "engine", engine)
    elif engine is not None and section["engine"] != engine:
        section = {"engine": engine}
    kind = section.get("engine", DEFAULT_ENGINE)
    config = engine_config_class(kind) if kind in names else None
    if model is not None:
        set_option(section, config.model_field if config is not None else "model", model)
    if base_url is not None:
        if kind not in served:
            raise ConfigError(f"--base-url is for --engine {' or '.join(served)}, not {kind}")
        set_option(section, "base_url", base_url)
    return section


def reporter(quiet: bool) -> Any:
    from naturalthoughts.progress import Reporter

    return Reporter(mode="off") if quiet else None


def run_stage(stage: Any, run: Path, *, force: bool = False, wait: bool = False, quiet: bool = False) -> Any:
    """Run ``stage`` in ``run`` through the runner; returns the :class:`~naturalthoughts.runner.StageOutcome`."""
    from naturalthoughts.runner import Runner

    with Runner(run, force=force, wait=wait, reporter=reporter(quiet)) as runner:
        outcome = runner.run_stage(stage)
    say_if_up_to_date(outcome)
    return outcome


def say_if_up_to_date(outcome: Any) -> None:
    """Say so when ``outcome`` is a stage that was up to date (and how to rerun it)."""
    from naturalthoughts.console import say

    if outcome.status == "up-to-date":
        summary = outcome.summary
        say(f"{outcome.key}: up to date (last run {outcome.record.get('finished_at')}"
            + (f": {summary}" if summary else "") + "); --force reruns it.")  # fmt: skip


_invocation: list[str] = []  # the arguments of this `nt` process (set by naturalthoughts.cli.main)


def invoked_command() -> str | None:
    """The command this `nt` process runs (``select`` for `nt select ...`; ``""`` for `nt --help`, where every
    command's summary is enough); None when `nt` was not started from a shell (tests, notebooks)."""
    if not _invocation:
        return None
    return next((arg for arg in _invocation if not arg.startswith("-")), "")


def this_command(default: str) -> str:
    """The command line the user typed (to run it again), or ``default`` when nt was not started from a shell."""
    import shlex

    return shlex.join(["nt", *_invocation]) if _invocation else default


def raise_for_outcomes(outcomes: Sequence[Any], command: str) -> None:
    """After the command printed what it did: a budget stop exits 6, failed items (``incomplete``) exit 7, each with
    its own advice (``command`` resumes or retries)."""
    stopped = [o for o in outcomes if o.status == "stopped"]
    if stopped:
        raise BudgetExceeded(
            f"{stopped[-1].key} stopped by a budget ({stopped[-1].problem}); finished work is saved. Raise the budget "
            f"and run `{command}` again to resume."
        )
    incomplete = [o for o in outcomes if o.status == "incomplete"]
    if incomplete:
        listed = "; ".join(f"{o.key}: {o.problem}" for o in incomplete)
        raise EngineFailure(
            f"incomplete: {listed}. Everything else is written; run `{command}` again to retry the failed items."
        )
