"""The stage contract: what every pipeline stage declares and returns.

A stage is a small class beside its package's code (``naturalthoughts/<stage>/stage.py``):

- ``name`` and ``config_model``: the manifest key and the pydantic model of its config;
- ``inputs(run)`` / ``outputs(run)``: the run-directory files it reads and writes (declared, so the runner can
  fingerprint them and decide whether the stage is up to date);
- ``check(run)``: cheap validation that needs no earlier stage's output (``nt run`` checks every stage before the
  first one runs, so a bad selection expression fails before hours of generation);
- ``run(ctx)``: the work; returns a :class:`StageResult` (counts, usage, files written).

- ``pipeline_stages(plan)``: the instances ``nt run`` (and each ``nt study`` cell) needs, from the stage's section
  of the pipeline config (the stage is registered in :mod:`naturalthoughts.registry`).

A stage knows nothing of the command line and never writes the manifest itself: :mod:`naturalthoughts.runner`
does that, skips a stage whose inputs, config and outputs match its last successful record, and records what
happened as one of the :data:`OUTCOMES`. Notebooks use the same path::

    from naturalthoughts.runner import Runner
    outcome = Runner("runs/demo").run_stage(GenerateStage(GenerateConfig(temperature=0.7)))
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel

from naturalthoughts.config import volatile_paths, without_paths
from naturalthoughts.digest import canonical_sha256
from naturalthoughts.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, BudgetExceeded, EngineFailure, Fix

if TYPE_CHECKING:
    import logging

    from naturalthoughts.pipeline import PipelinePlan
    from naturalthoughts.progress import Reporter
    from naturalthoughts.rundir import RunDir


# ---- outcomes --------------------------------------------------------------------------------------------------

Status = Literal["done", "up-to-date", "stopped", "incomplete", "failed", "interrupted", "terminated"]


@dataclass(frozen=True)
class OutcomeKind:
    """One way a stage run can end: its exit code, what it means and what ``nt run`` does next."""

    status: Status
    exit_code: int
    meaning: str
    then: str  # what `nt run` (and `nt study`) does after it


OUTCOMES: dict[str, OutcomeKind] = {o.status: o for o in (
    OutcomeKind("done", 0, "the stage ran and wrote every output", "goes on"),
    OutcomeKind("up-to-date", 0, "skipped: config, inputs and outputs match the last `done` record", "goes on"),
    OutcomeKind("stopped", BudgetExceeded.exit_code, "a budget (cost, tokens) ended the stage early; finished work "
                "is kept and a rerun with a larger budget resumes", "stops there (later stages would read a partial "
                "result)"),
    OutcomeKind("incomplete", EngineFailure.exit_code, "some items failed (requests that errored); the stage wrote "
                "everything else and names the count; a rerun retries only the failed items",
                "goes on to the end (the report included), then exits with this code naming the stages"),
    OutcomeKind("failed", 1, "an error stopped the stage (an NTError exits with its own code, 2-8)", "stops there"),
    OutcomeKind("interrupted", EXIT_INTERRUPTED, "SIGINT (Ctrl-C); finished work is kept, a rerun resumes",
                "stops there"),
    OutcomeKind("terminated", EXIT_TERMINATED, "SIGTERM; as interrupted", "stops there"),
)}  # fmt: skip


@dataclass
class Usage:
    """What a stage spent on models: requests actually sent (cache hits are free), tokens, cost, wall time."""

    requests_sent: int = 0
    cache_hits: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{name: getattr(self, name) + getattr(other, name) for name in _USAGE_FIELDS})

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cost_usd"] = round(self.cost_usd, 6)
        out["seconds"] = round(self.seconds, 3)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Usage:
        data = data or {}
        return cls(**{name: data[name] for name in _USAGE_FIELDS if name in data})


_USAGE_FIELDS = ("requests_sent", "cache_hits", "errors", "prompt_tokens", "completion_tokens", "cost_usd", "seconds")


@dataclass
class StageResult:
    """The uniform result of one stage run.

    ``counts`` are row counts worth a glance (``{"kept": 140, "duplicates": 3}``); ``summary`` is the one line
    ``nt run`` prints; ``extra`` goes into the manifest record as is; ``stopped`` names a budget that ended the
    stage early (outcome ``stopped``); ``incomplete`` says how many items failed and where the errors are
    recorded (outcome ``incomplete``). Either way the stage is not up to date, and the next run resumes it or
    retries the failed items. ``value`` is the stage's own rich result (an ``IngestResult``, a
    ``SelectionResult``...) for the CLI.
    """

    counts: dict[str, int] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    outputs: list[Path] = field(default_factory=list)
    summary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    stopped: str | None = None
    incomplete: str | None = None
    value: Any = None

    @property
    def status(self) -> Status:
        return "stopped" if self.stopped else "incomplete" if self.incomplete else "done"


@dataclass
class StageContext:
    """What the runner hands a stage: the run directory, progress, a logger and a stop check.

    ``progress`` draws a bar on a terminal and writes a line every few seconds otherwise (and always to the run's
    log file). ``should_stop()`` becomes true when the user asked the command to stop gracefully; engines check it
    before each dispatch. ``previous`` is the stage's last successful manifest record (None if it never ran), for
    stages that resume or account for earlier spend.
    """

    run: RunDir
    progress: Reporter
    log: logging.Logger
    should_stop: Callable[[], bool] = lambda: False
    previous: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # every earlier record of this stage, oldest first
    record_id: str = ""  # the manifest record of this run (the spend ledger files each request under it)


class Stage(abc.ABC):
    """One pipeline stage. Subclasses set ``name`` and ``config_model`` and implement the four methods."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    # What the stage reads and writes, as run-directory path patterns for the docs ("traces.parquet",
    # "selections/{name}.parquet"); inputs() and outputs() give the actual paths of one instance.
    reads: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[tuple[str, ...]] = ()
    # Recorded values that cannot change what the stage writes, beyond the config fields declared volatile where they
    # are defined (``Field(..., json_schema_extra=VOLATILE)``): dotted paths left out of the fingerprint.
    volatile: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: BaseModel | None = None, **args: Any) -> None:
        self.config = config if config is not None else self.config_model()
        # Arguments that are not part of the config model but change the outputs (ingest's sources, annotate's
        # --only, a selection's name): recorded and fingerprinted beside the config.
        self.args = args

    @property
    def key(self) -> str:
        """The manifest key: the stage name, or ``name:instance`` for stages that run once per item."""
        return self.name

    def recorded_config(self) -> dict[str, Any]:
        """The resolved config as written in the manifest (JSON-ready)."""
        return {**self.config.model_dump(mode="json"), **_jsonable(self.args)}

    def volatile_paths(self) -> frozenset[str]:
        """Dotted paths of the recorded config that cannot change the outputs: the config's fields declared
        volatile (at any depth, see :data:`naturalthoughts.config.VOLATILE`) and the class's ``volatile``."""
        return volatile_paths(self.config) | self.volatile

    def config_fingerprint(self) -> str:
        """sha256 of the recorded config without the volatile fields."""
        return canonical_sha256(without_paths(self.recorded_config(), self.volatile_paths()))

    @classmethod
    def pipeline_stages(cls, plan: PipelinePlan) -> list[Stage]:
        """The instances of this stage that ``nt run`` (or a study) needs: by default one, built from the stage's
        section of the pipeline config when it is set (see :mod:`naturalthoughts.registry`)."""
        section = plan.section(cls.name)
        return [] if section is None else [cls(section)]

    def check(self, run: RunDir) -> None:  # noqa: B027 - optional hook
        """Validate what can be validated before any stage runs; raise an NTError naming the problem."""

    @classmethod
    def refresh_fix(cls, record: dict[str, Any], run: RunDir) -> Fix:
        """What runs again the stage instance a manifest ``record`` describes (named in a stale-input error); a
        stage whose command needs more than the run directory names its options from the recorded config."""
        from naturalthoughts import registry

        return registry.spec(cls.name).fix().at(run)

    @abc.abstractmethod
    def inputs(self, run: RunDir) -> list[Path]:
        """Files this stage reads (inside or outside the run directory)."""

    @abc.abstractmethod
    def outputs(self, run: RunDir) -> list[Path]:
        """Files or folders this stage writes. A stage with no declared outputs is never up to date."""

    @abc.abstractmethod
    def run(self, ctx: StageContext) -> StageResult:
        """Do the work; raise an NTError for anything the user can act on."""


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
