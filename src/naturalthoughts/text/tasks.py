"""Procedural tasks with their own scorers (reasoning-gym): which items a spec names, and the scorer of each item.

One spec names a set of generated questions, in ``nt ingest`` sources and in ``nt eval --bench`` alike::

    reasoning-gym:TASK[{key=value,...}][,TASK...]:N[:SEED]
    reasoning-gym:gcd{max_value=100},syllogism:80:7

N questions per task, generated with ``SEED`` (default 0) and the task's parameters (reasoning-gym's config fields:
``max_value``, ``max_terms``, ...; values read as YAML scalars). The same spec always gives the same questions.

Every generated question is recorded with a **source label** naming its task exactly
(``reasoning-gym:gcd{max_value=100}:80:7``) and its 1-based row, so the item (with its metadata) can be generated
again anywhere: :func:`scorer_for` returns the task's own ``score_answer`` for it. The one answer checker grades with
that scorer (:func:`naturalthoughts.text.grading.check`, ``scorer=``): annotation's correctness uses it for
reasoning-gym questions (``correct_method = reasoning-gym:TASK``), evaluation for the ``reasoning_gym`` benchmark.

:data:`ANSWER_FORMAT` is the answer instruction reasoning-gym's scorers are used with (its default system prompt):
the final answer between ``<answer>`` tags.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from naturalthoughts.errors import ConfigError

PREFIX = "reasoning-gym:"
ANSWER_FORMAT = (
    "Once you have thought about the reasoning process, provide the answer in the following format: "
    "<answer>answer here</answer>. Do not explain your reasoning inside the answer tags, provide only the final answer."
)
SPEC_HELP = (
    "reasoning-gym:TASK[{key=value,...}][,TASK...]:N[:SEED], e.g. reasoning-gym:gcd{max_value=100},syllogism:80:7"
)
Scorer = Callable[[str | None], float]


@dataclass(frozen=True)
class Task:
    """One task with its parameters (reasoning-gym config fields)."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def text(self) -> str:
        """``gcd{max_value=100}``: the task as a spec writes it (parameters sorted)."""
        if not self.params:
            return self.name
        return f"{self.name}{{{','.join(f'{k}={_scalar(v)}' for k, v in self.params)}}}"


@dataclass(frozen=True)
class TaskSet:
    """Tasks, N questions each, one seed."""

    tasks: tuple[Task, ...]
    size: int
    seed: int = 0

    @property
    def text(self) -> str:
        return f"{PREFIX}{','.join(t.text for t in self.tasks)}:{self.size}:{self.seed}"

    def label(self, task: Task) -> str:
        """The source label of one task's questions: the spec that generates exactly them."""
        return f"{PREFIX}{task.text}:{self.size}:{self.seed}"


def _scalar(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ";".join(_scalar(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _value(text: str) -> Any:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return tuple(_value(part) for part in text[1:-1].split(";") if part.strip())
    return yaml.safe_load(text) if text else ""


_TASK = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\{([^{}]*)\})?\s*(?:,|$)")


def parse_tasks(text: str, spec: str) -> tuple[Task, ...]:
    tasks, position = [], 0
    while position < len(text):
        match = _TASK.match(text, position)
        if not match or match.end() == position:
            raise ConfigError(f"'{spec}': cannot read the tasks at '{text[position:]}'; expected {SPEC_HELP}")
        params = []
        for pair in filter(str.strip, (match.group(2) or "").split(",")):
            key, equals, value = pair.partition("=")
            if not equals or not key.strip():
                raise ConfigError(f"'{spec}': task parameter '{pair.strip()}' is not key=value")
            params.append((key.strip(), _value(value)))
        tasks.append(Task(match.group(1), tuple(sorted(params))))
        position = match.end()
    return tuple(tasks)


def parse_task_set(spec: str) -> TaskSet:
    """A :class:`TaskSet` from ``[reasoning-gym:]TASK[{k=v,...}][,TASK...]:N[:SEED]``; checks tasks and parameters."""
    body = spec.strip().removeprefix(PREFIX)
    match = re.fullmatch(r"(?P<tasks>[^:]+):(?P<size>\d+)(?::(?P<seed>-?\d+))?", body)
    if not match:
        raise ConfigError(f"'{spec}': expected {SPEC_HELP}")
    task_set = TaskSet(parse_tasks(match.group("tasks"), spec), int(match.group("size")), int(match.group("seed") or 0))
    if not task_set.tasks:
        raise ConfigError(f"'{spec}': give at least one task; expected {SPEC_HELP}")
    for task in task_set.tasks:
        check_task(task)
    return task_set


def check_task(task: Task) -> None:
    """Unknown task or parameter: one line naming the close matches or the task's parameters."""
    from reasoning_gym.factory import DATASETS

    if task.name not in DATASETS:
        close = difflib.get_close_matches(task.name, DATASETS, n=5) or sorted(DATASETS)[:8]
        raise ConfigError(
            f"reasoning-gym has no task '{task.name}'; did you mean one of: {', '.join(close)}? ({len(DATASETS)} "
            "tasks; list them with `python -c 'import reasoning_gym.factory as f; print(sorted(f.DATASETS))'`)"
        )
    fields = {f.name for f in dataclasses.fields(DATASETS[task.name][1])} - {"seed", "size"}
    unknown = [key for key, _ in task.params if key not in fields]
    if unknown:
        raise ConfigError(
            f"reasoning-gym task '{task.name}' has no parameter {', '.join(repr(k) for k in unknown)}; "
            f"its parameters: {', '.join(sorted(fields))}"
        )


@functools.lru_cache(maxsize=64)
def dataset(task: Task, size: int, seed: int) -> Any:
    """reasoning-gym's dataset for one task (cached: items and scorers are read from it)."""
    import reasoning_gym

    try:
        return reasoning_gym.create_dataset(task.name, size=size, seed=seed, **dict(task.params))
    except (TypeError, ValueError, AssertionError) as exc:
        raise ConfigError(f"reasoning-gym task {task.text}: {exc}") from None


def entries(task_set: TaskSet) -> Iterator[tuple[Task, int, dict[str, Any]]]:
    """(task, 1-based row, entry) for every question the set names, task by task."""
    for task in task_set.tasks:
        generated = dataset(task, task_set.size, task_set.seed)
        for row in range(1, task_set.size + 1):
            yield task, row, generated[row - 1]


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
    return task.name, str(entry["answer"]), lambda answer: float(generated.score_answer(answer, entry))
