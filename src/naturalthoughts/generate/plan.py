"""The work of one ``nt generate`` run: a request per (question, sample), in questions.parquet order."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow.parquet as pq

from naturalthoughts.engines.base import ChatRequest, SamplingParams
from naturalthoughts.engines.config import LlamaCppEngineConfig
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
    teacher: str
    template: PromptTemplate
    max_tokens: int  # after clamping to the engine's context
    clamp_note: str | None  # said once when max_tokens was clamped
    jobs: list[Job]
    questions: int


def trace_id(question_id: str, sample: int, teacher: str) -> str:
    """Stable across runs: the same question, sample and teacher always give the same id."""
    return short_hash([question_id, sample, teacher], 20)


def effective_max_tokens(config: GenerateConfig) -> tuple[int, str | None]:
    """Clamp ``max_tokens`` to what one slot of the embedded llama.cpp server can hold.

    llama.cpp gives each of ``n_parallel`` slots ``n_ctx / n_parallel`` tokens for prompt plus
    completion and ends a reply with ``finish_reason=length`` when the slot is full, so asking for
    more only changes the cache key. Other engines know their own limits and are left alone.
    """
    engine = config.engine
    if not isinstance(engine, LlamaCppEngineConfig):
        return config.max_tokens, None
    slot_tokens = engine.n_ctx // engine.n_parallel
    if config.max_tokens <= slot_tokens:
        return config.max_tokens, None
    note = (
        f"max_tokens {config.max_tokens:,} exceeds the embedded llama.cpp slot context "
        f"({engine.n_ctx:,} n_ctx / {engine.n_parallel} slots = {slot_tokens:,} tokens for prompt plus reply): "
        f"using {slot_tokens:,}. Raise engine.n_ctx or lower engine.n_parallel for longer replies."
    )
    return slot_tokens, note


def sampling_params(config: GenerateConfig, max_tokens: int, sample: int) -> SamplingParams:
    seed = None if config.seed is None else config.seed + sample
    return SamplingParams(temperature=config.temperature, top_p=config.top_p, max_tokens=max_tokens, seed=seed)


def build_plan(run: RunDir, config: GenerateConfig, identity: Callable[[object], str]) -> Plan:
    """Every (question, sample) job; ``identity`` names the teacher (``engines.engine_identity``)."""
    # ParquetFile, not pq.read_table: the latter imports pyarrow.dataset and pandas (~0.3 s, ~40 MB), which a
    # fully cached rerun cannot afford.
    questions = pq.ParquetFile(run.require("questions")).read(columns=["id", "question"])
    template = load_template(config.prompt_template, config.engine, config.system_prompt)
    teacher = identity(config.engine)
    max_tokens, note = effective_max_tokens(config)
    params = [sampling_params(config, max_tokens, sample) for sample in range(config.samples)]
    jobs = []
    for question_id, question in zip(
        questions.column("id").to_pylist(), questions.column("question").to_pylist(), strict=True
    ):
        messages = template.messages(question)
        for sample in range(config.samples):
            request = ChatRequest(messages=messages, params=params[sample], sample=sample)
            jobs.append(Job(trace_id(question_id, sample, teacher), question_id, sample, request))
    return Plan(teacher, template, max_tokens, note, jobs, questions.num_rows)


def request_to_json(request: ChatRequest) -> str:
    """A request as JSON, to ship it to another process (Ray workers)."""
    return json.dumps(
        {
            "messages": list(request.messages),
            "params": request.params.as_dict(),
            "sample": request.sample,
            "json_mode": request.json_mode,
        },
        ensure_ascii=False,
    )


def request_from_json(text: str) -> ChatRequest:
    data = json.loads(text)
    params = data["params"]
    params["stop"] = tuple(params.get("stop") or ())
    return ChatRequest(
        messages=tuple(data["messages"]),
        params=SamplingParams(**params),
        sample=data["sample"],
        json_mode=data["json_mode"],
    )
