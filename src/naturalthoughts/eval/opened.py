"""Thinking budgets for chat templates that open the reasoning themselves (DeepSeek-R1-Distill, Qwen3.5 think).

Their generation prompt already ends in ``<think>\\n``, while the thinking engine's pre-fills start the assistant
turn with it (``<think>\\n{reasoning so far}``). :class:`OpenedTemplateEngine` cuts that opener from each pre-fill,
so the model continues exactly the text it was trained on; results are continuations either way.
"""

from __future__ import annotations

from dataclasses import replace

from naturalthoughts.engines.base import ChatRequest, Dispatch, Engine


class OpenedTemplateEngine(Engine):
    """``inner`` for a template whose generation prompt ends in ``opener``."""

    name = "opened"

    def __init__(self, inner: Engine, opener: str) -> None:
        self.inner = inner
        self.opener = opener

    def model_identity(self) -> str:
        return self.inner.model_identity()

    def continuation_problem(self) -> str | None:
        return self.inner.continuation_problem()

    def cut(self, request: ChatRequest) -> ChatRequest:
        prefill = request.prefill
        if prefill is None or not prefill.startswith(self.opener):
            return request
        return replace(request, prefill=prefill[len(self.opener) :] or None)

    def dispatch(self, job: Dispatch) -> None:
        self.inner.generate([self.cut(r) for r in job.requests], job.deliver, job.stopped)
