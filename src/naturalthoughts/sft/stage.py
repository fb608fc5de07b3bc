"""The sft-data stage: a selection -> chat-format SFT examples with System-1/System-2 mixing, under ``sft/NAME/``.

Steps: join the selection with its traces and questions; keep complete responses (``complete`` and no error), each
answer up to a made-up next turn (:func:`naturalthoughts.text.answers.before_made_up_turn`, counted in ``answers_cut``);
render each as a System-2 example with the student's chat template and drop the ones that do not fit
``max_length`` (counted, never truncated: TRL would keep the start of an over-long example and train the student
on a reasoning with no answer); then the mixing policy chooses each kept example's form. Because the fit is
decided on the full (System-2) form, every mix of one selection trains on the same questions and the realised
shares are exact for a seed.

The chat template is TRL's training template for the student's family when the installed TRL has one
(:mod:`naturalthoughts.text.chat_templates`), and the examples follow the family's mode switch
(:mod:`naturalthoughts.text.modes`). Every example is then checked at the loss mask
(:mod:`naturalthoughts.sft.loss_check`); one that would not train on its whole reasoning (System-2), or would
train on some of it (System-1), stops the stage with an error naming the student, the family and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.atomic import atomic_dir, write_json
from naturalthoughts.errors import BadInputError, ConfigError, Fix, MissingInputError
from naturalthoughts.manifest import fingerprint
from naturalthoughts.names import check_name
from naturalthoughts.rundir import RunDir
from naturalthoughts.sft import exports
from naturalthoughts.sft.config import SftDataConfig
from naturalthoughts.sft.examples import (
    SYSTEM1,
    SYSTEM2,
    Source,
    conversation,
    instruction_mode,
    template_kwargs,
    text_tokens,
)
from naturalthoughts.sft.loss_check import example_problem, tokenise
from naturalthoughts.sft.mix import ADAPTIVE_STREAM, MixPolicy, assign_system2, exact_count, parse_mix, seeded_subset
from naturalthoughts.stage import Stage, StageContext, StageResult
from naturalthoughts.student import load_student_tokenizer, student_label, student_source
from naturalthoughts.tables import SFT_DROPPED, SFT_EXAMPLES
from naturalthoughts.text import chat_templates, modes
from naturalthoughts.text.answers import before_made_up_turn
from naturalthoughts.text.chat_templates import ChatTemplate

if TYPE_CHECKING:
    from naturalthoughts.pipeline import PipelinePlan
TRACE_COLUMNS = ["trace_id", "question_id", "reasoning", "answer", "complete", "error"]
CHUNK = 512  # examples rendered per progress update


def sft_name(selection: str, mix: str) -> str:
    """``random-40`` for the pure System-2 data of a selection, ``random-40+random-0.4`` for a mix."""
    policy = parse_mix(mix)
    return selection if policy.kind == "none" else f"{selection}+{policy.slug}"


class SftDataStage(Stage):
    """``sft-data:NAME``: reads ``selections/SELECTION.parquet``, traces, questions (and annotations for
    ``difficulty``); writes ``sft/NAME/`` (train.parquet, train.jsonl, sharegpt.json, dataset_info.json,
    dropped.parquet, meta.json)."""

    name = "sft-data"
    config_model = SftDataConfig
    reads = ("selections/SELECTION.parquet", "traces.parquet", "questions.parquet", "annotations.parquet (mix)")
    writes = ("sft/NAME/",)

    def __init__(self, config: SftDataConfig | None = None, *, selection: str, name: str | None = None) -> None:
        config = config if config is not None else SftDataConfig()
        super().__init__(config, selection=selection, name=sft_name(selection, config.mix) if name is None else name)

    @classmethod
    def pipeline_stages(cls, plan: PipelinePlan) -> list[Stage]:
        return [cls(student.sft, selection=student.selection, name=student.name) for student in plan.students]

    @property
    def key(self) -> str:
        return f"sft-data:{self.args['name']}"

    @property
    def policy(self) -> MixPolicy:
        return parse_mix(self.config.mix)

    def folder(self, run: RunDir) -> Path:
        return run.sft_dir / self.args["name"]

    def inputs(self, run: RunDir) -> list[Path]:
        paths = [run.selection(self.args["selection"]), run.traces, run.questions]
        if self.policy.needs_disagree:
            paths.append(run.annotations)
        source = student_source(self.config.student)
        template = [Path(self.config.chat_template).expanduser()] if self.config.chat_template else []
        return paths + ([source] if source is not None else []) + template

    def outputs(self, run: RunDir) -> list[Path]:
        return [self.folder(run)]

    def check(self, run: RunDir) -> None:
        check_name(self.args["selection"], "selection")
        check_name(self.args["name"], "SFT data name")
        template = self.config.chat_template
        if template is not None and not Path(template).expanduser().is_file():
            raise ConfigError(f"sft.chat_template {template}: no such file (give a Jinja chat template, .jinja)")

    def run(self, ctx: StageContext) -> StageResult:
        run, config = ctx.run, self.config
        selection_path = run.selection(self.args["selection"])
        if not selection_path.exists():
            raise MissingInputError(
                f"{selection_path} does not exist: run {{fix}} first (or name an existing selection: ls selections/).",
                fix=Fix("select", method="EXPR", size="N", name=self.args["selection"]).at(run),
            )
        sources, dropped = _load_sources(run, selection_path)
        selected = len(sources) + len(dropped)
        tokenizer = load_student_tokenizer(config.student)
        template = chat_templates.resolve(tokenizer, config.chat_template)
        student = Student(tokenizer, template, modes.switch_for(template.family), student_label(config.student))
        if config.adaptive_share > 0 and not student.switch.adaptive:
            raise ConfigError(
                f"student {student.label} ({student.switch.label}): its chat template fixes the mode in the "
                f"generation prompt ({student.switch.switch}), so it has no adaptive mode to train: set "
                "adaptive_share to 0."
            )
        built = _build(self.policy, config, sources, student, ctx, self.key)
        dropped.extend(built.dropped)
        provenance = _provenance(run, selection_path, self.args["selection"])
        meta = _meta(self, built, dropped, provenance, student, selected, sum(source.cut for source in sources))
        folder = self.folder(run)
        with atomic_dir(folder) as tmp:
            files = exports.write_all(built.table, tmp)
            pq.write_table(_dropped_table(dropped), tmp / exports.DROPPED_PARQUET, compression="zstd")
            write_json({**meta, "files": files}, tmp / exports.META_JSON)
        counts = meta["counts"]
        shares = meta["shares"]
        summary = (
            f"{counts['examples']:,} examples ({shares['system2']:.0%} System-2) -> {folder}; dropped "
            f"{counts['too_long']:,} too long, {counts['incomplete']:,} incomplete; loss mask checked on "
            f"{counts['loss_checked']:,} ({student.template.source})"
        )
        return StageResult(
            counts=counts,
            outputs=[folder],
            summary=summary,
            extra={"mix": config.mix, "shares": shares, "sft": str(folder)},
            value=meta,
        )


# ---- reading -----------------------------------------------------------------------------------------------------


def _load_sources(run: RunDir, selection_path: Path) -> tuple[list[Source], list[dict[str, Any]]]:
    """Complete selected traces with their questions, in selection order; the rest as dropped rows."""
    selection = pq.read_table(selection_path, columns=["trace_id", "rank"])
    selection = selection.take(pc.sort_indices(selection, [("rank", "ascending")]))
    wanted = selection.column("trace_id").to_pylist()
    if not wanted:
        raise BadInputError(
            f"{selection_path}: the selection is empty, so there is nothing to train on; select again with an "
            "expression that finds eligible traces (its note says why none were): {fix}",
            fix=Fix("select", method="EXPR", size="N", name=selection_path.stem).at(run),
        )
    traces = pq.read_table(run.require("traces"), columns=TRACE_COLUMNS, filters=[("trace_id", "in", wanted)])
    by_id = {row["trace_id"]: row for row in traces.to_pylist()}
    missing = [t for t in wanted if t not in by_id]
    if missing:
        raise MissingInputError(
            f"{selection_path.name}: {len(missing):,} selected trace(s) are not in traces.parquet (e.g. "
            f"{missing[0]}): the traces changed after the selection; select again: {{fix}}.",
            fix=Fix("select", method="EXPR", size="N", name=selection_path.stem).at(run),
        )
    question_ids = sorted({row["question_id"] for row in by_id.values()})
    questions = pq.read_table(
        run.require("questions"), columns=["id", "question"], filters=[("id", "in", question_ids)]
    )
    text_of = dict(zip(questions.column("id").to_pylist(), questions.column("question").to_pylist(), strict=True))
    sources: list[Source] = []
    dropped: list[dict[str, Any]] = []
    for trace_id, rank in zip(wanted, selection.column("rank").to_pylist(), strict=True):
        row = by_id[trace_id]
        if not row["complete"] or row["error"] is not None or not row["reasoning"] or not row["answer"]:
            dropped.append({"trace_id": trace_id, "reason": "incomplete", "tokens": None})
        elif text_of.get(row["question_id"]) is None:
            dropped.append({"trace_id": trace_id, "reason": "no_question", "tokens": None})
        else:
            answer = before_made_up_turn(row["answer"])  # the checker reads no further; a student should not learn it
            sources.append(Source(trace_id, row["question_id"], rank, text_of[row["question_id"]],
                                  row["reasoning"], answer, cut=answer != row["answer"]))  # fmt: skip
    return sources, dropped


def _disagree(run: RunDir, sources: list[Source]) -> list[bool | None]:
    if not run.annotations.exists() or "disagree" not in pq.read_schema(run.annotations).names:
        raise MissingInputError(
            "mix difficulty needs annotations.disagree: run {fix} first.",
            fix=Fix("annotate", only="disagree").at(run),
        )
    table = pq.read_table(run.annotations, columns=["trace_id", "disagree"])
    value = dict(zip(table.column("trace_id").to_pylist(), table.column("disagree").to_pylist(), strict=True))
    return [value.get(s.trace_id) for s in sources]


# ---- building ----------------------------------------------------------------------------------------------------


class Student:
    """The student's tokenizer, the template the examples are rendered with, and its family's mode switch."""

    def __init__(self, tokenizer: Any, template: ChatTemplate, switch: modes.ModeSwitch, label: str) -> None:
        self.tokenizer = tokenizer
        self.template = template
        self.switch = switch
        self.label = label

    def tokenise(self, conversations: list[list[dict[str, str]]], kwargs: list[dict[str, Any]]) -> list[Any]:
        return tokenise(self.tokenizer, conversations, kwargs, self.template.text or None)


class Built:
    """The kept examples as an SFT_EXAMPLES table, the dropped ones, and how many had an unknown difficulty."""

    def __init__(self, table: pa.Table, dropped: list[dict[str, Any]], difficulty_unknown: int) -> None:
        self.table = table
        self.dropped = dropped
        self.difficulty_unknown = difficulty_unknown


def _fits(sources: list[Source], student: Student, config: SftDataConfig, ctx: StageContext, key: str) -> np.ndarray:
    """Tokens of each source's longest possible example: System-2 with the think instruction (and, when some
    examples will be adaptive, System-2 under the template's default system prompt)."""
    longest = np.zeros(len(sources), dtype=np.int64)
    variants = [False] + ([True] if config.adaptive_share > 0 else [])
    # "sft-data NAME", not the key "sft-data:NAME": rich would read ":NAME:" as an emoji code
    with ctx.progress.task(f"sft-data {key.split(':', 1)[-1]}: tokenise", total=len(sources), unit="examples") as task:
        for start in range(0, len(sources), CHUNK):
            chunk = sources[start : start + CHUNK]
            for adaptive in variants:
                kwargs = [template_kwargs(True, adaptive, student.switch)] * len(chunk)
                tokenised = student.tokenise([conversation(s, True, adaptive, student.switch) for s in chunk], kwargs)
                lengths = np.array([len(t.ids) for t in tokenised], dtype=np.int64)
                longest[start : start + len(chunk)] = np.maximum(longest[start : start + len(chunk)], lengths)
            task.advance(len(chunk))
    return longest


