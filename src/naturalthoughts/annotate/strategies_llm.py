"""LLM strategy annotator (as in the paper): the annotator engine lists each strategy it sees with its count.

The reply schema is a list of ``{strategy, count}`` items: ``strategy`` one of the closed list's names (an enum),
``count`` an integer 0-999, at most one item per strategy (``maxItems`` = the number of strategies,
``uniqueItems``); a reply that names a strategy twice is rejected (it is how a tiny model loops).
"""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, ValidationError, field_validator

from naturalthoughts.annotate import prompts
from naturalthoughts.annotate.base import NO_REASONING, Annotator, Columns, ask, clip_middle, column
from naturalthoughts.annotate.density import STRATEGY_READS, STRATEGY_WRITES, strategy_columns
from naturalthoughts.annotate.strategies import STRATEGY_NAMES
from naturalthoughts.text.replies import Reply, ReplySchema, canonical, first_error

MAX_COUNT = 999

StrategyName = Literal[STRATEGY_NAMES]  # type: ignore[valid-type]


class StrategyCount(Reply):
    strategy: StrategyName  # type: ignore[valid-type]
    count: int = Field(ge=0, le=MAX_COUNT)

    @field_validator("strategy", mode="before")
    @classmethod
    def _spelling(cls, value: Any) -> Any:
        return canonical(value, STRATEGY_NAMES)  # "Backtracking", "self verification" from unconstrained engines


class StrategiesReply(Reply):
    strategies: list[StrategyCount] = Field(max_length=len(STRATEGY_NAMES), json_schema_extra={"uniqueItems": True})

    @field_validator("strategies")
    @classmethod
    def _each_once(cls, items: list[StrategyCount]) -> list[StrategyCount]:
        seen: set[str] = set()
        for item in items:
            if item.strategy in seen:
                raise ValueError(f"strategy {item.strategy!r} is listed more than once")
            seen.add(item.strategy)
        return items


def _counts(reply: StrategiesReply) -> dict[str, int]:
    counts = {item.strategy: item.count for item in reply.strategies}
    return {name: counts[name] for name in STRATEGY_NAMES if name in counts}  # list order, stable


def _explain(exc: ValidationError, data: Any) -> str:
    error = exc.errors()[0]
    if error["type"] == "literal_error" and error["loc"][-1] == "strategy":
        return f"unknown strategy {error['input']!r}"
    return f"wrong JSON shape: {first_error(exc)}"


STRATEGIES_SCHEMA: ReplySchema[dict[str, int]] = ReplySchema(
    name="strategies",
    model=StrategiesReply,
    longest={"strategies": [{"strategy": name, "count": MAX_COUNT} for name in STRATEGY_NAMES]},
    convert=_counts,
    explain=_explain,
)


def parse_strategies(text: str | None) -> dict[str, int]:
    return STRATEGIES_SCHEMA.parse(text)


class LLMStrategiesAnnotator(Annotator):
    name = "strategies"
    reads = STRATEGY_READS
    writes = STRATEGY_WRITES
    requires = ("length",)

    @property
    def method(self) -> str:
        return self.ctx.model_label("annotator")

    def annotate(self, batch: pa.Table) -> Columns:
        limit = self.ctx.config.max_input_chars
        conversations: list[Any] = [
            prompts.user(prompts.strategies_prompt(clip_middle(text, limit))) if text else NO_REASONING
            for text in column(batch, "reasoning")
        ]
        answers = ask(self, "annotator", conversations, STRATEGIES_SCHEMA)
        out: Columns = dict(strategy_columns([a.value for a in answers], column(batch, "reasoning_tokens")))
        out["strategies_method"] = [self.method] * batch.num_rows
        out["strategies_error"] = [a.error for a in answers]
        return out
