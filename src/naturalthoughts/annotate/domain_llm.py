"""LLM domain and field: the annotator engine answers JSON under a schema that only admits taxonomy pairs.

The schema is a union with one branch per domain (``domain`` a constant, ``field`` an enum of that domain's
fields), so a constrained reply can only name a field of the domain it names.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

import pyarrow as pa
from pydantic import Field, ValidationError, create_model

from naturalthoughts.annotate import prompts
from naturalthoughts.annotate.base import NO_QUESTION, Annotator, Columns, ask, column
from naturalthoughts.annotate.taxonomy import DOMAINS, FIELDS
from naturalthoughts.text.replies import Reply, ReplySchema, canonical, first_error


def _branch(index: int, domain: str) -> type[Reply]:
    fields = tuple(FIELDS[domain])
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"Domain{index}",
        __base__=Reply,
        domain=(Literal[domain], ...),
        field=(Literal[fields], ...),  # type: ignore[valid-type]
    )


DomainReply = Annotated[
    Union[tuple(_branch(i, d) for i, d in enumerate(DOMAINS))],  # type: ignore[valid-type]  # noqa: UP007
    Field(discriminator="domain"),
]


def _prepare(data: Any) -> Any:
    if isinstance(data, dict) and "domain" in data:
        data = {**data, "domain": canonical(data["domain"], DOMAINS)}
        if data["domain"] in FIELDS and "field" in data:
            data["field"] = canonical(data["field"], tuple(FIELDS[data["domain"]]))
    return data


def _explain(exc: ValidationError, data: Any) -> str:
    error = exc.errors()[0]
    if error["type"] == "union_tag_invalid":
        return f"unknown domain {data.get('domain')!r}"
    if error["type"] == "literal_error" and error["loc"][-1] == "field":
        return f"unknown field {data.get('field')!r} for domain {data.get('domain')}"
    return f"wrong JSON shape: {first_error(exc)}"


def _longest() -> dict[str, str]:
    pairs = [(d, f) for d, fields in FIELDS.items() for f in fields]
    domain, field = max(pairs, key=lambda pair: len(pair[0]) + len(pair[1]))
    return {"domain": domain, "field": field}


DOMAIN_SCHEMA: ReplySchema[tuple[str, str]] = ReplySchema(
    name="domain",
    model=DomainReply,
    longest=_longest(),
    convert=lambda reply: (reply.domain, reply.field),
    prepare=_prepare,
    explain=_explain,
)


def parse_domain(text: str | None) -> tuple[str, str]:
    return DOMAIN_SCHEMA.parse(text)


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
        answers = ask(self, "annotator", conversations, DOMAIN_SCHEMA)
        return {
            "domain": [a.value[0] if a.value else None for a in answers],
            "field": [a.value[1] if a.value else None for a in answers],
            "domain_method": [self.method] * batch.num_rows,
            "domain_error": [a.error for a in answers],
        }
