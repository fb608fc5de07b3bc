"""What every command shares: the run-directory options, the engine options, and running a stage.

- ``RunOption``, ``ConfigOption``, ``ForceOption``, ``WaitOption``, ``QuietOption``: the same option, spelled and
  documented once, in every command.
- :func:`engine_section`: ``--engine/--model/--base-url`` applied to a config's ``engine`` section (``nt generate``
  and ``nt eval`` choose engines the same way); the engine names come from the engine registry.
- :func:`run_stage`: run one stage through the runner, say "up to date" when it was, and turn a budget stop into
  exit code 6 after the caller printed what was done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from naturalthoughts.errors import BudgetExceeded, ConfigError

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
    from naturalthoughts import engines

    names = getattr(engines, "ENGINE_NAMES", None)
    return tuple(names) if names else tuple(engines.ENGINES)


def engine_section(data: dict[str, Any], engine: str | None, model: str | None, base_url: str | None) -> dict:
    """The ``engine`` section after command-line options: switching engines drops the other engine's keys."""
    from naturalthoughts.config import copy_mapping, set_option

    section = copy_mapping(data.get("engine") or {})
    if engine is None and base_url is not None:
        engine = "openai"  # a base URL only makes sense for an HTTP endpoint
    names = engine_names()
    if engine is not None and engine not in names:
        raise ConfigError(f"--engine {engine}: choose one of {', '.join(names)}")
    if engine is not None and section.get("engine", "llamacpp") != engine:
        section = {"engine": engine}
    kind = section.get("engine", "llamacpp")
    if model is not None:
        set_option(section, "model_path" if kind == "llamacpp" else "model", model)
    if base_url is not None:
        if kind != "openai":
            raise ConfigError(f"--base-url is for --engine openai, not {kind}")
        set_option(section, "base_url", base_url)
    return section


def reporter(quiet: bool) -> Any:
    from naturalthoughts.progress import Reporter

    return Reporter(mode="off") if quiet else None


def run_stage(stage: Any, run: Path, *, force: bool = False, wait: bool = False, quiet: bool = False) -> Any:
    """Run ``stage`` in ``run`` through the runner; returns the :class:`~naturalthoughts.runner.StageOutcome`."""
    from naturalthoughts.console import say
    from naturalthoughts.runner import Runner

    with Runner(run, force=force, wait=wait, reporter=reporter(quiet)) as runner:
        outcome = runner.run_stage(stage)
    if outcome.status == "up to date":
        summary = outcome.summary
        say(f"{outcome.key}: up to date (last run {outcome.record.get('finished_at')}"
            + (f": {summary}" if summary else "") + "); --force reruns it.")
    return outcome


def raise_if_stopped(outcome: Any, command: str) -> None:
    """A budget stop is exit code 6, after the command printed what it did."""
    if outcome.status == "stopped":
        raise BudgetExceeded(
            f"{outcome.result.stopped}: stopped cleanly; finished work is saved. Raise the budget and run "
            f"`{command}` again to resume."
        )
