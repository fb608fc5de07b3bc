"""The work of one ``nt generate`` run: a request per (question, sample), in questions.parquet order, in chunks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from naturalthoughts.engines.base import ChatRequest, SamplingParams
from naturalthoughts.engines.identity import short_hash
from naturalthoughts.generate.config import GenerateConfig
from naturalthoughts.generate.prompts import PromptTemplate, load_template
from naturalthoughts.rundir import RunDir


@dataclass(frozen=True)
class Job:
    """One row of traces.parquet to fill: a question, a sample index and the request that answers it."""

    trace_id: str
    question_id: str
    sample: int
    request: ChatRequest


@dataclass(frozen=True)
class Plan:
    """What one run will send, without the jobs themselves: :meth:`chunks` reads questions and yields jobs."""

    teacher: str
    template: PromptTemplate
    max_tokens: int  # after clamping to the engine's context
    clamp_note: str | None  # said once when max_tokens was clamped
    questions: int
    source: Path  # questions.parquet
    params: tuple[SamplingParams, ...]  # one per sample
    # First sample number per question (generate --add-to-imported: after the question's imported samples).
    first_sample: Mapping[str, int] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        return len(self.params)

    @property
    def total(self) -> int:
        """Jobs in the plan: one per (question, sample)."""
        return self.questions * self.samples

    def chunks(self, size: int) -> Iterator[list[Job]]:
        """Every job in plan order (questions.parquet order, then sample), ``size`` at a time.

        Questions are read in record batches, so the whole pool never sits in memory.
        """
        # ParquetFile, not pq.read_table: the latter imports pyarrow.dataset and pandas (~0.3 s, ~40 MB), which a
        # fully cached rerun cannot afford.
        questions = pq.ParquetFile(self.source)
        pending: list[Job] = []
        for batch in questions.iter_batches(batch_size=max(size // self.samples, 1), columns=["id", "question"]):
            for question_id, question in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
                messages = self.template.messages(question)
                first = self.first_sample.get(question_id, 0)
                for sample, params in enumerate(self.params, first):
                    request = ChatRequest(messages=messages, params=params, sample=sample)
                    pending.append(Job(trace_id(question_id, sample, self.teacher), question_id, sample, request))
                    if len(pending) >= size:
                        yield pending
                        pending = []
        if pending:
            yield pending

    @property
    def jobs(self) -> list[Job]:
        """The whole plan as one list (small pools and tests; a stage streams :meth:`chunks`)."""
        return [job for chunk in self.chunks(4096) for job in chunk]


def trace_id(question_id: str, sample: int, teacher: str) -> str:
    """Stable across runs: the same question, sample and teacher always give the same id."""
    return short_hash([question_id, sample, teacher], 20)


def effective_max_tokens(config: GenerateConfig) -> tuple[int, str | None]:
    """``max_tokens`` clamped to what the teacher engine can write in one reply (its config's
    ``clamp_max_tokens``: one slot of the embedded llama.cpp server), and a note when it was cut."""
    return config.engine.clamp_max_tokens(config.max_tokens)


def sampling_params(config: GenerateConfig, max_tokens: int, sample: int) -> SamplingParams:
    seed = None if config.seed is None else config.seed + sample
    return SamplingParams(
        temperature=config.temperature,
        top_p=config.top_p,
        max_tokens=max_tokens,
        seed=seed,
        stop=config.stop_sequences(),
    )


def build_plan(
    run: RunDir,
    config: GenerateConfig,
    identity: Callable[[object], str],
    first_sample: Mapping[str, int] | None = None,
) -> Plan:
    """The plan for ``run``'s questions; ``identity`` names the teacher (``engines.engine_identity``);
    ``first_sample`` numbers each question's samples after the ones it has already (imported traces)."""
    source = run.require("questions")
    template = load_template(config.prompt_template, config.engine, config.system_prompt)
    max_tokens, note = effective_max_tokens(config)
    params = tuple(sampling_params(config, max_tokens, sample) for sample in range(config.samples))
    rows = pq.ParquetFile(source).metadata.num_rows
    return Plan(identity(config.engine), template, max_tokens, note, rows, source, params, first_sample or {})


def request_to_json(request: ChatRequest) -> str:
    """A request as JSON, to ship it to another process (Ray workers)."""
    return json.dumps(request.as_dict(), ensure_ascii=False)


def request_from_json(text: str) -> ChatRequest:
    return ChatRequest.from_dict(json.loads(text))
