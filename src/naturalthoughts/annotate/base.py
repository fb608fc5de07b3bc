"""What every annotator is, the per-run context they share, and the bounded-retry LLM call.

An annotator reads columns of the working batch (trace columns, the question's columns, and
annotation columns already present) and returns the annotation columns it writes. Annotators that
call a model go through :meth:`AnnotateContext.engine`, a :class:`CachedEngine` on the run's response
cache, so an interrupted run resumes from the cache like generation.
"""

from __future__ import annotations

import abc
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import pyarrow as pa

from naturalthoughts.annotate.config import AnnotateConfig
from naturalthoughts.engines import CachedEngine, ChatRequest, EngineConfig, ResponseCache, SamplingParams
from naturalthoughts.rundir import RunDir

Columns = dict[str, pa.Array | list[Any]]
Role = Literal["annotator", "judge", "second"]
T = TypeVar("T")


NO_QUESTION = "no question text"
NO_ANSWER = "the trace has no answer text"
NO_REASONING = "the trace has no reasoning text"


class BadReply(ValueError):
    """A model reply that cannot be used (not JSON, unknown label, empty); the message says why."""


class Annotator(abc.ABC):
    """One annotation: declares the columns it reads and writes; fills them for a batch of traces."""

    name: str = ""  # the registry name, used by --only
    reads: tuple[str, ...] = ()  # columns of the working batch it needs
    writes: tuple[str, ...] = ()  # annotation columns it fills (tables.ANNOTATIONS)

    def __init__(self, ctx: AnnotateContext) -> None:
        self.ctx = ctx
        self.counts: Counter[str] = Counter()  # annotated, failed, bad_replies ... (manifest + summary)
        self.extra: dict[str, Any] = {}  # anything else worth recording (e.g. a measured accuracy)

    @property
    def method(self) -> str:
        """The label stored in ``<name>_method``."""
        return self.name

    @abc.abstractmethod
    def annotate(self, batch: pa.Table) -> Columns:
        """Return each column in :attr:`writes` for every row of ``batch``."""

    def finish(self) -> None:  # noqa: B027 - optional hook
        """Called once after the last batch (write side outputs, compute summaries)."""

    def abort(self) -> None:  # noqa: B027 - optional hook
        """Called instead of :meth:`finish` when the run fails."""


@dataclass
class AnnotateContext:
    """What annotators share during one run: the config, the engines (started lazily) and the embedder."""

    run: RunDir
    config: AnnotateConfig
    _cache: ResponseCache | None = None
    _engines: dict[str, CachedEngine] = field(default_factory=dict)
    _embedders: dict[str, Any] = field(default_factory=dict)

    def engine_config(self, role: Role) -> EngineConfig:
        if role == "annotator":
            return self.config.annotator_engine
        if role == "judge":
            return self.config.judge_engine
        second = self.config.disagree.second_engine
        if second is None:
            raise ValueError("no second engine is configured")
        return second

    def engine(self, role: Role) -> CachedEngine:
        """The cached engine for ``role``; roles with identical configs share one engine (one server)."""
        cfg = self.engine_config(role)
        key = json.dumps(cfg.model_dump(mode="json"), sort_keys=True)
        if key not in self._engines:
            if self._cache is None:
                self._cache = ResponseCache(self.run.cache_db)
            self._engines[key] = CachedEngine(cfg, self._cache)
        return self._engines[key]

    def model_label(self, role: Role) -> str:
        return "llm:" + self.engine(role).model_identity()

    def embedder(self, model: str | None = None) -> Any:
        from naturalthoughts.annotate.embedder import load_embedder

        key = model or ""
        if key not in self._embedders:
            self._embedders[key] = load_embedder(model)
        return self._embedders[key]

    def usage(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for engine in self._engines.values():
            stats = engine.stats
            total.update(
                {
                    "requests_sent": stats.requests_sent,
                    "cache_hits": stats.cache_hits,
                    "prompt_tokens": stats.prompt_tokens,
                    "completion_tokens": stats.completion_tokens,
                    "errors": stats.errors,
                }
            )
        return dict(total)

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()
        if self._cache is not None:
            self._cache.close()
            self._cache = None


# ---- asking a model for validated output ------------------------------------------------------------


def extract_json(text: str | None) -> Any:
    """The first JSON object in a reply (models wrap JSON in prose or ``` fences)."""
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


@dataclass
class Answer:
    """The outcome of asking for one row: a parsed value, or None with the reason; the last raw reply."""

    value: Any = None
    raw: str | None = None
    error: str | None = None


def ask(
    ctx: AnnotateContext,
    role: Role,
    conversations: Sequence[Sequence[dict[str, str]] | str],
    parse: Callable[[str | None], T],
    counts: Counter[str],
    json_mode: bool = True,
    max_tokens: int | None = None,
) -> list[Answer]:
    """Ask the ``role`` engine each conversation; parse each reply; retry bad replies a bounded number of times.

    A ``str`` in place of a conversation skips the row with that string as its error (nothing to ask).
    Attempt ``k`` uses ``sample=k`` and a non-zero temperature after the first, so the cache does not
    hand back the same bad reply. Each bad reply adds one to ``counts["bad_replies"]``; rows still bad
    after ``max_attempts`` get an error.
    """
    cfg = ctx.config
    engine = ctx.engine(role)
    answers = [Answer(error=conv) if isinstance(conv, str) else Answer() for conv in conversations]
    pending = [i for i, conv in enumerate(conversations) if not isinstance(conv, str)]
    for attempt in range(cfg.max_attempts):
        if not pending:
            break
        params = SamplingParams(
            temperature=0.0 if attempt == 0 else 0.7,
            top_p=1.0 if attempt == 0 else 0.95,
            max_tokens=max_tokens or cfg.max_tokens,
            seed=attempt,
        )
        requests = [
            ChatRequest(messages=tuple(conversations[i]), params=params, sample=attempt, json_mode=json_mode)  # type: ignore[arg-type]
            for i in pending
        ]
        results = engine.generate(requests)
        still_bad = []
        for i, result in zip(pending, results, strict=True):
            answer = answers[i]
            answer.raw = result.text
            if result.error is not None:
                answer.error = f"engine error: {result.error}"[:300]
                counts["engine_errors"] += 1
                still_bad.append(i)
                continue
            try:
                answer.value, answer.error = parse(result.text), None
            except (BadReply, ValueError) as exc:
                answer.error = f"{exc}"[:300]
                counts["bad_replies"] += 1
                still_bad.append(i)
        pending = still_bad
    for i in pending:
        answers[i].value = None
        answers[i].error = f"gave up after {cfg.max_attempts} attempts: {answers[i].error}"
        counts["failed"] += 1
    return answers


def clip_middle(text: str | None, limit: int) -> str:
    """Keep the head and tail of long text: the question's restatement and the conclusion matter most."""
    text = text or ""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters omitted ...]\n{text[-half:]}"


def column(batch: pa.Table, name: str) -> list[Any]:
    """A column of the working batch as Python values (all nulls when absent)."""
    if name in batch.column_names:
        return batch.column(name).to_pylist()
    return [None] * batch.num_rows
