"""Models disagree: does the teacher's final answer agree with a second model's?

The second answer is the pool's ``other_answer`` (NaturalReasoning ships a Llama-3.3-70B response),
or, when the pool has none, one written by ``disagree.second_engine`` (cached like every model call).
The judge engine (paper: Llama-3.1-8B-Instruct) answers Yes/No to "same final answer?"; disagree = No.
The judge's raw reply is stored beside the verdict.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from naturalthoughts.annotate import prompts
from naturalthoughts.annotate.base import NO_ANSWER, Annotator, BadReply, Columns, ask, clip_middle, column
from naturalthoughts.engines import ChatRequest, SamplingParams

NO_SECOND = "no second answer: the pool has no other_answer and disagree.second_engine is not configured"
_VERDICT = re.compile(r"\b(yes|no)\b", re.I)


def parse_agreement(text: str | None) -> bool:
    """True when the judge says the answers agree. The first Yes/No word decides."""
    if not text or not text.strip():
        raise BadReply("empty reply")
    match = _VERDICT.search(text)
    if match is None:
        raise BadReply(f"no Yes/No in reply: {text.strip()[:80]!r}")
    return match.group(1).lower() == "yes"


class DisagreeAnnotator(Annotator):
    name = "disagree"
    reads = ("question", "answer", "other_answer")
    writes = ("disagree", "disagree_raw", "disagree_judge", "disagree_error")

    @property
    def method(self) -> str:
        second = "other_answer" if self.ctx.config.disagree.second_engine is None else "other_answer | second engine"
        return f"judge on {second}"

    def second_answers(self, batch: pa.Table) -> list[str | None]:
        """The pool's other_answer, else the second engine's answer to the question (if configured)."""
        second = column(batch, "other_answer")
        missing = [i for i, text in enumerate(second) if not text]
        if not missing or self.ctx.config.disagree.second_engine is None:
            return second
        questions = column(batch, "question")
        params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=self.ctx.config.disagree.second_max_tokens)
        asked = [i for i in missing if questions[i]]
        requests = [ChatRequest(messages=tuple(prompts.user(questions[i])), params=params) for i in asked]
        for i, result in zip(asked, self.ctx.engine("second").generate(requests), strict=True):
            if result.error is None and result.text and result.text.strip():
                second[i] = result.text
                self.counts["second_answers_generated"] += 1
            else:
                self.counts["second_answer_errors"] += 1
        return second

    def annotate(self, batch: pa.Table) -> Columns:
        limit = self.ctx.config.max_input_chars
        questions, answers = column(batch, "question"), column(batch, "answer")
        seconds = self.second_answers(batch)
        conversations: list[Any] = []
        for question, answer, second in zip(questions, answers, seconds, strict=True):
            if not answer:
                conversations.append(NO_ANSWER)
            elif not second:
                conversations.append(NO_SECOND)
            else:
                text = prompts.DISAGREE.format(
                    question=clip_middle(question, limit),
                    answer_a=clip_middle(answer, limit),
                    answer_b=clip_middle(second, limit),
                )
                conversations.append(prompts.user(text))
        replies = ask(self.ctx, "judge", conversations, parse_agreement, self.counts, json_mode=False, max_tokens=16)
        judged = [not isinstance(c, str) for c in conversations]
        self.counts["annotated"] += sum(r.value is not None for r in replies)
        judge = self.ctx.model_label("judge") if any(judged) else None
        return {
            "disagree": [None if r.value is None else not r.value for r in replies],
            "disagree_raw": [r.raw for r in replies],
            "disagree_judge": [judge if asked else None for asked in judged],
            "disagree_error": [r.error for r in replies],
        }