def _build(
    policy: MixPolicy, config: SftDataConfig, sources: list[Source], student: Student, ctx: StageContext, key: str
) -> Built:
    tokenizer, switch = student.tokenizer, student.switch
    longest = _fits(sources, student, config, ctx, key)
    fits = longest <= config.max_length
    dropped = [{"trace_id": s.trace_id, "reason": "too_long", "tokens": int(n)}
               for s, n, ok in zip(sources, longest, fits, strict=True) if not ok]  # fmt: skip
    kept = [s for s, ok in zip(sources, fits, strict=True) if ok]
    reasoning = text_tokens(tokenizer, [s.reasoning for s in kept])
    disagree = _disagree(ctx.run, kept) if policy.needs_disagree else None
    system2 = assign_system2(policy, config.seed, disagree, reasoning)
    adaptive = seeded_subset(len(kept), exact_count(config.adaptive_share, len(kept)), config.seed, ADAPTIVE_STREAM)
    forms = list(zip(system2.tolist(), adaptive.tolist(), strict=True))
    conversations = [conversation(s, bool(m), bool(a), switch) for s, (m, a) in zip(kept, forms, strict=True)]
    kwargs = [template_kwargs(bool(m), bool(a), switch) for m, a in forms]
    tokenised = student.tokenise(conversations, kwargs)
    _check_loss_mask(student, kept, [bool(m) for m, _ in forms], tokenised, key)
    tokens = np.array([len(t.ids) for t in tokenised], dtype=np.int64)
    prompts = np.array([len(t.prompt_ids) for t in tokenised], dtype=np.int64)
    if len(tokens) and int(tokens.max()) > config.max_length:  # a System-1 form longer than its System-2 form
        raise BadInputError(f"{key}: an example grew past max_length after mixing; report this as a bug")
    table = pa.Table.from_pydict(
        {
            "trace_id": [s.trace_id for s in kept],
            "question_id": [s.question_id for s in kept],
            "rank": [s.rank for s in kept],
            "mode": [SYSTEM2 if m else SYSTEM1 for m in system2],
            "instruction": [instruction_mode(bool(m), bool(a)) for m, a in zip(system2, adaptive, strict=True)],
            "messages": conversations,
            "chat_template_kwargs": [json.dumps(k, sort_keys=True) if k else None for k in kwargs],
            "tokens": tokens,
            "completion_tokens": tokens - prompts,
            "reasoning_tokens": reasoning,
        },
        schema=SFT_EXAMPLES,
    )
    unknown = sum(d is None for d in disagree) if disagree is not None else 0
    if unknown:
        ctx.progress.note(f"{key}: {unknown:,} example(s) have no disagree value; they keep their full trace")
    return Built(table, dropped, unknown)


