"""The engine interface: every model call in the project goes through it.

A batch of :class:`ChatRequest` goes in; a :class:`ChatResult` per request comes out, in order,
with the text, the separate reasoning text when the server returns one, the finish reason, token
counts, latency, and an error string when the request failed (engines never raise for one failed
request: the caller records the error row and a rerun retries it).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 16384
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": list(self.stop),
        }


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion. ``sample`` distinguishes repeated samples of the same prompt."""

    messages: tuple[dict[str, str], ...]
    params: SamplingParams = field(default_factory=SamplingParams)
    sample: int = 0
    json_mode: bool = False  # ask the server for a JSON object (response_format) where supported


@dataclass
class ChatResult:
    text: str | None = None
    reasoning: str | None = None  # the server's separate reasoning field (vLLM/DeepSeek), if any
    finish_reason: str | None = None  # "stop", "length", ...
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    error: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


ResultCallback = Callable[[int, ChatResult], None]
StopCheck = Callable[[], bool]
NOT_SENT = "not sent: stopped before dispatch"


class Engine(abc.ABC):
    """One model behind one interface. Use as a context manager so resources are released."""

    name: str = "engine"

    @abc.abstractmethod
    def model_identity(self) -> str:
        """A string that changes whenever the model would answer differently (part of cache keys)."""

    @abc.abstractmethod
    def generate(
        self,
        requests: Sequence[ChatRequest],
        on_result: ResultCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> list[ChatResult]:
        """Answer every request; call ``on_result(index, result)`` as each one finishes.

        ``should_stop`` is checked before each request is dispatched (budgets, Ctrl-C); requests
        not dispatched come back with ``error=NOT_SENT`` so the caller can leave them for a rerun.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release servers, sockets, GPU memory."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
