"""The train stage: SFT data -> a fine-tuned student under ``models/NAME/`` (TRL SFTTrainer).

Output folder (built in a hidden staging folder, renamed into place when complete):

- the **merged weights** and tokenizer at the top (``AutoModelForCausalLM.from_pretrained(models/NAME)``), for
  evaluation and GGUF export; with LoRA also ``adapter/`` (the PEFT adapter alone);
- ``README.md`` (model card with provenance), ``training.json`` (the same, machine-readable), ``loss.parquet``
  (LOSS_LOG) and ``loss.png``.

Checkpoints go to ``checkpoints/NAME/`` while training. A rerun after an interruption (Ctrl-C, SIGTERM, a crash)
with the same config and data resumes from the last checkpoint and continues the step count; the first Ctrl-C or
SIGTERM finishes the current step and saves a checkpoint before stopping, a second one stops at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import signal
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from naturalthoughts import __version__
from naturalthoughts.atomic import replace_dir
from naturalthoughts.errors import ConfigError, Fix, MissingInputError, Terminated
from naturalthoughts.manifest import fingerprint
from naturalthoughts.names import check_name
from naturalthoughts.rundir import RunDir
from naturalthoughts.sft import exports
from naturalthoughts.stage import Stage, StageContext, StageResult
from naturalthoughts.student import resolve_student, student_label, student_source
from naturalthoughts.text import modes
from naturalthoughts.text.chat_templates import inference_template
from naturalthoughts.train import card
from naturalthoughts.train.config import TrainConfig

if TYPE_CHECKING:
    from naturalthoughts.pipeline import PipelinePlan

ADAPTER_DIR = "adapter"
CHECKPOINTS_DIR = "checkpoints"
IDENTITY_JSON = "nt-identity.json"


class TrainStage(Stage):
    """``train:NAME``: reads ``sft/SFT/train.parquet`` (and the student); writes ``models/NAME/``."""

    name = "train"
    config_model = TrainConfig
    reads = ("sft/NAME/train.parquet", "sft/NAME/meta.json", "the student model")
    writes = ("models/NAME/", "checkpoints/NAME/ (while training)")

    def __init__(self, config: TrainConfig | None = None, *, sft: str, name: str | None = None) -> None:
        super().__init__(config, sft=sft, name=sft if name is None else name)

    @classmethod
    def pipeline_stages(cls, plan: PipelinePlan) -> list[Stage]:
        return [cls(s.train, sft=s.name, name=s.name) for s in plan.students if s.train is not None]

    @property
    def key(self) -> str:
        return f"train:{self.args['name']}"

    def sft_folder(self, run: RunDir) -> Path:
        return run.sft_dir / self.args["sft"]

    def model_folder(self, run: RunDir) -> Path:
        return run.models_dir / self.args["name"]

    def checkpoint_folder(self, run: RunDir) -> Path:
        return run.root / CHECKPOINTS_DIR / self.args["name"]

    def inputs(self, run: RunDir) -> list[Path]:
        folder = self.sft_folder(run)
        source = student_source(self.config.student)
        return [folder / exports.TRAIN_PARQUET, folder / exports.META_JSON] + ([source] if source else [])

    def outputs(self, run: RunDir) -> list[Path]:
        return [self.model_folder(run)]

    def check(self, run: RunDir) -> None:
        check_name(self.args["sft"], "SFT data name")
        check_name(self.args["name"], "model name")
        student = self.config.student
        if student is not None and student.startswith((".", "/", "~")) and not Path(student).expanduser().exists():
            raise ConfigError(f"student {student}: no such folder")

    def run(self, ctx: StageContext) -> StageResult:
        return _train(self, ctx)


# ---- the run ---------------------------------------------------------------------------------------------------


def _read_sft(stage: TrainStage, run: RunDir) -> tuple[Any, dict[str, Any]]:
    folder = stage.sft_folder(run)
    if not (folder / exports.TRAIN_PARQUET).exists():
        raise MissingInputError(
            f"{folder / exports.TRAIN_PARQUET} does not exist: run {{fix}} first (training a selection builds it too).",
            fix=Fix("sft-data", selection="SELECTION", mix="POLICY").at(run),
        )
    meta = json.loads((folder / exports.META_JSON).read_text(encoding="utf-8"))
    if meta.get("student") != student_label(stage.config.student):
        raise ConfigError(
            f"{folder} was rendered with the chat template of {meta.get('student')}, not of "
            f"{student_label(stage.config.student)}: rebuild it for this student: {{fix}}.",
            fix=Fix("sft-data", selection="SELECTION", student=stage.config.student or "STUDENT").at(run),
        )
    table = pq.read_table(folder / exports.TRAIN_PARQUET)
    if table.num_rows == 0:
        raise MissingInputError(f"{folder}: no training examples (every selected trace was dropped: see meta.json)")
    from datasets import Dataset

    messages = table.column("messages").to_pylist()
    columns: dict[str, list[Any]] = {"prompt": [m[:-1] for m in messages], "completion": [m[-1:] for m in messages]}
    if "chat_template_kwargs" in table.column_names:
        kwargs = [json.loads(k) if k else {} for k in table.column("chat_template_kwargs").to_pylist()]
        if any(kwargs):  # TRL renders each row with its own keywords (Qwen's enable_thinking per mode)
            columns["chat_template_kwargs"] = kwargs
    return Dataset.from_dict(columns), meta


def _check_trained(trainer: Any, rows: list[dict[str, Any]], folder: Path) -> int:
    """The loss-mask check again, on the labels TRL built: every example trains on its whole reasoning (System-2)
    or none of it (System-1). Returns the number of examples checked."""
    from naturalthoughts.sft.loss_check import trained_problem, trained_text

    tokenizer = trainer.processing_class
    failed = []
    for row, example in zip(rows, trainer.train_dataset, strict=True):
        trained = trained_text(tokenizer, example["input_ids"], example["labels"])
        problem = trained_problem(tokenizer, trained, row["mode"] == "system-2", row["messages"][-1]["content"])
        if problem:
            failed.append((row["trace_id"], problem))
    if failed:
        raise ConfigError(
            f"{folder}: {len(failed):,} of {len(rows):,} examples fail the loss-mask check as TRL tokenised them "
            f"(e.g. trace {failed[0][0]}: {failed[0][1]}); rebuild the SFT data for this student (its chat template "
            "changed since?): {fix}.",
            fix=Fix("sft-data", selection="SELECTION", force=True).at(folder.parent.parent),
        )
    return len(rows)


def _identity(stage: TrainStage, run: RunDir, student: str, world: int) -> dict[str, Any]:
    """What a checkpoint must have been trained with to be resumed."""
    return {
        "config_sha256": stage.config_fingerprint(),
        "sft_sha256": fingerprint(stage.sft_folder(run) / exports.TRAIN_PARQUET).get("sha256"),
        "student": student,
        "world_size": world,
    }


def _resume_point(folder: Path, identity: dict[str, Any], note: Any) -> str | None:
    """The last checkpoint to resume from, or None (a fresh start; stale checkpoints are removed)."""
    from transformers.trainer_utils import get_last_checkpoint

    marker = folder / IDENTITY_JSON
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == identity:
        return get_last_checkpoint(str(folder))
    if folder.exists():
        note(f"{folder}: checkpoints from another config or data; starting afresh")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    marker.write_text(json.dumps(identity, indent=2) + "\n", encoding="utf-8")
    return None


def _previous_sessions(checkpoint: str | None) -> tuple[int, float, int]:
    """(session number, training seconds so far, tokens so far) from the checkpoint's log history."""
    if checkpoint is None:
        return 0, 0.0, 0
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
    logged = [e for e in state.get("log_history", []) if "elapsed_s" in e]
    if not logged:
        return 1, 0.0, 0
    last = logged[-1]
    return int(last.get("session", 0)) + 1, float(last["elapsed_s"]), int(last.get("num_tokens", 0))


