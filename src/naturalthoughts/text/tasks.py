"""Procedural tasks with their own scorers (reasoning-gym): which items a spec names, and the scorer of each item.

One spec names a set of generated questions, in ``nt ingest`` sources and in ``nt eval --bench`` alike::

    reasoning-gym:TASK[{key=value,...}][,TASK...]:N[:SEED]
    reasoning-gym:gcd{max_value=100},syllogism:80:7
    reasoning-gym:basic_arithmetic{max_terms=2,max_digits=1,operators=[+;-]}:100

or, in a pipeline YAML's ``sources:``, the same as a mapping (:func:`from_mapping`)::

    reasoning-gym: {tasks: {gcd: {max_value: 100}, syllogism: {}}, size: 80, seed: 7}

N questions per task, generated with ``SEED`` (default 0) and the task's parameters: reasoning-gym's own
``create_dataset(TASK, size=N, seed=SEED, **params)``, so the same spec always gives the same questions. A parameter
is a field of the task's reasoning-gym config (``max_value``, ``max_terms``, ...), read as that field's type (whole
number, number, ``true``/``false``, text, a list ``[a;b]`` or ``[a,b]``); ``size`` and ``seed`` are the spec's N and
SEED. An unknown task or parameter, a value of the wrong type, or values the task's config refuses are a
:class:`ConfigError` (exit 2) naming it and the task's parameters with their defaults, before anything is generated.

Every generated question is recorded with a **source label** naming its task exactly
(``reasoning-gym:gcd{max_value=100}:80:7``) and its 1-based row, so the item (with its metadata) can be generated
again anywhere: :func:`scorer_for` returns the task's own ``score_answer`` for it (:func:`score_answer`: a scorer
that raises on text it cannot read, as some do on prose, scores 0). The one answer checker grades with that scorer
(:func:`naturalthoughts.text.grading.check`, ``scorer=``): annotation's correctness uses it for reasoning-gym
questions (``correct_method = reasoning-gym:TASK``), evaluation for the ``reasoning_gym`` benchmark.

:data:`ANSWER_FORMAT` is the answer instruction reasoning-gym's scorers are used with (its default system prompt):
the final answer between ``<answer>`` tags.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from naturalthoughts.errors import ConfigError

PREFIX = "reasoning-gym:"
ANSWER_FORMAT = (
    "Once you have thought about the reasoning process, provide the answer in the following format: "
    "<answer>answer here</answer>. Do not explain your reasoning inside the answer tags, provide only the final answer."
)
SPEC_HELP = (
    "reasoning-gym:TASK[{key=value,...}][,TASK...]:N[:SEED], e.g. reasoning-gym:gcd{max_value=100},syllogism:80:7"
)
RESERVED = {"size": "N", "seed": "SEED"}  # set by the spec itself, never as a task parameter
Scorer = Callable[[str | None], float]


def _datasets() -> dict[str, tuple[type, type]]:
    from reasoning_gym.factory import DATASETS

    return DATASETS  # type: ignore[no-any-return]


def task_names() -> list[str]:
    """Every task reasoning-gym registers, sorted."""
    return sorted(_datasets())


# ---- a task's parameters: its config's fields and their types ----------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One settable field of a task's config: its name, the kind of value it takes, and its default."""

    name: str
    kind: str  # int | float | bool | str | list[int] | list[float] | list[str] | "" (not settable from a spec)
    default: Any
    choices: tuple[str, ...] = ()  # a Literal field's allowed values

    def describe(self) -> str:
        plain = self.default is None or isinstance(self.default, int | float | str | list | tuple)
        return f"{self.name}={_scalar(self.default) if plain else type(self.default).__name__}"


_KINDS: dict[Any, str] = {int: "int", float: "float", bool: "bool", str: "str"}


def _kind_of(annotation: Any, default: Any) -> tuple[str, tuple[str, ...]]:
    """The spec kind of a config field, from its annotation (and its default where the annotation is bare)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):  # Optional[X]
        rest = [a for a in args if a is not type(None)]
        return _kind_of(rest[0], default) if len(rest) == 1 else ("", ())
    if origin is typing.Literal:
        return ("str", tuple(str(a) for a in args)) if all(isinstance(a, str) for a in args) else ("", ())
    if annotation in _KINDS:
        return _KINDS[annotation], ()
    sequence = annotation in (list, tuple) or origin in (list, tuple) or getattr(origin, "__name__", "") == "Sequence"
    if not sequence:
        return "", ()
    element = args[0] if args else None
    if element is None and isinstance(default, list | tuple) and default and len({type(v) for v in default}) == 1:
        element = type(default[0])
    element_kind = _KINDS.get(element, "")
    return (f"list[{element_kind}]" if element_kind in ("int", "float", "str") else ""), ()


@functools.cache
def params_of(task: str) -> dict[str, Param]:
    """The settable parameters of ``task``: every field of its config but ``size`` and ``seed``."""
    _, config_cls = _datasets()[task]
    hints = typing.get_type_hints(config_cls)
    out = {}
    for f in dataclasses.fields(config_cls):
        if f.name in RESERVED:
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        kind, choices = _kind_of(hints.get(f.name, f.type), default)
        out[f.name] = Param(f.name, kind, default, choices)
    return out


def describe_params(task: str) -> str:
    """``min_value=1, max_value=1000, ...``: the task's parameters with their defaults, for messages."""
    return ", ".join(p.describe() for p in params_of(task).values()) or "(none)"


