"""``nt train`` under ``accelerate launch`` (or ``torchrun``): one training job over several processes.

Every process runs the same command. The main process (rank 0) alone owns the run directory: it holds the lock,
builds the SFT data, decides through the runner whether training is up to date, and writes the manifest and the
model folder. It tells the other processes its decision (``run`` / ``skip`` / ``fail``) before any collective
work, so a stage that is up to date ends every process instead of leaving them waiting. The training itself is
the same code path as a single CPU run (:func:`naturalthoughts.train.stage.prepare`, ``trainer.train()``);
saving is collective (ZeRO-3 / FSDP gather the weights), the rest happens on the main process.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

# The main process may build the SFT data (tokenising a large selection) while the others wait for its decision.
DECISION_TIMEOUT = dt.timedelta(hours=6)


def broadcast(value: Any) -> Any:
    """``value`` from the main process, on every process."""
    from accelerate.utils import broadcast_object_list

    box = [value]
    broadcast_object_list(box, from_process=0)
    return box[0]


def run_distributed(run: Path, sft: Any, train: Any, *, force: bool = False, wait: bool = False,
                    quiet: bool = False) -> Any:  # fmt: skip
    """Run ``sft`` then ``train`` as one job of ``WORLD_SIZE`` processes; the main process returns the outcome."""
    from accelerate import PartialState

    from naturalthoughts.train.hardware import device

    # cpu=True on a machine without a GPU: accelerate then joins the processes over gloo (else each one runs alone)
    state = PartialState(cpu=device() == "cpu", timeout=DECISION_TIMEOUT)
    if state.is_main_process:
        return _main(run, sft, train, force=force, wait=wait, quiet=quiet)
    if broadcast(None) == "run":
        _worker(run, train)
    return None


def _main(run: Path, sft: Any, train: Any, **runner: Any) -> Any:
    from naturalthoughts.cli.common import run_stage

    announced: list[str] = []
    real_run = train.run

    def announce_then_run(ctx: Any) -> Any:
        announced.append(broadcast("run"))
        return real_run(ctx)

    train.run = announce_then_run
    try:
        run_stage(sft, run, **runner)
        outcome = run_stage(train, run, **runner)
    except BaseException:
        if not announced:
            broadcast("fail")
        raise
    if not announced:
        broadcast("skip")
    return outcome


def _worker(run: Path, train: Any) -> None:
    from naturalthoughts.progress import quiet_reporter
    from naturalthoughts.rundir import RunDir
    from naturalthoughts.stage import StageContext

    ctx = StageContext(run=RunDir(run), progress=quiet_reporter(), log=logging.getLogger("naturalthoughts.train"))
    train.run(ctx)
