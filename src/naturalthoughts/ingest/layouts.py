"""Trace layouts: how a source that carries responses holds them, and the presets for the public sets that use them.

Three layouts (``nt ingest SOURCE --traces LAYOUT``; ``traces:`` of a source under ``sources:`` in YAML):

- ``r1``: one column holds the whole response, ``<think>reasoning</think>answer`` (``--trace-col``);
- ``split``: the reasoning and the final answer in two columns (``--reasoning-col``, ``--final-col``);
- ``messages``: a list of turns (``--messages-col``), OpenAI (``role``/``content``) or ShareGPT (``from``/``value``),
  told apart per file from its first conversation. The last user turn is the question, the assistant turn after it
  the response, a system turn (or a ``system`` column) the system prompt.

Each layout is also a preset: when a column is not named, the first of the preset's candidate columns that the file
has is used (``problem`` or ``prompt`` for the question, ``generations`` for OpenR1-Math's responses...), so the
public sets listed in :data:`PRESETS` import with ``--traces LAYOUT`` alone. A column named explicitly must exist.

Several responses per question: a list in the response column (``r1``/``split``: samples 0..k-1 of the row, with a
list of correctness flags and finish reasons beside it when the source has them), or several rows with the same
question (any layout; each row adds the next sample). A correctness flag (bool, 0/1, yes/no, true/false) is kept as
``traces.source_correct``. Everything here maps one record (a dict) to :class:`TraceValues`; splitting the reasoning
from the answer is :func:`naturalthoughts.text.think.parse_response`'s job, as for generated traces.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, field_validator

from naturalthoughts.config import StrictModel, validate
from naturalthoughts.errors import BadInputError, ConfigError, Fix

Layout = Literal["r1", "split", "messages"]
LAYOUTS: tuple[str, ...] = ("r1", "split", "messages")


@dataclass(frozen=True)
class Preset:
    """A layout with the column names the public sets that use it have (candidates, first present wins)."""

    layout: str
    summary: str
    datasets: tuple[str, ...]  # "name: columns read" of the public sets known to use this layout
    question: tuple[str, ...] = ("question", "problem", "prompt")
    answer: tuple[str, ...] = ("reference_answer", "answer", "ground_truth", "ground_truth_solution", "solution")
    trace: tuple[str, ...] = ()
    reasoning: tuple[str, ...] = ()
    final: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    correct: tuple[str, ...] = ()
    finish: tuple[str, ...] = ("finish_reason", "finish_reasons")
    system: tuple[str, ...] = ("system",)
    domain: tuple[str, ...] = ("domain",)


PRESETS: dict[str, Preset] = {
    "r1": Preset(
        layout="r1",
        summary="one column holds <think>reasoning</think>answer (a list of them: several samples)",
        datasets=(
            "NuminaMath-QwQ-CoT-5M (PrimeIntellect): prompt, response, correct",
            "OpenR1-Math-220k (open-r1): problem, answer, generations[], correctness_math_verify[], finish_reasons[]",
            "your own R1 runs in a JSONL: question, response",
        ),
        trace=("response", "generations", "generation", "output", "completion"),
        correct=("correct", "is_correct", "correctness_math_verify"),
    ),
    "split": Preset(
        layout="split",
        summary="the reasoning and the final answer in two columns",
        datasets=(
            "OpenThoughts-114k, metadata config (open-thoughts): problem, deepseek_reasoning, deepseek_solution, "
            "ground_truth_solution, domain",
            "s1K-1.1 (simplescaling): question, deepseek_thinking_trajectory, deepseek_attempt, solution, "
            "deepseek_grade (Yes/No)",
        ),
        answer=("reference_answer", "ground_truth_solution", "answer", "ground_truth", "solution"),
        reasoning=("reasoning", "deepseek_reasoning", "deepseek_thinking_trajectory", "thinking", "reasoning_content"),
        final=("final_answer", "deepseek_solution", "deepseek_attempt", "attempt", "response"),
        correct=("correct", "is_correct", "deepseek_grade"),
    ),
    "messages": Preset(
        layout="messages",
        summary="a list of chat turns, OpenAI role/content or ShareGPT from/value (detected per file)",
        datasets=(
            "AM-DeepSeek-R1-Distilled-1.4M (a-m-team): messages[{role, content, info}] (OpenAI form; the user "
            "turn's info.reference_answer is read as the reference answer)",
            "OpenThoughts3-1.2M (open-thoughts): conversations[{from: human|gpt, value}], difficulty, source, domain",
            "OpenThoughts-114k default config and Bespoke-Stratos-17k: system, conversations[{from: user|assistant, "
            "value}] (their <|begin_of_thought|> markers are read as <think>)",
        ),
        messages=("messages", "conversations"),
    ),
}


class TraceSourceSpec(StrictModel):
    """A source with per-source options: a mapping under ``sources:`` in YAML, or one built from ``nt ingest``'s
    options. Without ``traces`` it is a question source with its own column names."""

    source: str = Field(description="a file, a folder, hf:OWNER/NAME[:SPLIT] (as the ingest stage reads sources)")
    traces: str | None = Field(None, description=f"the layout of its responses: {', '.join(LAYOUTS)}; null: none")
    question_col: str | None = Field(None, description="column with the question (default: the preset's)")
    answer_col: str | None = Field(None, description="column with the reference answer")
    domain_col: str | None = Field(None, description="column with a domain label")
    trace_col: str | None = Field(None, description="r1: column with <think>reasoning</think>answer (or a list)")
    reasoning_col: str | None = Field(None, description="split: column with the reasoning")
    final_col: str | None = Field(None, description="split: column with the final answer")
    messages_col: str | None = Field(None, description="messages: column with the turns (messages/conversations)")
    correct_col: str | None = Field(None, description="column with a correctness flag or verifier verdict")
    finish_col: str | None = Field(None, description="column with the finish reason (stop, length...)")
    system_col: str | None = Field(None, description="column with the system prompt")
    teacher: str | None = Field(None, description="the model that wrote the responses (e.g. deepseek-ai/DeepSeek-R1)")
    teacher_col: str | None = Field(None, description="column naming the model that wrote each response")
    tokenizer: str | None = Field(
        None,
        description="what counts the imported traces' tokens: a Hugging Face tokenizer folder or id, smollm2, or "
        "approx (characters / 4); default: the teacher's tokenizer when it loads offline, else approx",
    )

    @field_validator("traces")
    @classmethod
    def _known_layout(cls, value: str | None) -> str | None:
        if value is not None and value not in PRESETS:
            raise ValueError(f"unknown trace layout {value!r}; use one of: {', '.join(PRESETS)}")
        return value

    @property
    def preset(self) -> Preset | None:
        return PRESETS[self.traces] if self.traces else None


# Options that only mean something with a trace layout (a question source given them is an error).
TRACE_ONLY_OPTIONS = (
    "trace_col", "reasoning_col", "final_col", "messages_col", "correct_col", "finish_col", "system_col",
    "teacher", "teacher_col", "tokenizer",
)  # fmt: skip


def spec_of(entry: str | dict[str, Any] | TraceSourceSpec) -> TraceSourceSpec | None:
    """The spec of a ``sources:`` entry (None for a plain string: a question source with the config's columns)."""
    if isinstance(entry, TraceSourceSpec):
        spec = entry
    elif isinstance(entry, dict):
        spec = validate(TraceSourceSpec, entry, f"source {entry.get('source', '(no source key)')}")
    else:
        return None
    if spec.traces is None:
        given = [name for name in TRACE_ONLY_OPTIONS if getattr(spec, name) is not None]
        if given:
            raise ConfigError(
                f"source {spec.source}: {', '.join(given)} need a trace layout: add traces: "
                f"{' | '.join(LAYOUTS)} ({{fix}})",
                fix=Fix("ingest", "SOURCE", traces="LAYOUT"),
            )
    return spec


def imports_traces(entries: Sequence[Any]) -> bool:
    """Whether any of these sources (strings, mappings, specs) carries responses."""
    return any((spec := spec_of(entry)) is not None and spec.traces is not None for entry in entries)


# ---- the columns of one file ------------------------------------------------------------------------------------
ROLE_NAMES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "model": "assistant",
              "system": "system"}  # fmt: skip
