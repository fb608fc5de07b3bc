"""LLM verbosity judge: a 0-10 rambling score (prompt in :mod:`.prompts`, shown in docs/strategies.md)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pydantic import BaseModel, Field, ValidationError

from naturalthoughts.annotate import prompts
from naturalthoughts.annotate.base import (
    NO_REASONING,
    Annotator,
    BadReply,
    Columns,
    ask,
    clip_middle,
    column,
    extract_json,
)


class VerbosityReply(BaseModel):
    verbosity: int = Field(ge=0, le=10)


def parse_verbosity(text: str | None) -> float:
    try:
        return float(VerbosityReply.model_validate(extract_json(text)).verbosity)
    except ValidationError as exc:
        raise BadReply(f"invalid verbosity: {exc.errors()[0]['msg']}") from None


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
            prompts.user(prompts.VERBOSITY.format(question=q or "", reasoning=clip_middle(r, limit)))
            if r
            else NO_REASONING
            for q, r in zip(column(batch, "question"), column(batch, "reasoning"), strict=True)
        ]
        answers = ask(self.ctx, "annotator", conversations, parse_verbosity, self.counts)
        self.counts["annotated"] += sum(a.value is not None for a in answers)
        return {
            "verbosity": [a.value for a in answers],
            "verbosity_method": [self.method] * batch.num_rows,
            "verbosity_error": [a.error for a in answers],
        }