class _GracefulStop:
    """The first SIGINT/SIGTERM asks training to stop after the current step; a second one interrupts at once."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.signal: int | None = None

    def __call__(self) -> bool:
        return self.signal is not None or self.ctx.should_stop()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None:
            raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        self.signal = signum
        self.ctx.progress.note("stopping after this step and saving a checkpoint (again to stop at once)")

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def raise_if_stopped(self, step: int, checkpoints: Path) -> None:
        if self.signal is None and not self.ctx.should_stop():
            return
        self.ctx.progress.note(f"stopped at step {step:,}; checkpoint in {checkpoints}: rerun the command to resume")
        raise Terminated() if self.signal == signal.SIGTERM else KeyboardInterrupt()


@dataclass
class Prepared:
    """A trainer ready to run, with what the stage needs around it."""

    trainer: Any  # NTTrainer
    args: Any  # trl.SFTConfig
    meta: dict[str, Any]  # the SFT data's meta.json
    student: str  # the folder (or Hub id) the weights were loaded from
    world: int
    precision: str
    is_main: bool
    resume: str | None  # the checkpoint training resumes from
    checkpoints: Path
    examples: int
    checked: int  # examples whose TRL labels passed the loss-mask check


def prepare(stage: TrainStage, run: RunDir, note: Any = None) -> Prepared:
    """Read the SFT data, resolve the student and the resume point, and build the trainer (the data tokenised)."""
    from transformers import AutoTokenizer, PrinterCallback

    from naturalthoughts.train.hardware import device, world_size
    from naturalthoughts.train.trainer import NTTrainer, lora_config, sft_config

    note = note or (lambda message: None)
    _quiet_libraries()
    if device() == "cpu":
        from naturalthoughts.resources import torch_threads
        from naturalthoughts.train.trainer import small_logit_tiles

        torch_threads()  # the cores this process may use (affinity, cgroup quota), not every core it sees
        small_logit_tiles()  # no full-vocabulary tiles of logits in memory
    config = stage.config
    dataset, meta = _read_sft(stage, run)
    if meta["counts"]["max_tokens"] > config.tokens_per_micro_batch:
        raise ConfigError(
            f"{stage.sft_folder(run)} holds examples of {meta['counts']['max_tokens']:,} tokens, more than "
            f"tokens_per_micro_batch ({config.tokens_per_micro_batch:,}): rebuild it with a smaller max_length, or "
            "raise tokens_per_micro_batch."
        )
    student = resolve_student(config.student, note=note)
    world = world_size()
    checkpoints = stage.checkpoint_folder(run)
    precision = config.precision_for(device())
    args = sft_config(config, str(checkpoints), precision, len(dataset), world)
    is_main = args.process_index == 0
    resume = _resume_point(checkpoints, _identity(stage, run, student, world), note) if is_main else None
    if world > 1:  # every process resumes from the checkpoint the main process chose
        from naturalthoughts.train.distributed import broadcast

        resume = broadcast(resume)
    session, elapsed_before, tokens_before = _previous_sessions(resume)
    tokenizer = AutoTokenizer.from_pretrained(student)
    if meta.get("chat_template"):  # the template sft-data rendered and checked with (TRL's training one, say)
        tokenizer.chat_template = meta["chat_template"]
    trainer = NTTrainer(
        model=student,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(config) if config.method == "lora" else None,
        tokens_per_micro_batch=config.micro_batch_tokens(world),
        session=session,
    )
    trainer.elapsed_before = elapsed_before
    trainer.continue_token_count(tokens_before)
    trainer.remove_callback(PrinterCallback)  # nt reports progress itself (ctx.progress)
    rows = pq.read_table(stage.sft_folder(run) / exports.TRAIN_PARQUET, columns=["trace_id", "mode", "messages"])
    checked = _check_trained(trainer, rows.to_pylist(), stage.sft_folder(run))
    return Prepared(trainer=trainer, args=args, meta=meta, student=student, world=world, precision=precision,
                    is_main=is_main, resume=resume, checkpoints=checkpoints, examples=len(dataset),
                    checked=checked)  # fmt: skip


def _quiet_libraries() -> None:
    """Progress and results go through nt's reporter: silence the libraries' own bars, prints and advice."""
    import datasets
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    logging.getLogger("trl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning, message=".*(gradient|activation)_checkpointing")


def _train(stage: TrainStage, ctx: StageContext) -> StageResult:
    from naturalthoughts.train.trainer import ProgressCallback, StopCallback, TrimHeapCallback

    run, config = ctx.run, stage.config
    prepared = prepare(stage, run, ctx.progress.note)
    trainer, args, checkpoints, is_main = prepared.trainer, prepared.args, prepared.checkpoints, prepared.is_main
    stop = _GracefulStop(ctx)
    stopper = StopCallback(stop)
    first_step = _checkpoint_step(prepared.resume)
    total = _planned_steps(trainer, config, args) - first_step
    label = f"train {stage.args['name']}" + (f" (resumed at step {first_step:,})" if first_step else "")
    with ctx.progress.task(label, total=max(total, 0), unit="steps") as task:
        trainer.add_callback(ProgressCallback(task, first_step))
        trainer.add_callback(stopper)
        trainer.add_callback(TrimHeapCallback())
        with stop.installed():
            output = trainer.train(resume_from_checkpoint=prepared.resume)
    stop.raise_if_stopped(trainer.state.global_step, checkpoints)
    loss = card.loss_table(trainer.state.log_history)
    target = stage.model_folder(run)
    staging = target.with_name(f".{target.name}.staging.tmp")
    if is_main:
        shutil.rmtree(staging, ignore_errors=True)
    if prepared.meta.get("chat_template"):  # the model folder renders prompts exactly as training did
        trainer.processing_class.chat_template = inference_template(prepared.meta["chat_template"])
    _save(trainer, config, prepared.student, staging, is_main)
    result = {
        "steps": trainer.state.global_step,
        "resumed_from_step": first_step,
        "epochs": round(float(trainer.state.epoch or 0.0), 4),
        "train_loss": round(float(output.training_loss), 6),
        "final_loss": loss.column("loss")[-1].as_py() if loss.num_rows else None,
        "first_loss": loss.column("loss")[0].as_py() if loss.num_rows else None,
        "tokens": loss.column("tokens")[-1].as_py() if loss.num_rows else None,
        "seconds": loss.column("elapsed_s")[-1].as_py() if loss.num_rows else None,
        "precision": prepared.precision,
        "world_size": prepared.world,
        "distributed": str(trainer.accelerator.distributed_type.value),  # NO | MULTI_CPU | MULTI_GPU | FSDP | DEEPSPEED
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "loss_mask_checked": prepared.checked,
    }
    if is_main:
        pq.write_table(loss, staging / card.LOSS_PARQUET, compression="zstd")
        card.write_card(staging, _training_record(stage, run, prepared.meta, prepared.student, result), loss)
        replace_dir(staging, target)
        if not config.keep_checkpoints:
            shutil.rmtree(checkpoints, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    precision, examples = prepared.precision, prepared.examples
    release_trainer(trainer)
    del trainer, prepared
    summary = (
        f"{result['steps']:,} steps, loss {result['first_loss'] or 0:.3f} -> {result['final_loss'] or 0:.3f} "
        f"({precision}, {config.method}) -> {target}"
    )
    return StageResult(
        counts={"examples": examples, "steps": result["steps"], "tokens": int(result["tokens"] or 0)},
        outputs=[target],
        summary=summary,
        extra={"result": result, "model": str(target)},
        value=result | {"model": str(target)},
    )


def release_trainer(trainer: Any) -> None:
    """Drop what keeps the model, its optimizer and its data alive beyond the trainer (accelerate holds references),
    so the next stage of the same process (an evaluation) starts without them."""
    from naturalthoughts.resources import release_memory

    trainer.accelerator.free_memory()
    for name in ("model", "model_wrapped", "optimizer", "lr_scheduler", "train_dataset"):
        if hasattr(trainer, name):
            setattr(trainer, name, None)
    release_memory()


def _checkpoint_step(checkpoint: str | None) -> int:
    return int(Path(checkpoint).name.rsplit("-", 1)[-1]) if checkpoint else 0


def _planned_steps(trainer: Any, config: TrainConfig, args: Any) -> int:
    """Optimizer steps the run will make (the trainer's own arithmetic), for the progress bar."""
    if config.max_steps:
        return config.max_steps
    from naturalthoughts.train.batching import TokenBudgetBatchSampler

    lengths = [len(ids) for ids in trainer.train_dataset["input_ids"]]
    budget = config.micro_batch_tokens(args.world_size)
    sampler = TokenBudgetBatchSampler(lengths, budget, multiple_of=args.world_size)
    batches = len(sampler) // args.world_size
    accumulation = args.gradient_accumulation_steps
    per_epoch = max(batches // accumulation + int(batches % accumulation > 0), 1)
    return per_epoch * int(args.num_train_epochs)


def _save(trainer: Any, config: TrainConfig, student: str, staging: Path, is_main: bool) -> None:
    """The adapter (LoRA) or the weights (full) into ``staging``; then the merged LoRA weights on the main process."""
    if config.method == "full":
        trainer.save_model(str(staging))
        return
    trainer.save_model(str(staging / ADAPTER_DIR))
    trainer.accelerator.wait_for_everyone()
    in_place = trainer.accelerator.num_processes == 1 and held_dtype(trainer.model) == stored_dtype(student)
    if is_main and config.merge and in_place:
        merge_in_place(trainer.model, student, staging)  # no second copy of the weights in memory
        trainer.processing_class.save_pretrained(str(staging))
    elif is_main and config.merge:  # sharded training, or a base held in bf16: the stored weights take the deltas
        merge_adapter(student, staging / ADAPTER_DIR, staging)
    elif is_main:
        trainer.processing_class.save_pretrained(str(staging))


def stored_dtype(base: str) -> Any:
    """The dtype ``base``'s folder stores its weights in (``None`` when its config does not say)."""
    import torch
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(base)
    stored = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(stored, str):  # older configs hold the name ("bfloat16")
        stored = getattr(torch, stored, None)
    return stored if isinstance(stored, torch.dtype) else None


def held_dtype(model: Any) -> Any:
    """The dtype of the frozen base weights ``model`` holds (its first parameter that is not trained)."""
    return next((p.dtype for p in model.parameters() if not p.requires_grad), None)


def merge_in_place(model: Any, base: str, out: Path) -> None:
    """The trained PEFT ``model``'s LoRA deltas merged into its own base weights (no second copy loaded), saved in
    the base's stored dtype. The model is spent afterwards (its LoRA layers are gone)."""
    stored = stored_dtype(base)
    merged = model.merge_and_unload()
    if stored is not None:
        merged.to(stored)  # in place: the float32 master weights become the stored dtype, as a fresh load would be
    merged.save_pretrained(str(out))


def merge_adapter(base: str, adapter: Path, out: Path) -> None:
    """Base weights + LoRA adapter -> one merged model folder (in the base's stored dtype) with the tokenizer."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype="auto")
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    merged.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(
        str(adapter) if (adapter / "tokenizer_config.json").exists() else base
    ).save_pretrained(str(out))


def _training_record(
    stage: TrainStage, run: RunDir, meta: dict[str, Any], student: str, result: dict[str, Any]
) -> dict[str, Any]:
    sft = {k: v for k, v in meta.items() if k not in ("chat_template", "template")}
    template = meta.get("template") or {"family": "generic", "source": "student"}
    instructions = template.get("instructions") or {mode: modes.instruction(mode) for mode in modes.MODES}
    return {
        "name": stage.args["name"],
        "run": str(run.root),
        "sft_name": stage.args["sft"],
        "student": student_label(stage.config.student),
        "student_path": student,
        "sft": sft,
        "hyperparameters": stage.config.model_dump(mode="json"),
        "chat_template": template,
        "instructions": {
            "think": instructions.get("think"),
            "no-think": instructions.get("no-think"),
            "no_think_marker": template.get("no_think_marker", modes.NO_THINK_MARKER),
        },
        "result": result,
        "naturalthoughts_version": __version__,
    }