MESSAGE_FORMS = {"openai": ("role", "content"), "sharegpt": ("from", "value")}


@dataclass
class TraceColumns:
    """The columns one file is read through (resolved from the spec, the preset and the file's column names)."""

    question: str | None  # None: the last user turn (messages)
    answer: str | None
    domain: str | None
    trace: str | None = None
    reasoning: str | None = None
    final: str | None = None
    messages: str | None = None
    correct: str | None = None
    finish: str | None = None
    system: str | None = None
    teacher: str | None = None
    message_form: str | None = None  # openai | sharegpt, decided on the first conversation of the file
    form_row: int | None = None  # where the form was decided (named in errors about rows of the other form)

    def read(self) -> list[str]:
        """Every column this file is read through (what a Parquet reader needs to load)."""
        names = [self.question, self.answer, self.domain, self.trace, self.reasoning, self.final, self.messages,
                 self.correct, self.finish, self.system, self.teacher]  # fmt: skip
        return list(dict.fromkeys(n for n in names if n))

    def as_dict(self) -> dict[str, str]:
        """For the manifest: which column served what (and the messages form)."""
        out = {k: v for k, v in vars(self).items() if isinstance(v, str) and k != "form_row"}
        return out


def resolve_columns(where: str, spec: TraceSourceSpec, names: Iterable[str]) -> TraceColumns:
    """The columns of a file with column ``names``: explicit ones must exist, else the preset's first present one."""
    preset = spec.preset
    assert preset is not None
    names = list(names)
    present = set(names)
    missing: list[str] = []

    def pick(explicit: str | None, candidates: Sequence[str], option: str, required: bool) -> str | None:
        if explicit is not None:
            if explicit not in present:
                missing.append(f"no column '{explicit}' (given with {option})")
            return explicit
        found = next((c for c in candidates if c in present), None)
        if found is None and required:
            tried = ", ".join(f"'{c}'" for c in candidates)
            missing.append(f"no {option.removesuffix('_col')} column (tried {tried}; name it with {option})")
        return found

    layout = preset.layout
    in_turns = layout == "messages"  # the question is the last user turn unless a column is named
    columns = TraceColumns(
        question=pick(spec.question_col, () if in_turns else preset.question, "question_col", not in_turns),
        answer=pick(spec.answer_col, preset.answer, "answer_col", False),
        domain=pick(spec.domain_col, preset.domain, "domain_col", False),
        trace=pick(spec.trace_col, preset.trace, "trace_col", layout == "r1") if layout == "r1" else None,
        reasoning=pick(spec.reasoning_col, preset.reasoning, "reasoning_col", True) if layout == "split" else None,
        final=pick(spec.final_col, preset.final, "final_col", True) if layout == "split" else None,
        messages=pick(spec.messages_col, preset.messages, "messages_col", True) if layout == "messages" else None,
        correct=pick(spec.correct_col, preset.correct, "correct_col", False),
        finish=pick(spec.finish_col, preset.finish, "finish_col", False),
        system=pick(spec.system_col, preset.system, "system_col", False),
        teacher=pick(spec.teacher_col, (), "teacher_col", False),
    )
    if missing:
        shown = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
        raise BadInputError(f"{where}: {'; '.join(missing)} (layout {spec.traces}; columns: {shown or 'none'})")
    return columns