def _check_loss_mask(student: Student, kept: list[Source], system2: list[bool], tokenised: list[Any], key: str) -> None:
    """Every example trains on its whole reasoning (System-2) or none of it (System-1), after a prompt that is a
    prefix of it; the first failures stop the stage with the student, the family and the fix."""
    failed = [
        (source, mode, problem)
        for source, mode, example in zip(kept, system2, tokenised, strict=True)
        if (problem := example_problem(student.tokenizer, example, mode, source.reasoning, source.answer))
    ]
    if not failed:
        return
    source, mode, problem = failed[0]
    template = student.template
    family = chat_templates.family_label(template.family)
    raise ConfigError(
        f"{key}: student {student.label} (family {family}, chat template {template.source}): {len(failed):,} of "
        f"{len(kept):,} examples fail the loss-mask check; e.g. trace {source.trace_id} "
        f"({SYSTEM2 if mode else SYSTEM1}): {problem}. Fix: {_fix(template)}"
    )


def _fix(template: ChatTemplate) -> str:
    """What to do about a template that fails the check."""
    if template.stock and f"{template.stock}{chat_templates.TRAINING_SUFFIX}" in chat_templates.trl_templates():
        name = f"{template.stock}{chat_templates.TRAINING_SUFFIX}.jinja"
        return (
            f"use TRL's training template {name} (trl/chat_templates/{name}), which keeps the reasoning: "
            "drop sft.chat_template so sft-data picks it, or point sft.chat_template at it."
        )
    return (
        "set sft.chat_template to a Jinja template that renders the assistant turn verbatim and whose generation "
        "prompt ends where the assistant text starts (TRL's trl/chat_templates/*_training.jinja are examples)."
    )


