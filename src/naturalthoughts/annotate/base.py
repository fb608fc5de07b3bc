"""What every annotator is, the per-run context they share, and the schema-constrained, bounded-retry LLM call.

An annotator reads columns of the working batch (trace columns, the question's columns, and
annotation columns already present) and returns the annotation columns it writes. Annotators that
call a model go through :meth:`AnnotateContext.engine`, a :class:`CachedEngine` on the run's response
cache, so an interrupted run resumes from the cache like generation.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import pyarrow as pa

from naturalthoughts.annotate.config import AnnotateConfig
from naturalthoughts.digest import canonical_json
from naturalthoughts.engines import NOT_SENT, CachedEngine, ChatRequest, EngineConfig, ResponseCache, SamplingParams
from naturalthoughts.engines.cached import SpendRecorder
from naturalthoughts.redact import clip
from naturalthoughts.rundir import RunDir
from naturalthoughts.text.replies import VERDICT_CHOICES, BadReply, ReplySchema, clip_middle, extract_json

if TYPE_CHECKING:
    from naturalthoughts.progress import Reporter, Task

Columns = dict[str, pa.Array | list[Any]]
Role = Literal["annotator", "judge", "second"]
T = TypeVar("T")

NO_QUESTION = "no question text"
NO_ANSWER = "the trace has no answer text"
NO_REASONING = "the trace has no reasoning text"
ERROR_CHARS = 300  # an annotation's error column is cut to this (scrubbed of keys first)

__all__ = ["BadReply", "clip_middle", "extract_json"]  # re-exported: annotators and tests import them from here


class StopRequested(Exception):
    """The user asked the stage to stop (``should_stop``); answered requests are in the cache, nothing is written."""


class Annotator(abc.ABC):
    """One annotation: declares the columns it reads and writes; fills them for a batch of traces."""

    name: ClassVar[str] = ""  # the registry name, used by --only
    reads: ClassVar[tuple[str, ...]] = ()  # columns of the working batch it needs
    writes: ClassVar[tuple[str, ...]] = ()  # annotation columns it fills (tables.ANNOTATIONS)
    # Annotators whose columns this one reads (strategy density divides by length's reasoning_tokens): the stage
    # runs them too when their columns are missing or were computed from other traces.
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: AnnotateContext) -> None:
        self.ctx = ctx
        self.counts: Counter[str] = Counter()  # annotated, asked, failed, bad_replies ... (manifest + summary)
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
    """What annotators share during one run: the config, the engines (started lazily), the embedder, progress.

    ``rows`` is the number of traces (the total of each model-calling annotator's progress task);
    ``should_stop`` is the stage's stop check, handed to every engine call.
    """

    run: RunDir
    config: AnnotateConfig
    progress: Reporter | None = None
    should_stop: Callable[[], bool] = lambda: False
    rows: int | None = None
    attempt: str = ""  # the manifest record of this run: requests sent are filed under it in the spend ledger
    _cache: ResponseCache | None = None
    _engines: dict[str, CachedEngine] = field(default_factory=dict)
    _embedders: dict[str, Any] = field(default_factory=dict)
    _tasks: dict[str, Task] = field(default_factory=dict)

    def engine_config(self, role: Role) -> EngineConfig:
        """The engine of ``role``, in its reproducible mode: every annotate request is seeded (verdicts seed 0,
        retries their attempt, second answers ``second_seed``), and the embedded llama.cpp answers a seeded request
        the same way from run to run only with one slot a server (in two idle default runs with four slots, 5 of
        103 models-disagree verdicts differed, and with them the selection)."""
        if role == "annotator":
            config = self.config.annotator_engine
        elif role == "judge":
            config = self.config.judge_engine
        elif self.config.disagree.second_engine is None:
            raise ValueError("no second engine is configured")
        else:
            config = self.config.disagree.second_engine
        return config.for_seed(0)

    def engine(self, role: Role) -> CachedEngine:
        """The cached engine for ``role``; roles with identical configs share one engine (one server)."""
        cfg = self.engine_config(role)
        key = canonical_json(cfg.model_dump(mode="json"))
        if key not in self._engines:
            if self._cache is None:
                self._cache = ResponseCache(self.run.cache_db)
            spend = SpendRecorder(self._cache, "annotate", self.attempt) if self.attempt else None
            self._engines[key] = CachedEngine(cfg, self._cache, spend=spend)
            if not cfg.json_schema and self.progress is not None:
                self.progress.note(f"the {role} engine ({cfg.engine}) does not constrain replies to a JSON schema: "
                                   "each reply is validated, and an invalid one asked again")  # fmt: skip
        return self._engines[key]

    def model_label(self, role: Role) -> str:
        return "llm:" + self.engine(role).model_identity()

    def embedder(self, model: str | None = None) -> Any:
        from naturalthoughts.annotate.embedder import load_embedder

        key = model or ""
        if key not in self._embedders:
            self._embedders[key] = load_embedder(model)
        return self._embedders[key]

    def task(self, description: str) -> Task | None:
        """A progress task over every trace of the run, opened on first use (one per model-calling step)."""
        if self.progress is None:
            return None
        if description not in self._tasks:
            self._tasks[description] = self.progress.task(description, total=self.rows, unit="traces")
        return self._tasks[description]

    def close_finished_tasks(self) -> None:
        """End the progress tasks that reached their total (their line says how long that step took)."""
        for description, task in list(self._tasks.items()):
            if task.total is not None and task.completed >= task.total:
                task.close()
                del self._tasks[description]

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
        for task in self._tasks.values():
            task.close()
        self._tasks.clear()
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()
        if self._cache is not None:
            self._cache.close()
            self._cache = None


# ---- asking a model for validated output ------------------------------------------------------------


@dataclass
class Answer:
    """The outcome of asking for one row: a parsed value, or None with the reason; the last raw reply."""

    value: Any = None
    raw: str | None = None
    error: str | None = None
    settled: bool = False  # a valid value, or nothing left to try


def schema_request(
    messages: Sequence[dict[str, str]], params: SamplingParams, sample: int, schema: ReplySchema[Any]
) -> ChatRequest:
    """A request whose reply is constrained to ``schema`` where the engine can; validated either way."""
    return ChatRequest(
        messages=tuple(messages),
        params=params,
        sample=sample,
        json_schema=schema.json_schema,
        json_schema_name=schema.name,
    )


VERDICT_TOKENS = 4  # "true" / "false" are one or two tokens; the grammar ends the reply there


def verdict_tokens(mode: str, engine: Any, schema: ReplySchema[Any]) -> bool:
    """Whether yes/no verdicts in ``schema`` are asked as one constrained token first: ``verdicts`` is ``token``, or
    ``auto`` and the engine constrains replies to a few strings (the embedded llama.cpp)."""
    if schema.verdict_field is None or mode == "schema":
        return False
    return mode == "token" or bool(getattr(engine, "choice_constraint", False))


def verdict_request(messages: Sequence[dict[str, str]], schema: ReplySchema[Any]) -> ChatRequest:
    """The reply pre-filled up to its verdict (``{"correct": ``), the rest constrained to ``true`` or ``false``:
    one greedy token instead of a whole schema-constrained JSON reply."""
    return ChatRequest(
        messages=tuple(messages),
        params=SamplingParams(temperature=0.0, top_p=1.0, max_tokens=VERDICT_TOKENS, seed=0),
        prefill=schema.verdict_prefill(),
        choices=VERDICT_CHOICES,
        json_schema_name=schema.name,
    )


def _ask_verdict_tokens(
    annotator: Annotator,
    engine: Any,
    conversations: Sequence[Sequence[dict[str, str]] | str],
    pending: list[int],
    answers: list[Answer],
    schema: ReplySchema[Any],
    progress: Task | None,
) -> list[int]:
    """One constrained verdict token for each pending row; returns the rows whose reply was not one (they go on to
    the schema-constrained attempts)."""
    requests = [verdict_request(conversations[i], schema) for i in pending]  # type: ignore[arg-type]
    results = engine.generate(requests, should_stop=annotator.ctx.should_stop)
    if any(result.error == NOT_SENT for result in results):
        raise StopRequested("stopped on request")
    left = []
    for i, result in zip(pending, results, strict=True):
        try:
            raw = schema.verdict_reply(result.text) if result.error is None else None
        except BadReply:
            raw = None
        if raw is None:
            left.append(i)
            annotator.counts["verdict_token_fallbacks"] += 1
            continue
        answers[i].value, answers[i].raw, answers[i].error, answers[i].settled = schema.parse(raw), raw, None, True
        annotator.counts["verdict_tokens"] += 1
        if progress is not None:
            progress.advance(1, stats=_stats(annotator.counts))
    return left


def _params(attempt: int, max_tokens: int) -> SamplingParams:
    """Greedy first; each retry samples (temperature 0.7, its own seed) so the cache does not return the same reply."""
    if attempt == 0:
        return SamplingParams(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=0)
    return SamplingParams(temperature=0.7, top_p=0.95, max_tokens=max_tokens, seed=attempt)


def _read(result: Any, schema: ReplySchema[Any], answer: Answer) -> str | None:
    """Parse one engine result into ``answer``; returns the count key of what went wrong (None when valid)."""
    answer.raw = result.text
    if result.error is not None:
        answer.error = clip(f"engine error: {result.error}", ERROR_CHARS)
        return "engine_errors"
    if result.finish_reason == "length":
        answer.error = "reply cut at max_tokens (finish_reason length)"
        return "cut_replies"
    try:
        answer.value, answer.error = schema.parse(result.text), None
    except (BadReply, ValueError) as exc:
        answer.error = clip(f"{exc}", ERROR_CHARS)
        return "bad_replies"
    return None


class _Attempt:
    """One pass over the pending rows: reads each reply as it arrives (engine threads included), so the progress
    task moves with a slow model instead of once per batch."""

    def __init__(
        self,
        rows: list[int],
        answers: list[Answer],
        schema: ReplySchema[Any],
        last: bool,
        progress: Task | None,
        counts: Counter[str],
    ) -> None:
        self.rows, self.answers, self.schema, self.last = rows, answers, schema, last
        self.progress, self.counts = progress, counts
        self.problems: list[str | None] = [None] * len(rows)
        self.read = [False] * len(rows)

    def on_result(self, position: int, result: Any) -> None:
        if result.error == NOT_SENT:
            return
        answer = self.answers[self.rows[position]]
        self.problems[position], self.read[position] = _read(result, self.schema, answer), True
        answer.settled = self.problems[position] is None or self.last
        if self.progress is not None and answer.settled:
            self.progress.advance(1, stats=_stats(self.counts))

    def finish(self, results: Sequence[Any]) -> list[int]:
        """Count the problems; return the rows to ask again."""
        if any(result.error == NOT_SENT for result in results):
            raise StopRequested("stopped on request")
        for position, result in enumerate(results):
            if not self.read[position]:  # an engine that did not call back: read the returned result
                self.on_result(position, result)
        for problem in self.problems:
            if problem is not None:
                self.counts[problem] += 1
        return [row for row, problem in zip(self.rows, self.problems, strict=True) if problem is not None]


def ask(
    annotator: Annotator,
    role: Role,
    conversations: Sequence[Sequence[dict[str, str]] | str],
    schema: ReplySchema[T],
) -> list[Answer]:
    """Ask the ``role`` engine each conversation for a reply in ``schema``; retry bad replies a bounded number of times.

    A ``str`` in place of a conversation skips the row with that string as its error (nothing to ask). Attempt
    ``k > 0`` samples with seed ``k`` (see :func:`_params`). A reply cut at ``max_tokens`` (``finish_reason``
    ``length``) is bad without being parsed. Counts go to ``annotator.counts``: ``asked`` (rows sent to the model),
    ``annotated``, ``bad_replies`` / ``cut_replies`` / ``engine_errors`` (per attempt) and ``failed`` (rows still
    bad after ``max_attempts``). The progress task ``annotate: NAME`` advances as rows settle.
    Raises :class:`StopRequested` when the stop check left requests unsent.
    """
    ctx = annotator.ctx
    cfg = ctx.config
    engine = ctx.engine(role)
    progress = ctx.task(f"annotate: {annotator.name}")
    max_tokens = schema.max_tokens(cfg.max_tokens)
    answers = [Answer(error=conv, settled=True) if isinstance(conv, str) else Answer() for conv in conversations]
    pending = [i for i, conv in enumerate(conversations) if not isinstance(conv, str)]
    annotator.counts["asked"] += len(pending)
    if progress is not None and len(pending) < len(answers):
        progress.advance(len(answers) - len(pending))
    if pending and verdict_tokens(cfg.verdicts, ctx.engine_config(role), schema):
        pending = _ask_verdict_tokens(annotator, engine, conversations, pending, answers, schema, progress)
    for attempt in range(cfg.max_attempts):
        if not pending:
            break
        params = _params(attempt, max_tokens)
        requests = [schema_request(conversations[i], params, attempt, schema) for i in pending]  # type: ignore[arg-type]
        current = _Attempt(pending, answers, schema, attempt == cfg.max_attempts - 1, progress, annotator.counts)
        results = engine.generate(requests, on_result=current.on_result, should_stop=ctx.should_stop)
        pending = current.finish(results)
    for i in pending:
        answers[i].value = None
        answers[i].error = f"gave up after {cfg.max_attempts} attempts: {answers[i].error}"
    annotator.counts["failed"] += len(pending)
    annotator.counts["annotated"] += sum(a.value is not None for a in answers)
    return answers


def _stats(counts: Counter[str]) -> str:
    bad = counts["bad_replies"] + counts["cut_replies"] + counts["engine_errors"]
    return f"{bad:,} bad replies (retried)" if bad else ""


def column(batch: pa.Table, name: str) -> list[Any]:
    """A column of the working batch as Python values (all nulls when absent)."""
    if name in batch.column_names:
        return batch.column(name).to_pylist()
    return [None] * batch.num_rows