# ---- one record -> its traces -----------------------------------------------------------------------------------
@dataclass
class TraceValues:
    """What one record gives: the question's values and one or more responses (samples of that question)."""

    question: str | None
    reference_answer: str | None = None
    domain: str | None = None
    system_prompt: str | None = None
    responses: list[tuple[str | None, str | None]] = field(default_factory=list)  # (text, separate reasoning)
    correct: list[bool | None] = field(default_factory=list)
    finish: list[str | None] = field(default_factory=list)
    teacher: str | None = None


class RowProblem(Exception):
    """A record that cannot give a trace: the reason goes to the row's ``invalid`` column."""


_TRUE = {"true", "yes", "y", "correct", "1", "pass", "passed"}
_FALSE = {"false", "no", "n", "incorrect", "wrong", "0", "fail", "failed"}


def as_flag(value: Any, column: str) -> bool | None:
    """A correctness flag as bool: bools, 0/1, and yes/no or true/false words (s1K's deepseek_grade is Yes/No)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        if not word:
            return None
    raise RowProblem(f"'{column}' holds {value!r}, not a correctness flag (true/false, yes/no, 1/0)")


def _text(value: Any, column: str, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise RowProblem(f"{what} ('{column}') is not text (got {type(value).__name__})")


def _listed(value: Any, n: int, column: str, what: str) -> list[Any]:
    """``value`` as a list aligned with ``n`` responses: a list of length n, or one value for every response."""
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise RowProblem(f"'{column}' lists {len(value)} {what} for {n} responses")
        return list(value)
    return [value] * n


def record_traces(record: dict[str, Any], columns: TraceColumns, row: int) -> TraceValues:
    """The question and responses of one record; raises :class:`RowProblem` naming what is wrong."""

    def text_of(column: str | None, what: str) -> str | None:
        return _text(record.get(column), column, what) if column else None

    values = TraceValues(
        question=text_of(columns.question, "the question"),
        reference_answer=_scalar_text(record.get(columns.answer)) if columns.answer else None,
        domain=_scalar_text(record.get(columns.domain)) if columns.domain else None,
        system_prompt=text_of(columns.system, "the system prompt"),
        teacher=text_of(columns.teacher, "the teacher"),
    )
    if columns.trace is not None:
        values.responses = [(text, None) for text in _responses(record, columns.trace, "response")]
    elif columns.reasoning is not None and columns.final is not None:
        reasoning = _responses(record, columns.reasoning, "reasoning")
        finals = _listed(record.get(columns.final), len(reasoning), columns.final, "final answers")
        values.responses = [
            (_text(final, columns.final, "the final answer"), thought)
            for final, thought in zip(finals, reasoning, strict=True)
        ]
    else:
        _conversation(record, columns, row, values)
    n = len(values.responses)
    values.correct = [as_flag(v, columns.correct) for v in _aligned(record, columns.correct, n, "flags")]
    values.finish = [
        _text(v, columns.finish, "the finish reason") for v in _aligned(record, columns.finish, n, "finish reasons")
    ]
    return values


def _aligned(record: dict[str, Any], column: str | None, n: int, what: str) -> list[Any]:
    """A per-response column's values for ``n`` responses (all None when the file has no such column)."""
    return _listed(record.get(column), n, column, what) if column else [None] * n


