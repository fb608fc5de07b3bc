"""LLM strategy annotator (as in the paper): the annotator engine lists each strategy it sees with its count."""

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
from naturalthoughts.annotate.density import STRATEGY_READS, STRATEGY_WRITES, strategy_columns
from naturalthoughts.annotate.strategies import STRATEGY_NAMES


class StrategyCount(BaseModel):
    strategy: str
    count: int = Field(ge=0)


class StrategiesReply(BaseModel):
    strategies: list[StrategyCount]


def parse_strategies(text: str | None) -> dict[str, int]:
    try:
        reply = StrategiesReply.model_validate(extract_json(text))
    except ValidationError as exc:
        raise BadReply(f"wrong JSON shape: {exc.errors()[0]['msg']}") from None
    counts: dict[str, int] = {}
    for item in reply.strategies:
        name = item.strategy.strip().lower().replace(" ", "_").replace("-", "_")
        if name not in STRATEGY_NAMES:
            raise BadReply(f"unknown strategy {item.strategy!r}")
        counts[name] = counts.get(name, 0) + item.count
    return {name: counts[name] for name in STRATEGY_NAMES if name in counts}  # list order, stable


class LLMStrategiesAnnotator(Annotator):
    name = "strategies"
    reads = STRATEGY_READS
    writes = STRATEGY_WRITES

    @property
    def method(self) -> str:
        return self.ctx.model_label("annotator")

    def annotate(self, batch: pa.Table) -> Columns:
        limit = self.ctx.config.max_input_chars
        conversations: list[Any] = [
            prompts.user(prompts.strategies_prompt(clip_middle(text, limit))) if text else NO_REASONING
            for text in column(batch, "reasoning")
        ]
        answers = ask(self.ctx, "annotator", conversations, parse_strategies, self.counts)
        self.counts["annotated"] += sum(a.value is not None for a in answers)
        out: Columns = dict(strategy_columns([a.value for a in answers], column(batch, "reasoning_tokens")))
        out["strategies_method"] = [self.method] * batch.num_rows
        out["strategies_error"] = [a.error for a in answers]
        return out
