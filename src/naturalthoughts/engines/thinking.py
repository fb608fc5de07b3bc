"""A thinking budget (s1-style budget forcing) for any engine that can continue an assistant message.

:class:`ThinkingEngine` wraps an engine and answers each request in phases, every phase an ordinary
pre-filled request to the inner engine (so ``ThinkingEngine(CachedEngine(...))`` caches each phase,
and a rerun is served entirely from the cache):

1. **Reasoning.** The assistant turn is pre-filled with ``<think>\\n``; generation stops at
   ``</think>`` or after ``budget`` tokens.
   - Cut at the budget (``finish_reason == "length"``): the toolkit closes the reasoning
     (``\\n</think>\\n\\n`` plus ``answer_cue``) and the trace is **forced** (``ChatResult.forced``).
   - Closed (or ended) by the model before ``min_tokens``, or with an empty reasoning: the closing tag
     is replaced by ``continuation`` ("Wait") and the reasoning goes on, up to ``max_continuations``
     times, within what is left of the budget.
2. **Answer.** The turn is pre-filled with ``<think>\\n{reasoning}\\n</think>\\n\\n`` (plus the cue when
   forced) and the answer is generated with ``answer_max_tokens`` (default: the request's own limit).

The result's ``text`` is the whole R1-shaped response ``<think>\\n...\\n</think>\\n\\n...answer``, so
:func:`naturalthoughts.text.think.parse_response` splits it; ``reasoning_tokens`` and
``answer_tokens`` are the tokens each phase generated, ``completion_tokens`` and ``prompt_tokens``
their sums over every phase, ``finish_reason`` that of the answer phase.

Requests that carry their own ``prefill`` (a no-think marker, an evaluation prompt), a JSON schema or
JSON mode pass through unchanged (``forced`` stays None), as does everything when the budget is off.
The phases are :class:`naturalthoughts.engines.base.Phases` of one ``generate`` call on the inner engine: an
HTTP engine (the embedded llama.cpp, an OpenAI-compatible server) sends a trace's answer phase right after its
reasoning, to the same server, which continues from the reasoning it still holds instead of reading it again;
an in-process engine runs every trace's next phase in one batched round. Answers of finished traces are delivered
as they arrive, and ``on_phase`` hears of each finished reasoning (so a progress bar moves before answers end).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from pydantic import Field

from naturalthoughts.config import StrictModel
from naturalthoughts.engines.base import NOT_SENT, ChatRequest, ChatResult, Dispatch, Engine
from naturalthoughts.engines.identity import short_hash
from naturalthoughts.errors import ConfigError
from naturalthoughts.text.think import THINK_CLOSE, THINK_OPEN

REASONING_PHASE = "reasoning"
# on_phase(index, phase, tokens, cached): request ``index`` finished its reasoning (``tokens`` over every reasoning
# request of it; ``cached``: all of them came from a cache), before its answer phase is sent.
PhaseCallback = Callable[[int, str, int, bool], None]


class ThinkingBudget(StrictModel):
    """How long a model may reason before the toolkit closes its reasoning (s1's budget forcing)."""

    budget: int | None = Field(
        default=None, ge=1, description="Most reasoning tokens before the toolkit closes the block; None: no cap."
    )
    min_tokens: int = Field(
        default=0,
        ge=0,
        description="When the model closes its reasoning before this many tokens, the closing tag is replaced by "
        "`continuation` and it goes on (at most max_continuations times). An empty reasoning is always extended.",
    )
    max_continuations: int = Field(default=2, ge=0, description="Most continuations per trace.")
    continuation: str = Field(default="Wait", min_length=1, description="Appended where the model closed too early.")
    answer_cue: str = Field(
        default="Final Answer:", description="Written after the toolkit closes a cut reasoning (as s1 does); may be ''."
    )
    answer_max_tokens: int | None = Field(
        default=None, ge=1, description="Token limit of the answer phase; None: the request's own max_tokens."
    )
    open_tag: str = Field(default=THINK_OPEN, min_length=1)
    close_tag: str = Field(default=THINK_CLOSE, min_length=1)

    @property
    def enabled(self) -> bool:
        return self.budget is not None or self.min_tokens > 0

    def applies_to(self, request: ChatRequest) -> bool:
        """Whether ``request`` is answered in phases (others pass through unchanged)."""
        return self.enabled and request.prefill is None and request.json_schema is None and not request.json_mode

    def reasoning_prefill(self, reasoning: str) -> str:
        return f"{self.open_tag}\n{reasoning}"

    def answer_prefill(self, reasoning: str, forced: bool) -> str:
        cue = self.answer_cue if forced else ""
        return f"{self.open_tag}\n{reasoning.rstrip()}\n{self.close_tag}\n\n{cue}"

    def extended(self, reasoning: str) -> str:
        """The reasoning with its closing tag replaced by the continuation word."""
        stem = reasoning.rstrip()
        return f"{stem}\n{self.continuation}" if stem else self.continuation


def _add(total: int | None, more: int | None) -> int | None:
    return more if total is None else total + (more or 0)


@dataclass
class _Trace:
    """One request's progress through the phases."""

    index: int
    request: ChatRequest
    reasoning: str = ""
    reasoning_tokens: int = 0
    continuations: int = 0
    forced: bool = False
    answering: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_prompt_tokens: int | None = None
    latency_s: float = 0.0
    cached: bool = True

    def spend(self, result: ChatResult) -> None:
        self.prompt_tokens = _add(self.prompt_tokens, result.prompt_tokens)
        self.completion_tokens = _add(self.completion_tokens, result.completion_tokens)
        self.cached_prompt_tokens = _add(self.cached_prompt_tokens, result.cached_prompt_tokens)
        self.latency_s += result.latency_s
        self.cached = self.cached and result.cached


class ThinkingEngine(Engine):
    """``inner`` with a thinking budget (see the module docstring). Closing it closes ``inner``."""

    name = "thinking"

    def __init__(self, inner: Engine, budget: ThinkingBudget, on_phase: PhaseCallback | None = None) -> None:
        if budget.enabled and (problem := inner.continuation_problem()):
            raise ConfigError(f"a thinking budget needs an engine that continues an assistant message: {problem}")
        self.inner = inner
        self.budget = budget
        self.on_phase = on_phase

    def model_identity(self) -> str:
        if not self.budget.enabled:
            return self.inner.model_identity()
        return f"{self.inner.model_identity()}+thinking:{short_hash(self.budget.model_dump(mode='json'))}"

    def continuation_problem(self) -> str | None:
        return self.inner.continuation_problem()

    def dispatch(self, job: Dispatch) -> None:
        passing = [i for i, request in enumerate(job.requests) if not self.budget.applies_to(request)]
        if passing:
            self.inner.generate(
                [job.requests[i] for i in passing],
                lambda position, result: job.deliver(passing[position], result),
                job.should_stop,
            )
        phased = [i for i, request in enumerate(job.requests) if self.budget.applies_to(request)]
        if phased and not job.stopped():
            phases = _TracePhases(self, [job.requests[i] for i in phased], phased)
            self.inner.generate(
                [self._next_request(_Trace(i, job.requests[i])) for i in phased],
                lambda position, result: job.deliver(phased[position], result),
                job.should_stop,
                phases=phases,
            )

    def _next_request(self, trace: _Trace) -> ChatRequest:
        request, budget = trace.request, self.budget
        if trace.answering:
            max_tokens = budget.answer_max_tokens or request.params.max_tokens
            params = replace(request.params, max_tokens=max_tokens)
            return replace(request, params=params, prefill=budget.answer_prefill(trace.reasoning, trace.forced))
        params = replace(request.params, max_tokens=self._room(trace), stop=(budget.close_tag,))
        return replace(request, params=params, prefill=budget.reasoning_prefill(trace.reasoning))

    def _room(self, trace: _Trace) -> int:
        """Reasoning tokens still allowed (the budget, or the request's own limit when only a minimum is set)."""
        cap = self.budget.budget if self.budget.budget is not None else trace.request.params.max_tokens
        return cap - trace.reasoning_tokens

    def _take_reasoning(self, trace: _Trace, result: ChatResult) -> None:
        """Add a reasoning phase's text, then decide: go on reasoning, or answer (closed by the model or forced)."""
        trace.spend(result)
        trace.reasoning += (result.reasoning or "") + (result.text or "")
        trace.reasoning_tokens += result.completion_tokens or 0
        if result.finish_reason == "length":
            trace.forced, trace.answering = True, True
            return
        too_short = trace.reasoning_tokens < self.budget.min_tokens or not trace.reasoning.strip()
        if too_short and trace.continuations < self.budget.max_continuations and self._room(trace) > 0:
            trace.continuations += 1
            trace.reasoning = self.budget.extended(trace.reasoning)
            return
        trace.answering = True

    def _combined(self, trace: _Trace, answer: ChatResult) -> ChatResult:
        trace.spend(answer)
        return ChatResult(
            text=self.budget.answer_prefill(trace.reasoning, trace.forced) + (answer.text or ""),
            finish_reason=answer.finish_reason,
            prompt_tokens=trace.prompt_tokens,
            completion_tokens=trace.completion_tokens,
            cached_prompt_tokens=trace.cached_prompt_tokens,
            latency_s=trace.latency_s,
            cached=trace.cached,
            forced=trace.forced,
            reasoning_tokens=trace.reasoning_tokens,
            answer_tokens=answer.completion_tokens,
        )

    @staticmethod
    def _failed(trace: _Trace, result: ChatResult) -> ChatResult:
        if result.error == NOT_SENT:
            return ChatResult(error=NOT_SENT)
        phase = "answer" if trace.answering else "reasoning"
        return ChatResult(error=f"{phase} phase: {result.error}", latency_s=trace.latency_s + result.latency_s)

    def close(self) -> None:
        self.inner.close()


class _TracePhases:
    """The phases of the traces of one ``generate`` call (position ``p`` is ``requests[p]``, index ``indices[p]`` of
    the caller's job), each worked out afresh from the results so far (a cache may replay them)."""

    def __init__(self, engine: ThinkingEngine, requests: list[ChatRequest], indices: list[int]) -> None:
        self.engine = engine
        self.requests = requests
        self.indices = indices
        self._reported: set[int] = set()  # positions whose finished reasoning on_phase heard of

    def _reasoned(self, position: int, results: Sequence[ChatResult]) -> _Trace:
        """The trace after ``results``, every one of them a reasoning phase."""
        trace = _Trace(self.indices[position], self.requests[position])
        for result in results:
            self.engine._take_reasoning(trace, result)
        return trace

    def next(self, position: int, results: Sequence[ChatResult]) -> ChatRequest | None:
        if not results[-1].ok:
            return None
        trace = self._reasoned(position, results[:-1])
        if trace.answering:
            return None  # that was the answer
        self.engine._take_reasoning(trace, results[-1])
        on_phase = self.engine.on_phase
        if trace.answering and on_phase is not None and position not in self._reported:
            self._reported.add(position)
            on_phase(trace.index, REASONING_PHASE, trace.reasoning_tokens, trace.cached)
        return self.engine._next_request(trace)

    def combine(self, position: int, results: Sequence[ChatResult]) -> ChatResult:
        trace = self._reasoned(position, results[:-1])
        last = results[-1]
        return self.engine._combined(trace, last) if last.ok else self.engine._failed(trace, last)
