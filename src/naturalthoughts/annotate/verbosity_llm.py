"""LLM verbosity judge: a 0-10 rambling score (prompt in :mod:`.prompts`, shown in docs/strategies.md).

Reply schema: ``{"verbosity": <integer 0-10>}``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pydantic import Field

from naturalthoughts.annotate import prompts
from naturalthoughts.annotate.base import NO_REASONING, Annotator, Columns, ask, clip_middle, column
from naturalthoughts.text.replies import Reply, ReplySchema


class VerbosityReply(Reply):
    verbosity: int = Field(ge=0, le=10)


VERBOSITY_SCHEMA: ReplySchema[float] = ReplySchema(
    name="verbosity", model=VerbosityReply, longest={"verbosity": 10}, convert=lambda reply: float(reply.verbosity)
)


def parse_verbosity(text: str | None) -> float:
    return VERBOSITY_SCHEMA.parse(text)


class LLMVerbosityAnnotator(Annotator):
    name = "verbosity"
    reads = ("question", "reasoning")
    writes = ("verbosity", "verbosity_method", "verbosity_error")

    @property
    def method(self) -> str:
        return self.ctx.model_label("annotator")

    def annotate(self, batch: pa.Table) -> Columns:
        limit = self.ctx.config.max_input_chars
        conversations: list[Any] = [
            prompts.user(prompts.VERBOSITY.format(question=clip_middle(q, limit // 6), reasoning=clip_middle(r, limit)))
            if r
            else NO_REASONING
            for q, r in zip(column(batch, "question"), column(batch, "reasoning"), strict=True)
        ]
        answers = ask(self, "annotator", conversations, VERBOSITY_SCHEMA)
        return {
            "verbosity": [a.value for a in answers],
            "verbosity_method": [self.method] * batch.num_rows,
            "verbosity_error": [a.error for a in answers],
        }
