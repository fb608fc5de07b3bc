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
                    reporter: Any = None) -> list[Any] | None:  # fmt: skip
    """Run ``sft`` then ``train`` as one job of ``WORLD_SIZE`` processes; the main process returns their outcomes."""
    from accelerate import PartialState

    from naturalthoughts.train.hardware import device

    # cpu=True on a machine without a GPU: accelerate then joins the processes over gloo (else each one runs alone)
    state = PartialState(cpu=device() == "cpu", timeout=DECISION_TIMEOUT)
    try:
        if state.is_main_process:
            return _main(run, sft, train, force=force, wait=wait, reporter=reporter)
        if broadcast(None) == "run":
            from naturalthoughts.runner import run_worker

            run_worker(train, run)
        return None
    finally:
        _leave_process_group()


def _leave_process_group() -> None:
    """End this process's part of the group before the interpreter exits: a worker that exited with gloo's threads
    still running aborted ("terminate called without an active exception") after an up-to-date decision."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _main(run: Path, sft: Any, train: Any, **runner_options: Any) -> list[Any]:
    """The main process: both stages through one runner (lock, manifest), telling the workers whether to train."""
    from naturalthoughts.runner import Runner

    announced: list[str] = []
    real_run = train.run

    def announce_then_run(ctx: Any) -> Any:
        announced.append(broadcast("run"))
        return real_run(ctx)

    train.run = announce_then_run
    try:
        with Runner(run, **runner_options) as runner:
            outcomes = [runner.run_stage(sft), runner.run_stage(train)]
    except BaseException:
        if not announced:
            broadcast("fail")
        raise
    if not announced:
        broadcast("skip")
    return outcomes
