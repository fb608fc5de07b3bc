"""Correctness of the teacher's answer against the reference answer, and which method decided.

- no reference: null (no method, no error);
- a mathematical reference (short, with digits or LaTeX, that math-verify can parse): ``math-verify``;
- a short reference (at most ``short_answer_max_words`` words): ``exact``, normalised exact match against
  the answer's final answer (a ``\\boxed{}``, the text after "answer:", or the last line);
- a long reference: the judge engine (``llm:MODEL``) through the one judge path of :mod:`naturalthoughts.text.judge`
  (the prompt, the reply schema ``{"correct": true|false}`` and its reading that evaluation uses too).

Grading itself lives in :mod:`naturalthoughts.text.grading` (shared with evaluation).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from naturalthoughts.annotate.base import NO_ANSWER, Annotator, Columns, ask, column
from naturalthoughts.text.grading import exact_match, is_mathematical, math_verify
from naturalthoughts.text.judge import VERDICT, judge_messages


class CorrectnessAnnotator(Annotator):
    name = "correctness"
    reads = ("question", "answer", "reference_answer")
    writes = ("correct", "correct_method", "correct_error")

    @property
    def method(self) -> str:
        judge = "judge" if self.ctx.config.correctness.use_judge else "no judge"
        return f"math-verify | exact | {judge} (per row in correct_method)"

    def decide_locally(self, reference: str, answer: str) -> tuple[bool | None, str | None]:
        """(verdict, method) for math and short references; (None, None) when the judge must decide."""
        if is_mathematical(reference):
            return math_verify(reference, answer), "math-verify"
        if len(reference.split()) <= self.ctx.config.correctness.short_answer_max_words:
            return exact_match(reference, answer), "exact"
        return None, None

    def annotate(self, batch: pa.Table) -> Columns:
        n = batch.num_rows
        correct: list[bool | None] = [None] * n
        method: list[str | None] = [None] * n
        error: list[str | None] = [None] * n
        to_judge: list[int] = []
        rows = zip(column(batch, "reference_answer"), column(batch, "answer"), strict=True)
        for i, (reference, answer) in enumerate(rows):
            if not reference or not reference.strip():
                continue  # no reference: correctness is unknown, which is not an error
            if not answer:
                error[i] = NO_ANSWER
                continue
            correct[i], method[i] = self.decide_locally(reference, answer)
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
