"""LLM domain and field: the annotator engine answers JSON, validated against the closed taxonomy."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ValidationError

from naturalthoughts.annotate import prompts
from naturalthoughts.annotate.base import NO_QUESTION, Annotator, BadReply, Columns, ask, column, extract_json
from naturalthoughts.annotate.taxonomy import DOMAINS, FIELDS


class DomainReply(BaseModel):
    domain: str
    field: str


def parse_domain(text: str | None) -> tuple[str, str]:
    try:
        reply = DomainReply.model_validate(extract_json(text))
    except ValidationError as exc:
        raise BadReply(f"wrong JSON shape: {exc.errors()[0]['msg']}") from None
    domain = next((d for d in DOMAINS if d.lower() == reply.domain.strip().lower()), None)
    if domain is None:
        raise BadReply(f"unknown domain {reply.domain!r}")
    field = next((f for f in FIELDS[domain] if f.lower() == reply.field.strip().lower()), None)
    if field is None:
        raise BadReply(f"unknown field {reply.field!r} for domain {domain}")
    return domain, field


class LLMDomainAnnotator(Annotator):
    name = "domain"
    reads = ("question",)
    writes = ("domain", "field", "domain_method", "domain_error")

    @property
    def method(self) -> str:
        return self.ctx.model_label("annotator")

    def annotate(self, batch: pa.Table) -> Columns:
        questions = column(batch, "question")
        conversations: list[Any] = [prompts.user(prompts.domain_prompt(q)) if q else NO_QUESTION for q in questions]
        answers = ask(self.ctx, "annotator", conversations, parse_domain, self.counts)
        self.counts["annotated"] += sum(a.value is not None for a in answers)
        return {
            "domain": [a.value[0] if a.value else None for a in answers],
            "field": [a.value[1] if a.value else None for a in answers],
            "domain_method": [self.method] * batch.num_rows,
            "domain_error": [a.error for a in answers],
        }