_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def _one(kind: str, value: Any) -> Any:
    """One value of ``kind`` (spec text or a YAML value); ValueError says what was expected."""
    if kind == "bool":
        text = str(value).strip().lower() if isinstance(value, str | int) else None
        if isinstance(value, bool) or text in _TRUE | _FALSE:
            return value if isinstance(value, bool) else text in _TRUE
        raise ValueError("expected true or false")
    if kind in ("int", "float"):
        expected = "a whole number" if kind == "int" else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected {expected}")
        if kind == "int" and isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value)  # exact, however large
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"expected {expected}") from None
        if kind == "int" and not number.is_integer():
            raise ValueError(f"expected {expected}")
        return int(number) if kind == "int" else number
    if isinstance(value, list | tuple | dict):
        raise ValueError("expected text")
    return value.strip() if isinstance(value, str) else _scalar(value)


def coerce(task: str, param: Param, value: Any) -> Any:
    """``value`` as the type ``param`` takes; a list becomes a tuple (tasks are hashable)."""
    where = f"reasoning-gym task '{task}' parameter '{param.name}'"
    if not param.kind:
        raise ConfigError(f"{where} (a {type(param.default).__name__}) cannot be set from a source spec; leave it at "
                          "its default")  # fmt: skip
    try:
        if param.kind.startswith("list["):
            if isinstance(value, str):
                text = value.strip()
                inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
                values: list[Any] = [v.strip() for v in inner.replace(";", ",").split(",") if v.strip()]
            else:
                values = list(value) if isinstance(value, list | tuple) else [value]
            return tuple(_one(param.kind[5:-1], v) for v in values)
        coerced = _one(param.kind, value)
    except (TypeError, ValueError) as exc:
        article = "an" if param.kind == "int" else "a"
        shown = _scalar(value) if isinstance(value, int | float | str | list | tuple) else repr(value)
        raise ConfigError(f"{where}: {shown} is not {article} {param.kind} ({exc}); its default is "
                          f"{_scalar(param.default)}") from None  # fmt: skip
    if param.choices and coerced not in param.choices:
        raise ConfigError(f"{where}: '{coerced}' is not one of {', '.join(param.choices)}")
    return coerced


# ---- tasks and task sets -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """One task with its parameters (reasoning-gym config fields, sorted; list values as tuples)."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def text(self) -> str:
        """``gcd{max_value=100}``: the task as a spec writes it (parameters sorted)."""
        if not self.params:
            return self.name
        return f"{self.name}{{{','.join(f'{k}={_scalar(v)}' for k, v in self.params)}}}"

    def config_kwargs(self) -> dict[str, Any]:
        """The parameters as the task's config takes them (a list field gets a list)."""
        fields = params_of(self.name)
        return {k: list(v) if isinstance(v, tuple) and isinstance(fields[k].default, list) else v
                for k, v in self.params}  # fmt: skip

    def refused(self, exc: BaseException) -> ConfigError:
        return ConfigError(f"{PREFIX}{self.text}: reasoning-gym refuses these parameters ({exc or 'invalid'}); the "
                           f"task's parameters and defaults: {describe_params(self.name)}")  # fmt: skip


@dataclass(frozen=True)
class TaskSet:
    """Tasks, N questions each, one seed."""

    tasks: tuple[Task, ...]
    size: int
    seed: int = 0

    @property
    def text(self) -> str:
        """The canonical spec (parameters sorted), which :func:`parse_task_set` reads back to an equal set."""
        return f"{PREFIX}{','.join(t.text for t in self.tasks)}:{self.size}:{self.seed}"

    def label(self, task: Task) -> str:
        """The source label of one task's questions: the spec that generates exactly them."""
        return f"{PREFIX}{task.text}:{self.size}:{self.seed}"


