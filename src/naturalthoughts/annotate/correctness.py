"""Correctness of the teacher's answer against the reference answer, and which method decided.

Every verdict comes from the one answer checker (:func:`naturalthoughts.text.grading.check`, the one evaluation
uses), so the same answer and reference get the same verdict here and in ``nt eval``:

- no reference: null (no method, no error); a trace without a response (a failed request): null, with the reason;
- the final answer is the trace's answer, none when the reply was cut at the token limit before its reasoning
  closed (the teacher reasons: ``unclosed-thinking``): such a trace is not correct;
- the reference's kind (:func:`naturalthoughts.text.grading.kind_of`) picks the comparison, recorded in
  ``correct_method``: ``number`` (a plain number), ``math`` (a short formula), ``choice`` (a letter, the question
  laying out options), ``text`` (at most ``short_answer_max_words`` words: normalised exact match, yes/no by the
  answer's yes or no);
- a longer text reference: the judge engine (``llm:MODEL``) through the one judge path of
  :mod:`naturalthoughts.text.judge` (the prompt, reply schema ``{"correct": true|false}`` and reading evaluation
  uses too).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from naturalthoughts.annotate.base import NO_ANSWER, Annotator, Columns, ask, column
from naturalthoughts.text.grading import check, kind_of, question_options
from naturalthoughts.text.judge import VERDICT, judge_messages


def trace_answer(reasoning: str | None, answer: str, finish_reason: str | None) -> str | None:
    """The final answer of a trace: None when the reply was cut at the limit before its reasoning closed (a tag-less
    reply cut at the limit is all reasoning: the teacher was asked to reason)."""
    closed = bool(reasoning and reasoning.strip() and answer.strip())
    return None if finish_reason == "length" and not closed else answer


class CorrectnessAnnotator(Annotator):
    name = "correctness"
    reads = ("question", "reasoning", "answer", "finish_reason", "reference_answer")
    writes = ("correct", "correct_method", "correct_error")

    @property
    def method(self) -> str:
        judge = "judge" if self.ctx.config.correctness.use_judge else "no judge"
        return f"number | math | choice | text | {judge} (per row in correct_method)"

    def decide_locally(
        self, question: str | None, reference: str, answer: str | None
    ) -> tuple[bool | None, str | None]:
        """(verdict, method) from the one checker; (None, None) when the judge must decide (a long text reference)."""
        max_words = self.ctx.config.correctness.short_answer_max_words
        kind = kind_of(reference, question, max_words)
        if kind == "text" and len(reference.split()) > max_words:
            return (False, "text") if answer is None or not answer.strip() else (None, None)
        verdict = check(kind, reference, answer, options=question_options(question) if kind == "choice" else None)
        return verdict.correct, kind

    def annotate(self, batch: pa.Table) -> Columns:
        n = batch.num_rows
        correct: list[bool | None] = [None] * n
        method: list[str | None] = [None] * n
        error: list[str | None] = [None] * n
        to_judge: list[int] = []
        names = ("question", "reasoning", "answer", "finish_reason", "reference_answer")
        rows = zip(*(column(batch, name) for name in names), strict=True)
        for i, (question, reasoning, answer, finish_reason, reference) in enumerate(rows):
            if not reference or not reference.strip():
                continue  # no reference: correctness is unknown, which is not an error
            if answer is None:
                error[i] = NO_ANSWER
                continue
            final = trace_answer(reasoning, answer, finish_reason)
            correct[i], method[i] = self.decide_locally(question, reference, final)
            if method[i] is None:
                to_judge.append(i)
            else:
                self.counts["annotated"] += 1
                self.counts[f"method:{method[i]}"] += 1
        if self.ctx.config.correctness.use_judge:
            task = self.ctx.task(f"annotate: {self.name}")  # the judge's progress over every trace
            if task is not None:
                task.advance(n - len(to_judge))  # decided without the judge: done already
        if to_judge and self.ctx.config.correctness.use_judge:
            self._judge(batch, to_judge, correct, method, error)
        elif to_judge:
            for i in to_judge:
                error[i] = "long reference answer and correctness.use_judge is false"
        return {"correct": correct, "correct_method": method, "correct_error": error}

    def _judge(self, batch: pa.Table, rows: list[int], correct: list[Any], method: list[Any], error: list[Any]) -> None:
        limit = self.ctx.config.max_input_chars  # question, reference and answer share the prompt
        questions, references, answers = (column(batch, c) for c in ("question", "reference_answer", "answer"))
        conversations: list[Any] = [judge_messages(questions[i], references[i], answers[i], limit) for i in rows]
        replies = ask(self, "judge", conversations, VERDICT)
        label = self.ctx.model_label("judge")
        for i, reply in zip(rows, replies, strict=True):
            correct[i], method[i], error[i] = reply.value, label, reply.error
        self.counts["method:llm"] += len(rows)