def _scalar_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    import json

    return json.dumps(value, ensure_ascii=False)


def _responses(record: dict[str, Any], column: str, what: str) -> list[str]:
    """The responses in ``column``: one text, or a list of texts (several samples)."""
    value = record.get(column)
    if column not in record or value is None:
        raise RowProblem(f"no {what} ('{column}' is missing or null)")
    items = list(value) if isinstance(value, list | tuple) else [value]
    if not items:
        raise RowProblem(f"no {what} ('{column}' is an empty list)")
    for item in items:
        if not isinstance(item, str):
            raise RowProblem(f"{what} ('{column}') is not text (got {type(item).__name__})")
    return items


def message_form(turns: Any) -> str | None:
    """openai | sharegpt from a conversation's first turn; None when it is not a list of turn objects."""
    if not isinstance(turns, list | tuple) or not turns or not isinstance(turns[0], dict):
        return None
    for form, (role, content) in MESSAGE_FORMS.items():
        if role in turns[0] and content in turns[0]:
            return form
    return None


def _conversation(record: dict[str, Any], columns: TraceColumns, row: int, values: TraceValues) -> None:
    """Question, system prompt and response of a messages row (the form is fixed by the file's first conversation)."""
    assert columns.messages is not None
    turns = record.get(columns.messages)
    if not isinstance(turns, list | tuple) or not turns:
        raise RowProblem(f"'{columns.messages}' is not a non-empty list of turns")
    if columns.message_form is None:
        columns.message_form = message_form(turns)
        columns.form_row = row
        if columns.message_form is None:
            raise RowProblem(
                f"'{columns.messages}' turns have neither role/content (OpenAI) nor from/value (ShareGPT) keys"
            )
    role_key, content_key = MESSAGE_FORMS[columns.message_form]
    roles: list[str] = []
    for number, turn in enumerate(turns, 1):
        if not isinstance(turn, dict) or role_key not in turn or content_key not in turn:
            keys = ", ".join(turn) if isinstance(turn, dict) else type(turn).__name__
            raise RowProblem(
                f"turn {number} of '{columns.messages}' has no {role_key}/{content_key} ({keys}); this file's turns "
                f"are {columns.message_form} form (decided at row {columns.form_row})"
            )
        role = ROLE_NAMES.get(str(turn[role_key]).lower())
        if role is None:
            raise RowProblem(f"turn {number} has an unknown {role_key} {turn[role_key]!r}")
        roles.append(role)
    users = [i for i, role in enumerate(roles) if role == "user"]
    if not users:
        raise RowProblem(f"'{columns.messages}' has no user turn")
    last_user = users[-1]
    reply = next((i for i in range(last_user + 1, len(turns)) if roles[i] == "assistant"), None)
    if reply is None:
        raise RowProblem(f"'{columns.messages}' has no assistant turn after the last user turn")
    if not columns.question:
        values.question = _text(turns[last_user][content_key], columns.messages, "the user turn")
    if values.system_prompt is None and roles[0] == "system":
        values.system_prompt = _text(turns[0][content_key], columns.messages, "the system turn")
    info = turns[last_user].get("info")
    if values.reference_answer is None and isinstance(info, dict):  # AM-DeepSeek-R1-Distilled keeps it there
        values.reference_answer = _scalar_text(info.get("reference_answer"))
    answer = turns[reply]
    text = _text(answer[content_key], columns.messages, "the assistant turn")
    separate = answer.get("reasoning_content")  # an OpenAI-style reasoning field, where a set kept it
    values.responses = [(text, separate if isinstance(separate, str) and separate else None)]
