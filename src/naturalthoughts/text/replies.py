"""Reply schemas: every LLM annotator's and judge's reply is a pydantic model, sent as a JSON schema, validated.

Neutral (annotation and evaluation both ask models for typed replies: the correctness judge of
:mod:`naturalthoughts.text.judge` is used by both), so it lives in the text tools, not in a stage.

A :class:`ReplySchema` holds one reply type. Its JSON schema goes with each request (llama.cpp and
OpenAI-compatible servers constrain decoding to it; vLLM uses guided decoding; an engine that cannot constrain
still gets the schema's wording in the prompt), and the same pydantic type validates the reply text, so a reply
is either a value of the declared type or a :class:`BadReply` naming what is wrong.

Bounded by construction: closed label sets are enums, lists carry ``maxItems``, integers a range, so the longest
valid reply is finite. :meth:`ReplySchema.max_tokens` keeps the completion budget above it (a constrained reply cut
at ``max_tokens`` is unparseable: the tiny embedded model repeats one enum item until the budget ends).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

T = TypeVar("T")

# Characters per token assumed for the longest valid reply: JSON is punctuation-heavy (short tokens), and a
# server may pretty-print it. Two characters per token over the 4-space-indented form is a safe over-estimate.
_CHARS_PER_TOKEN = 2
_MARGIN_TOKENS = 16


VERDICT_CHOICES = ("true", "false")  # the one token a yes/no verdict is asked as


class BadReply(ValueError):
    """A model reply that cannot be used (not JSON, unknown label, cut short, empty); the message says why."""


class Reply(BaseModel):
    """Base of reply models: no keys beyond the declared ones (``additionalProperties: false`` in the schema), and
    strict types (``"yes"`` is not a boolean, ``"7"`` not an integer: a verdict is read only from its JSON type)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def extract_json(text: str | None) -> Any:
    """The JSON object of a reply (constrained replies are bare JSON; others wrap it in prose or ``` fences)."""
    if not text or not text.strip():
        raise BadReply("empty reply")
    fenced = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", text, re.S)
    candidates = [fenced.group(1)] if fenced else []
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    raise BadReply(f"not JSON: {text.strip()[:80]!r}")


def first_error(exc: ValidationError) -> str:
    """One line for the first validation error: where and what (``strategies.0.count: ...``)."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


@dataclass(frozen=True)
class ReplySchema(Generic[T]):
    """One reply type: its JSON schema for the request, its validator, and the longest valid reply.

    ``convert`` turns the validated model into the annotator's value; ``prepare`` adjusts the decoded JSON first
    (case-insensitive labels from engines that cannot constrain); ``explain`` words a validation error.
    """

    name: str
    model: Any  # a pydantic model class or an Annotated union
    longest: Any  # the longest valid reply as a Python value (sizes the completion budget)
    convert: Callable[[Any], T]
    prepare: Callable[[Any], Any] = lambda data: data
    explain: Callable[[ValidationError, Any], str] = lambda exc, data: f"wrong JSON shape: {first_error(exc)}"
    adapter: TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "adapter", TypeAdapter(self.model))
        self.adapter.validate_python(self.longest)  # the size estimate must itself be a valid reply

    @property
    def json_schema(self) -> dict[str, Any]:
        return self.adapter.json_schema()

    def longest_reply_tokens(self) -> int:
        """An upper estimate of the tokens of the longest valid reply (pretty-printed)."""
        return math.ceil(len(json.dumps(self.longest, indent=4, ensure_ascii=False)) / _CHARS_PER_TOKEN)

    def max_tokens(self, configured: int | None) -> int:
        """The completion budget: the configured one, but never below the longest valid reply plus a margin."""
        floor = self.longest_reply_tokens() + _MARGIN_TOKENS
        return floor if configured is None else max(configured, floor)

    @property
    def verdict_field(self) -> str | None:
        """The one boolean field of a yes/no reply (``{"correct": true}``), whose value can be asked as a single
        constrained token after the rest of the JSON is pre-filled; None for any other reply type."""
        fields = getattr(self.model, "model_fields", None)
        if not fields or len(fields) != 1:
            return None
        ((name, info),) = fields.items()
        return name if info.annotation is bool else None

    def verdict_prefill(self) -> str:
        """The reply up to its verdict: ``{"correct": `` (the engine continues with ``true`` or ``false``)."""
        return f'{{"{self.verdict_field}": '

    def verdict_reply(self, token: str | None) -> str:
        """The whole reply a verdict token stands for (``{"correct": true}``); raises :class:`BadReply` when the
        token is not a verdict (an engine that did not constrain its reply)."""
        word = (token or "").strip()
        if word not in VERDICT_CHOICES:
            raise BadReply(f"not a one-token verdict: {word[:40]!r}")
        return f"{self.verdict_prefill()}{word}}}"

    def parse(self, text: str | None) -> T:
        data = self.prepare(extract_json(text))
        try:
            value = self.adapter.validate_python(data)
        except ValidationError as exc:
            raise BadReply(self.explain(exc, data)) from None
        return self.convert(value)


def canonical(value: Any, names: tuple[str, ...]) -> Any:
    """``value`` spelled as one of ``names`` when it matches one ignoring case, spaces, hyphens; else unchanged."""
    if not isinstance(value, str):
        return value
    key = _label_key(value)
    return next((name for name in names if _label_key(name) == key), value)


def _label_key(text: str) -> str:
    return re.sub(r"[\s_\-]+", "_", text.strip().lower())


def clip_middle(text: str | None, limit: int) -> str:
    """Keep the head and tail of long text: the question's restatement and the conclusion matter most."""
    text = text or ""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters omitted ...]\n{text[-half:]}"
