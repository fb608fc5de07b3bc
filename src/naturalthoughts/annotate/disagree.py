"""Models disagree: does the teacher's final answer agree with a second answer to the same question?

The judge compares **final answers**: the teacher's ``answer`` (the text after its reasoning) and the second
answer's final part (:func:`naturalthoughts.text.think.final_answer`: the text after ``</think>``, or the whole
text when it has no thinking block). The second answer comes from, in order:

1. the pool's ``other_answer`` (NaturalReasoning ships a Llama-3.3-70B response): the paper's cross-model signal,
   ``disagree_method`` = ``pool:other_answer (MODEL)``;
2. ``disagree.second_engine``, asked for a short final answer with its own temperature and seed (cached like every
   model call): ``self:second-sample (MODEL, T=.., seed ..)`` when that engine is the teacher itself (the
   embedded default: self-disagreement, not the paper's signal), else ``engine:second-answer (MODEL, ...)``.

Where the question has a reference the one answer checker grades (a reasoning-gym task's scorer, a number, a
formula, a choice, a short text) and it reads an answer in both, the checker decides (``disagree.checker``, on by
default): a right and a wrong answer differ, two right ones agree, two wrong ones are compared as read
(:func:`naturalthoughts.text.grading.same_answer`). Under a task's own scorer an answer it reads nothing in is no
answer, so an answer and no answer differ too (the bundled teacher's second answers to syllogisms are often
questions back, "To clarify, can you ...", which a small judge called the same as "No"); two non-answers go to the
judge. ``disagree_judge`` is then ``checker:METHOD`` and ``disagree_raw`` the two answers as read ("(no answer)"
for one the scorer reads nothing in). Elsewhere the judge engine (paper: Llama-3.1-8B-Instruct) replies
``{"same_final_answer": true|false}`` under a JSON schema; ``disagree`` is its negation and the raw reply is stored
in ``disagree_raw``. On a verifiable pool the checker is exact where a small judge is not, and it asks no model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from naturalthoughts.annotate import prompts
from naturalthoughts.annotate.base import (
    ERROR_CHARS,
    NO_ANSWER,
    NO_QUESTION,
    Annotator,
    Columns,
    StopRequested,
    ask,
    clip_middle,
    column,
)
from naturalthoughts.annotate.correctness import local_grader
from naturalthoughts.engines import NOT_SENT, ChatRequest, ChatResult, SamplingParams
from naturalthoughts.redact import clip
from naturalthoughts.text.grading import same_answer
from naturalthoughts.text.replies import Reply, ReplySchema
from naturalthoughts.text.think import final_answer

NOTHING_READ = "(no answer)"  # disagree_raw's side for an answer the task's scorer reads nothing in
CHECKED = "decided by the answer checker"  # a row the judge is not asked about (its verdict is filled in after)
NO_SECOND = "no second answer: the pool has no other_answer and disagree.second_engine is not configured"
SECOND_TASK = "annotate: disagree (second answers)"


class AgreementReply(Reply):
    same_final_answer: bool


AGREEMENT_SCHEMA: ReplySchema[bool] = ReplySchema(
    name="agreement",
    model=AgreementReply,
    longest={"same_final_answer": False},
    convert=lambda reply: reply.same_final_answer,
)


def parse_agreement(text: str | None) -> bool:
    """True when the judge says the two final answers agree (a JSON verdict; prose is a bad reply, not a verdict)."""
    return AGREEMENT_SCHEMA.parse(text)


@dataclass
class SecondAnswers:
    """Per row of a batch: the second final answer, where it came from, or why there is none."""

    texts: list[str | None]
    methods: list[str | None]
    errors: list[str | None]
    to_generate: list[int] = field(default_factory=list)


class DisagreeAnnotator(Annotator):
    name = "disagree"
    reads = (
        "question", "answer", "other_answer", "other_model", "teacher", "reference_answer", "question_source",
        "question_source_row",
    )  # fmt: skip
    writes = ("disagree", "disagree_method", "disagree_raw", "disagree_judge", "disagree_error")

    @property
    def method(self) -> str:
        cfg = self.ctx.config.disagree
        sources = (["pool:other_answer"] if cfg.use_pool else []) + ([self.engine_label()] if cfg.second_engine else [])
        decider = "answer checker where the reference is checkable, else judge" if cfg.checker else "judge"
        return f"{decider} on final answers vs " + (" | ".join(sources) or "nothing")

    def engine_label(self, teacher: str | None = None) -> str:
        """``disagree_method`` of an answer written by the second engine (self-sample when it is the teacher)."""
        cfg = self.ctx.config.disagree
        identity = self.ctx.engine("second").model_identity()
        # The teacher's identity may carry a suffix for its sampling setup (``+thinking:...``): same model, same self.
        same = teacher is not None and (teacher == identity or teacher.startswith(identity + "+"))
        kind = "self:second-sample" if same else "engine:second-answer"
        return f"{kind} ({identity}, T={cfg.second_temperature:g}, seed {cfg.second_seed})"

    # ---- the second answer ----------------------------------------------------------------------------------
    def plan(self, batch: pa.Table) -> SecondAnswers:
        """Take each row's second answer from the pool, or mark it for the second engine, or say why not."""
        cfg = self.ctx.config.disagree
        n = batch.num_rows
        plan = SecondAnswers([None] * n, [None] * n, [None] * n)
        pool = column(batch, "other_answer") if cfg.use_pool else [None] * n
        rows = zip(column(batch, "answer"), pool, column(batch, "other_model"), column(batch, "question"), strict=True)
        for i, (answer, other, other_model, question) in enumerate(rows):
            if not answer:
                continue  # nothing of the teacher's to compare: the judge step records NO_ANSWER
            if other:
                plan.texts[i] = final_answer(other) or None
                plan.methods[i] = f"pool:other_answer ({other_model or 'model not named'})"
                if plan.texts[i] is None:
                    plan.errors[i] = "the pool's other_answer has no final answer (an unclosed thinking block)"
                self.counts["pool_answers"] += 1
            elif cfg.second_engine is None:
                plan.errors[i] = NO_SECOND
            elif not question:
                plan.errors[i] = NO_QUESTION
            else:
                plan.to_generate.append(i)
        return plan

    def generate(self, batch: pa.Table, plan: SecondAnswers) -> None:
        """Fill the planned rows with the second engine's final answers."""
        cfg = self.ctx.config.disagree
        task = self.ctx.task(SECOND_TASK)
        if task is not None and len(plan.to_generate) < batch.num_rows:
            task.advance(batch.num_rows - len(plan.to_generate))
        if not plan.to_generate:
            return
        params = SamplingParams(
            temperature=cfg.second_temperature,
            top_p=cfg.second_top_p,
            max_tokens=cfg.second_max_tokens,
            seed=cfg.second_seed,
        )
        questions, teachers = column(batch, "question"), column(batch, "teacher")
        limit = self.ctx.config.max_input_chars
        requests = [
            ChatRequest(
                messages=tuple(prompts.user(prompts.SECOND_ANSWER.format(question=clip_middle(questions[i], limit)))),
                params=params,
            )
            for i in plan.to_generate
        ]

        def advance(position: int, result: ChatResult) -> None:
            if task is not None and result.error != NOT_SENT:
                task.advance(1)

        results = self.ctx.engine("second").generate(requests, on_result=advance, should_stop=self.ctx.should_stop)
        if any(result.error == NOT_SENT for result in results):
            raise StopRequested("stopped during disagree (second answers)")
        for i, result in zip(plan.to_generate, results, strict=True):
            plan.texts[i], plan.errors[i] = self._second_text(result)
            if plan.texts[i] is not None:
                plan.methods[i] = self.engine_label(teachers[i])
                self.counts["second_answers_generated"] += 1
                self.counts["second_answers_cut"] += result.finish_reason == "length"
            else:
                self.counts["second_answer_errors"] += 1

    @staticmethod
    def _second_text(result: ChatResult) -> tuple[str | None, str | None]:
        """(final answer, None) or (None, why there is none). An answer cut at the token cap is kept (counted)."""
        if result.error is not None:
            return None, clip(f"second answer failed: {result.error}", ERROR_CHARS)
        text = final_answer(result.text)
        if text is None:
            return None, "the second answer opened a thinking block and never closed it"
        if not text:
            return None, "the second answer is empty"
        return text, None

    # ---- the judge ------------------------------------------------------------------------------------------
    def annotate(self, batch: pa.Table) -> Columns:
        plan = self.plan(batch)
        self.generate(batch, plan)
        limit = self.ctx.config.disagree.max_answer_chars
        conversations: list[Any] = []
        checked = self.check_locally(batch, plan)
        rows = zip(column(batch, "question"), column(batch, "answer"), plan.texts, plan.errors, checked, strict=True)
        for question, answer, second, problem, local in rows:
            if not answer:
                conversations.append(NO_ANSWER)
            elif second is None:
                conversations.append(problem or NO_SECOND)
            elif local is not None:
                conversations.append(CHECKED)
            else:
                text = prompts.DISAGREE.format(
                    question=clip_middle(question, self.ctx.config.max_input_chars // 3),
                    answer_a=clip_middle(answer, limit),
                    answer_b=clip_middle(second, limit),
                )
                conversations.append(prompts.user(text))
        replies = ask(self, "judge", conversations, AGREEMENT_SCHEMA)
        judged = [not isinstance(c, str) for c in conversations]
        judge = self.ctx.model_label("judge") if any(judged) else None
        columns: Columns = {
            "disagree": [None if r.value is None else not r.value for r in replies],
            "disagree_method": plan.methods,
            "disagree_raw": [r.raw for r in replies],
            "disagree_judge": [judge if asked else None for asked in judged],
            "disagree_error": [r.error for r in replies],
        }
        for i, local in enumerate(checked):
            if local is not None and plan.texts[i] is not None and column(batch, "answer")[i]:
                same, method, raw = local
                columns["disagree"][i], columns["disagree_raw"][i] = not same, raw
                columns["disagree_judge"][i], columns["disagree_error"][i] = f"checker:{method}", None
                self.counts["checked"] += 1
        return columns

    def check_locally(self, batch: pa.Table, plan: SecondAnswers) -> list[tuple[bool, str, str] | None]:
        """Per row, (same answer, checker method, what each answer says) where the one answer checker decides: the
        question has a reference the checker grades (a task scorer, a number, a formula, a choice, a short text) and
        both answers say something it reads, or, under a task's scorer, one does (:func:`naturalthoughts.text.grading.
        same_answer`); None: the judge."""
        decided: list[tuple[bool, str, str] | None] = [None] * batch.num_rows
        if not self.ctx.config.disagree.checker:
            return decided
        max_words = self.ctx.config.correctness.short_answer_max_words
        names = ("question", "answer", "reference_answer", "question_source", "question_source_row")
        rows = zip(*(column(batch, name) for name in names), plan.texts, strict=True)
        for i, (question, answer, reference, source, source_row, second) in enumerate(rows):
            if not answer or second is None or not reference or not reference.strip():
                continue
            grader = local_grader(question, reference, (source, source_row), max_words)
            if grader is None:
                continue
            first_verdict, second_verdict = grader.check(answer), grader.check(second)
            same = same_answer(first_verdict, second_verdict, grader.kind, scored=grader.scorer is not None)
            if same is not None:
                read = (verdict.extracted or NOTHING_READ for verdict in (first_verdict, second_verdict))
                decided[i] = (same, grader.method, " | ".join(read))
        return decided