def _dropped_table(dropped: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(dropped, schema=SFT_DROPPED)


# ---- provenance ----------------------------------------------------------------------------------------------------


def _provenance(run: RunDir, selection_path: Path, selection: str) -> dict[str, Any]:
    """Fingerprints of what the examples came from (copied into the trained model's card)."""
    metadata = {k.decode(): v.decode() for k, v in (pq.read_schema(selection_path).metadata or {}).items()}
    recorded = {k.rsplit(".", 1)[-1]: v for k, v in metadata.items() if k.startswith("naturalthoughts.select.")}
    traces_fp = run.traces_fingerprint()  # provenance: a selection made from older traces is refused by the runner
    questions = pq.read_metadata(run.questions).num_rows
    pool = {"questions_sha256": fingerprint(run.questions)["sha256"], "questions": questions}
    return {
        "selection": {"name": selection, "sha256": fingerprint(selection_path)["sha256"], **recorded},
        "traces_fingerprint": traces_fp,
        "pool": pool,
    }


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _meta(
    stage: SftDataStage, built: Built, dropped: list[dict[str, Any]], provenance: dict[str, Any], student: Student,
    selected: int, answers_cut: int,
) -> dict[str, Any]:  # fmt: skip
    table, config = built.table, stage.config
    n = table.num_rows
    system2 = int(pc.sum(pc.equal(table.column("mode"), SYSTEM2)).as_py() or 0)
    adaptive = int(pc.sum(pc.equal(table.column("instruction"), "adaptive")).as_py() or 0)
    reasons = [d["reason"] for d in dropped]
    tokens = table.column("tokens")
    counts = {
        "selected": selected,
        "examples": n,
        "system2": system2,
        "system1": n - system2,
        "adaptive": adaptive,
        "too_long": reasons.count("too_long"),
        "incomplete": reasons.count("incomplete"),
        "no_question": reasons.count("no_question"),
        "difficulty_unknown": built.difficulty_unknown,
        "tokens": int(pc.sum(tokens).as_py() or 0),
        "trained_tokens": int(pc.sum(table.column("completion_tokens")).as_py() or 0),
        "max_tokens": int(pc.max(tokens).as_py() or 0),
        "loss_checked": n,
        "loss_failed": 0,  # a failure stops the stage (_check_loss_mask)
        "answers_cut": answers_cut,  # answers that went on with a made-up next turn, trained without it
    }
    return {
        "name": stage.args["name"],
        "mix": config.mix,
        "seed": config.seed,
        "adaptive_share": config.adaptive_share,
        "max_length": config.max_length,
        "student": student_label(config.student),
        "chat_template": student.template.text,
        "template": {
            **student.template.record(),
            "label": chat_templates.family_label(student.template.family),
            "mode_switch": student.switch.switch,
            "no_think_marker": student.switch.no_think_marker,
            "instructions": {mode: student.switch.instruction(mode) for mode in modes.MODES},
        },
        "counts": counts,
        "shares": {"system2": _share(system2, n), "system1": _share(n - system2, n), "adaptive": _share(adaptive, n)},
        **provenance,
    }
