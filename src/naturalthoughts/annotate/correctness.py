"""Correctness of the teacher's answer against the reference answer, and which method decided.

- no reference: null (no method, no error);
- a mathematical reference (short, with digits or LaTeX, that math-verify can parse): ``math-verify``;
- a short reference (at most ``short_answer_max_words`` words): ``exact``, normalised exact match against
  the answer's final answer (a ``\\boxed{}``, the text after "answer:", or the last line);
- a long reference: the judge engine (``llm:MODEL``), JSON ``{"correct": true|false}``.
"""

from __future__ import annotations

import re
import string
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ValidationError

from naturalthoughts.annotate import prompts
from naturalthoughts.annotate.base import (
    NO_ANSWER,
    Annotator,
    BadReply,
    Columns,
    ask,
    clip_middle,
    column,
    extract_json,
)

_MATH_HINT = re.compile(r"[\d$\\^=]")
_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_ANSWER_IS = re.compile(r"(?:final answer|answer)\s*(?:is|:)\s*(.+)", re.I)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def normalise(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD-style)."""
    text = text.lower().replace("**", "")
    text = "".join(" " if ch in string.punctuation else ch for ch in text)
    return " ".join(_ARTICLES.sub(" ", text).split())


def final_answer_candidates(answer: str) -> list[str]:
    candidates = _BOXED.findall(answer)
    candidates += [m.group(1) for m in _ANSWER_IS.finditer(answer)]
    lines = [line for line in answer.strip().splitlines() if line.strip()]
    if lines:
        candidates.append(lines[-1])
    candidates.append(answer)
    return candidates


def exact_match(reference: str, answer: str) -> bool:
    target = normalise(reference)
    return any(normalise(c) == target for c in final_answer_candidates(answer))


def parse_math(text: str) -> list[Any]:
    from math_verify import parse

    return parse(text)


def parse_reference(reference: str) -> list[Any]:
    """math-verify's reading of a reference: as written ("19 MPa" -> 19), else as LaTeX ("x^2+1")."""
    return parse_math(reference) or parse_math(f"${reference}$")


def math_verify(reference: str, answer: str) -> bool:
    from math_verify import verify

    return bool(verify(parse_reference(reference), parse_math(answer)))


def is_mathematical(reference: str) -> bool:
    return len(reference) <= 60 and bool(_MATH_HINT.search(reference)) and bool(parse_reference(reference))


class JudgeReply(BaseModel):
    correct: bool


def parse_judgement(text: str | None) -> bool:
    try:
        return JudgeReply.model_validate(extract_json(text)).correct
    except ValidationError as exc:
        raise BadReply(f"invalid verdict: {exc.errors()[0]['msg']}") from None


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
        if to_judge and self.ctx.config.correctness.use_judge:
            self._judge(batch, to_judge, correct, method, error)
        elif to_judge:
            for i in to_judge:
                error[i] = "long reference answer and correctness.use_judge is false"
        self.counts["annotated"] += sum(c is not None for c in correct)
        for m in method:
            if m:
                self.counts[f"method:{m.split(':')[0]}"] += 1
        return {"correct": correct, "correct_method": method, "correct_error": error}

    def _judge(self, batch: pa.Table, rows: list[int], correct: list[Any], method: list[Any], error: list[Any]) -> None:
        limit = self.ctx.config.max_input_chars
        questions, references, answers = (column(batch, c) for c in ("question", "reference_answer", "answer"))
        conversations: list[Any] = [
            prompts.user(
                prompts.CORRECTNESS.format(
                    question=clip_middle(questions[i], limit),
                    reference=clip_middle(references[i], limit),
                    answer=clip_middle(answers[i], limit),
                )
            )
            for i in rows
        ]
        replies = ask(self.ctx, "judge", conversations, parse_judgement, self.counts)
        label = self.ctx.model_label("judge")
        for i, reply in zip(rows, replies, strict=True):
            correct[i], method[i], error[i] = reply.value, label, reply.error
