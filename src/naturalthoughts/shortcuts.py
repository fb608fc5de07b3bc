"""Notebook shortcuts: one per registered stage, all with one signature.

::

    name(run, config=None, *, force=False, quiet=False, wait=False, **options) -> StageOutcome

``config`` is the stage's pydantic config (default: its defaults); a keyword that names one of its fields sets that
field (``select(run, method="random", size=100)``), any other keyword is the stage's own argument
(``annotate(run, only=["length"])``, ``ingest(run, sources=["builtin:sample"])``). The stage runs through the
runner, exactly as on the command line: it is skipped when up to date unless ``force``. The outcome says what
happened (``status``: done, up-to-date, stopped, incomplete) and reads as the stage's own result
(``select(...).eligible``, ``generate(...).usage``) when the stage ran.

The shortcuts are built here from :mod:`naturalthoughts.registry`; each stage package re-exports its own
(``naturalthoughts.select.select`` is ``shortcut("select")``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from naturalthoughts.rundir import RunDir
    from naturalthoughts.runner import StageOutcome

Shortcut = Callable[..., "StageOutcome"]


@functools.cache
def shortcut(stage: str) -> Shortcut:
    """The shortcut of the registered stage ``stage`` (see the module docstring)."""
    from naturalthoughts import registry

    spec = registry.spec(stage)

    def run_stage(
        run: RunDir | str | os.PathLike[str],
        config: Any = None,
        *,
        force: bool = False,
        quiet: bool = False,
        wait: bool = False,
        **options: Any,
    ) -> StageOutcome:
        from naturalthoughts.progress import Reporter
        from naturalthoughts.runner import Runner

        cls = spec.stage_class()
        config = _config(cls.config_model, config, options, stage)
        reporter = Reporter(mode="off") if quiet else None
        return Runner(run, force=force, wait=wait, reporter=reporter).run_stage(cls(config, **options))

    run_stage.__name__ = run_stage.__qualname__ = stage.replace("-", "_")
    run_stage.__doc__ = (
        f"Run the `{stage}` stage in ``run`` through the runner (see :mod:`naturalthoughts.shortcuts`): "
        f"``config`` is a {spec.config.rsplit(':', 1)[-1]}; keywords naming its fields set them, other keywords "
        "are the stage's own arguments."
    )
    return run_stage


def _config(model: Any, config: Any, options: dict[str, Any], stage: str) -> Any:
    """``config`` (or the defaults) with the keywords of ``options`` that are config fields applied (removed from
    ``options``), validated with errors naming the field."""
    from naturalthoughts.config import validate

    fields = {name: options.pop(name) for name in list(options) if name in model.model_fields}
    if not fields:
        return config
    base = config.model_dump(exclude_unset=True) if config is not None else {}
    return validate(model, {**base, **fields}, source=f"{stage} options")


def __getattr__(name: str) -> Shortcut:
    """``naturalthoughts.shortcuts.sft_data`` and the like: the shortcut of every registered stage by its name."""
    from naturalthoughts import registry

    stage = name.replace("_", "-")
    if any(spec.name == stage for spec in registry.specs()):
        return shortcut(stage)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