def _scalar(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ";".join(_scalar(v) for v in value) + "]"
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _split(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside ``{...}`` and ``[...]``."""
    parts, depth, start = [], 0, 0
    for position, char in enumerate(text):
        depth += {"{": 1, "[": 1, "}": -1, "]": -1}.get(char, 0)
        if char == sep and depth == 0:
            parts.append(text[start:position])
            start = position + 1
    return [*parts, text[start:]]


def make_task(name: str, params: Mapping[str, Any] | None = None) -> Task:
    """A checked task: a registered name, every parameter one of its config's fields and of its type, and values the
    task's config accepts."""
    name = name.strip()
    check_task(Task(name))
    fields = params_of(name)
    coerced = {}
    for key, value in (params or {}).items():
        key = str(key).strip()
        if key in RESERVED:
            raise ConfigError(f"{PREFIX}{name}: '{key}' is not a task parameter; the spec's {RESERVED[key]} sets it "
                              f"({SPEC_HELP})")  # fmt: skip
        check_task(Task(name, ((key, value),)))
        coerced[key] = coerce(name, fields[key], value)
    task = Task(name, tuple(sorted(coerced.items())))
    _, config_cls = _datasets()[name]
    try:
        config = config_cls(**task.config_kwargs())
        if callable(getattr(config, "validate", None)):
            config.validate()
    except (AssertionError, ValueError, TypeError) as exc:
        raise task.refused(exc) from None
    return task


def _task(text: str, spec: str) -> Task:
    name, brace, rest = text.strip().partition("{")
    if not brace:
        return make_task(name)
    if not rest.endswith("}"):
        raise ConfigError(f"'{spec}': task '{name.strip()}': its parameters must end with '}}'; expected {SPEC_HELP}")
    params: dict[str, str] = {}
    for pair in filter(str.strip, _split(rest[:-1], ",")):
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise ConfigError(f"'{spec}': task parameter '{pair.strip()}' is not key=value")
        if key.strip() in params:
            raise ConfigError(f"'{spec}': task '{name.strip()}' sets '{key.strip()}' twice")
        params[key.strip()] = value.strip()
    return make_task(name, params)


def parse_tasks(text: str, spec: str) -> tuple[Task, ...]:
    return tuple(_task(part, spec) for part in _split(text, ",") if part.strip())


def _task_set(tasks: tuple[Task, ...], size: int, seed: int, where: str) -> TaskSet:
    if not tasks:
        raise ConfigError(f"'{where}': give at least one task; expected {SPEC_HELP}")
    texts = [t.text for t in tasks]
    if len(set(texts)) != len(texts):
        raise ConfigError(f"'{where}': task {next(t for t in texts if texts.count(t) > 1)} is named twice")
    return TaskSet(tasks, size, seed)


def parse_task_set(spec: str) -> TaskSet:
    """A :class:`TaskSet` from ``[reasoning-gym:]TASK[{k=v,...}][,TASK...]:N[:SEED]``; checks tasks and parameters."""
    body = spec.strip().removeprefix(PREFIX)
    if body.count("{") != body.count("}") or body.count("[") != body.count("]"):
        raise ConfigError(f"'{spec}': unbalanced braces or brackets; expected {SPEC_HELP}")
    parts = _split(body, ":")
    size, seed = (parts[1].strip(), parts[2].strip() if len(parts) == 3 else "0") if len(parts) in (2, 3) else ("", "")
    if not size.isdigit() or not seed.lstrip("-").isdigit():
        raise ConfigError(f"'{spec}': expected {SPEC_HELP}")
    return _task_set(parse_tasks(parts[0], spec), int(size), int(seed), spec)


def from_mapping(value: Mapping[str, Any]) -> TaskSet:
    """The YAML form: ``{"reasoning-gym": {"tasks": {NAME: {PARAM: VALUE}} | [NAME, {name: NAME, PARAM: VALUE}],
    "size": N, "seed": S}}`` (or the inner mapping alone)."""
    inner = value.get("reasoning-gym", value)
    where = "sources: reasoning-gym"
    if not isinstance(inner, Mapping):
        raise ConfigError(f"{where}: expected a mapping with tasks, size and seed (or the string {SPEC_HELP})")
    if unknown := set(inner) - {"tasks", "size", "seed"}:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; keys: tasks, size, seed")
    size, seed, raw = inner.get("size"), inner.get("seed", 0), inner.get("tasks")
    for key, number in (("size", size), ("seed", seed)):
        if not isinstance(number, int) or isinstance(number, bool) or (key == "size" and number < 0):
            raise ConfigError(f"{where}: {key} must be a whole number (got {number!r})")
    if isinstance(raw, str):
        raw = [raw]
    elif isinstance(raw, Mapping):
        raw = list(raw.items())
    elif not isinstance(raw, list):
        raise ConfigError(f"{where}: tasks must name at least one task (NAME: {{PARAM: VALUE}} entries, or a list)")
    tasks: list[Task] = []
    for entry in raw:
        if isinstance(entry, str):
            tasks.append(make_task(entry))
        elif isinstance(entry, tuple) and (entry[1] is None or isinstance(entry[1], Mapping)):
            tasks.append(make_task(str(entry[0]), entry[1] or {}))
        elif isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            tasks.append(make_task(entry["name"], {k: v for k, v in entry.items() if k != "name"}))
        else:
            raise ConfigError(f"{where}: a task is a name, NAME: {{PARAM: VALUE}}, or {{name: NAME, PARAM: VALUE}}")
    return _task_set(tuple(tasks), size, seed, where)  # type: ignore[arg-type]


def spec_text(value: str | Mapping[str, Any]) -> str:
    """A source as a string: a reasoning-gym mapping becomes its canonical spec; a string passes through."""
    return from_mapping(value).text if isinstance(value, Mapping) else value


def check_task(task: Task) -> None:
    """Unknown task or parameter: one line naming the close matches, or the task's parameters and defaults."""
    known = _datasets()
    if task.name not in known:
        close = difflib.get_close_matches(task.name, known, n=5) or sorted(known)[:8]
        raise ConfigError(
            f"reasoning-gym has no task '{task.name}'; did you mean one of: {', '.join(close)}? ({len(known)} tasks; "
            "list them with `python -c 'from naturalthoughts.text import tasks; print(tasks.task_names())'`)"
        )
    fields = params_of(task.name)
    unknown = [key for key, _ in task.params if key not in fields and key not in RESERVED]
    if unknown:
        close = difflib.get_close_matches(unknown[0], fields, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"reasoning-gym task '{task.name}' has no parameter {', '.join(repr(k) for k in unknown)}"
                          f"{hint}; its parameters: {describe_params(task.name)}")  # fmt: skip


# ---- items and their scorers -------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def dataset(task: Task, size: int, seed: int) -> Any:
    """reasoning-gym's dataset for one task (cached: items and scorers are read from it)."""
    import reasoning_gym

    try:
        return reasoning_gym.create_dataset(task.name, size=size, seed=seed, **task.config_kwargs())
    except (TypeError, ValueError, AssertionError) as exc:
        raise task.refused(exc) from None


def entries(task_set: TaskSet) -> Iterator[tuple[Task, int, dict[str, Any]]]:
    """(task, 1-based row, entry) for every question the set names, task by task."""
    for task in task_set.tasks:
        generated = dataset(task, task_set.size, task_set.seed)
        for row in range(1, task_set.size + 1):
            try:
                entry = generated[row - 1]
            except (AssertionError, ValueError, IndexError, ZeroDivisionError, RuntimeError) as exc:
                raise ConfigError(f"{task_set.label(task)}: reasoning-gym failed to generate row {row} with these "
                                  f"parameters ({type(exc).__name__}: {exc}); try other values (defaults: "
                                  f"{describe_params(task.name)})") from None  # fmt: skip
            yield task, row, entry


def score_answer(generated: Any, entry: dict[str, Any], answer: str | None) -> float:
    """The task's own score in [0, 1]; an answer its scorer cannot even read (some raise on prose) scores 0."""
    try:
        return float(generated.score_answer(answer, entry) or 0.0)
    except Exception:  # a scorer that fails on malformed text has given no credit
        return 0.0


@functools.lru_cache(maxsize=4096)
def _label(source: str) -> tuple[Task, int, int] | None:
    if not source.startswith(PREFIX):
        return None
    try:
        task_set = parse_task_set(source)
    except ConfigError:
        return None  # an older label without size and seed ("reasoning-gym:gcd"): no scorer
    return (task_set.tasks[0], task_set.size, task_set.seed) if len(task_set.tasks) == 1 else None


def entry_for(source: str | None, row: int | None) -> tuple[Task, dict[str, Any], Any] | None:
    """(task, entry, dataset) of a question from its source label and row; None when the source has no scorer."""
    if not source or row is None:
        return None
    found = _label(source)
    if found is None:
        return None
    task, size, seed = found
    if not 1 <= row <= size:
        return None
    generated = dataset(task, size, seed)
    return task, generated[row - 1], generated


def scorer_for(source: str | None, row: int | None) -> tuple[str, str, Scorer] | None:
    """``(task name, reference answer, scorer)`` of a generated question; the scorer is the task's own
    ``score_answer`` on that item (a partial score in [0, 1]). None for questions of any other source."""
    found = entry_for(source, row)
    if found is None:
        return None
    task, entry, generated = found
    return task.name, str(entry["answer"]), functools.partial(score_answer, generated, entry)


def is_spec(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def labels(sources: Iterable[str]) -> list[str]:
    """The source labels the reasoning-gym specs among ``sources`` give their rows (one per task)."""
    out = []
    for source in sources:
        if is_spec(source):
            task_set = parse_task_set(source)
            out += [task_set.label(task) for task in task_set.tasks]
    return out
