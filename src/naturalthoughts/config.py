"""Configuration: pydantic models loaded from YAML, with command-line overrides.

Each stage keeps its config model beside its code (``naturalthoughts/<stage>/config.py``);
:func:`naturalthoughts.pipeline.pipeline_model` composes them for ``nt run``. Unknown keys are errors that name the key.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from naturalthoughts.errors import ConfigError, Fix


class StrictModel(BaseModel):
    """Base for every config: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


M = TypeVar("M", bound=BaseModel)

# ---- volatile fields ---------------------------------------------------------------------------------------------
# A field that cannot change what a stage writes (progress display, throughput, budgets, timeouts) is declared so
# where it is defined: ``Field(..., json_schema_extra=VOLATILE)``. It is recorded in the manifest but left out of
# the fingerprint that decides whether a stage is up to date, at any depth: ``annotate.annotator_engine.concurrency``
# is volatile because the engine config's ``concurrency`` field is.
VOLATILE: dict[str, Any] = {"volatile": True}


def is_volatile(info: Any) -> bool:
    extra = getattr(info, "json_schema_extra", None)
    return isinstance(extra, dict) and bool(extra.get("volatile"))


def volatile_paths(config: BaseModel) -> frozenset[str]:
    """Dotted paths of the volatile fields of ``config`` and of the config models inside it (their actual class)."""
    paths: set[str] = set()
    for name, info in type(config).model_fields.items():
        value = getattr(config, name, None)
        if is_volatile(info):
            paths.add(name)
        elif isinstance(value, BaseModel):
            paths.update(f"{name}.{inner}" for inner in volatile_paths(value))
    return frozenset(paths)


def volatile_fields(model: type[BaseModel]) -> list[str]:
    """The volatile fields a config class can have, for the docs: ``name``, or ``engine.concurrency`` for a field
    inside a nested config (of any model a union allows)."""
    from typing import get_args

    paths: set[str] = set()
    for name, info in model.model_fields.items():
        if is_volatile(info):
            paths.add(name)
            continue
        pending, members = [info.annotation], []
        while pending:  # unwrap Annotated / unions / Optional down to the config classes they allow
            kind = pending.pop()
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                members.append(kind)
            else:
                pending.extend(get_args(kind))
        for member in members:  # a base class standing for registered variants (engine configs) lists theirs
            variants = getattr(member, "config_variants", None)
            for variant in variants() if variants is not None else (member,):
                paths.update(f"{name}.{inner}" for inner in volatile_fields(variant))
    return sorted(paths)


def without_paths(data: dict[str, Any], paths: frozenset[str]) -> dict[str, Any]:
    """``data`` (a nested mapping) without the dotted ``paths``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in paths:
            continue
        inner = frozenset(p[len(key) + 1 :] for p in paths if p.startswith(f"{key}."))
        out[key] = without_paths(value, inner) if inner and isinstance(value, dict) else value
    return out


def format_validation_error(exc: ValidationError, source: str, data: Any = None) -> str:
    """One line per problem, naming the dotted key and, for values read from YAML, its line and column."""
    lines = [f"{source}: invalid configuration"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        place = _place(data, err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"  - unknown key '{where}'{place}")
        else:
            got = _USERINFO.sub("://***@", repr(err.get("input")))  # a password in a URL is not shown back
            lines.append(f"  - {where}{place}: {err['msg']} (got {got})")
    return "\n".join(lines)


_USERINFO = re.compile(r"://[^/@\s'\"]+@")


def validate(model: type[M], data: dict[str, Any], source: str = "configuration") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, data)) from None


# ---- YAML -------------------------------------------------------------------------------------------------------

# A config has hundreds of values; anchors and aliases may reuse parts of it, but what they expand to is capped, so
# an alias bomb ("a billion laughs") is refused before anything walks it.
MAX_EXPANDED_NODES = 100_000
FROM_OPTION = "option"  # the mark of a value set by a command-line option (it has no line)


class YamlMapping(dict):  # type: ignore[type-arg]
    """A mapping read from YAML that remembers where each key was written: ``marks[key] = (line, column)``
    (1-based), or :data:`FROM_OPTION` for a value a command-line option replaced."""

    marks: dict[Any, tuple[int, int] | str]
    start: tuple[int, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.marks = {}
        self.start = (1, 1)

    def __copy__(self) -> YamlMapping:
        copied = YamlMapping(self)
        copied.marks, copied.start = dict(self.marks), self.start
        return copied


class YamlList(list):  # type: ignore[type-arg]
    """A sequence read from YAML with the (line, column) of each item."""

    marks: list[tuple[int, int]]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.marks = []


def kind_of(value: Any) -> str:
    """What a YAML value is, in a user's words: ``list``, ``mapping``, ``int``..."""
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def _position(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


class _Loader(yaml.SafeLoader):
    """The safe loader, plus: duplicate keys are errors, and every mapping and list remembers its positions."""

    def construct_yaml_map(self, node: yaml.MappingNode) -> Any:
        data = YamlMapping()
        data.start = _position(node.start_mark)
        yield data
        self.flatten_mapping(node)  # merge keys (<<) first: an explicit key may override a merged one
        explicit = {id(pair[0]) for pair in getattr(node, "_explicit", node.value)}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, f"a mapping key must be a plain value, not {kind_of(key)}", key_node.start_mark
                ) from None
            if key in data.marks and id(key_node) in explicit and data.marks[key] != "merged":
                line, column = data.marks[key]
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key}' (first at line {line}, column {column}); each key once",
                    key_node.start_mark,
                )
            data[key] = self.construct_object(value_node, deep=True)
            data.marks[key] = _position(key_node.start_mark) if id(key_node) in explicit else "merged"
        for key, mark in data.marks.items():  # a merged key points at the line that merged it
            if mark == "merged":
                data.marks[key] = data.start

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        if not hasattr(node, "_explicit"):
            node._explicit = [pair for pair in node.value if pair[0].tag != "tag:yaml.org,2002:merge"]  # type: ignore[attr-defined]
        super().flatten_mapping(node)

    def construct_yaml_seq(self, node: yaml.SequenceNode) -> Any:
        data = YamlList()
        yield data
        data.extend(self.construct_sequence(node, deep=True))
        data.marks = [_position(item.start_mark) for item in node.value]


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_yaml_seq)


def _expanded_size(root: yaml.Node) -> int:
    """How many values ``root`` stands for once every alias is expanded (each node counted once per use)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in open_nodes:
            raise yaml.composer.ComposerError(
                None, None, "an alias refers to the anchor it is inside (a loop)", node.start_mark
            )
        open_nodes.add(id(node))
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(size(key) + size(value) for key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        open_nodes.discard(id(node))
        sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
        return sizes[id(node)]

    return size(root)


def parse_yaml(text: str) -> Any:
    """``text`` as YAML with the checks of :func:`load_yaml` (raises ``yaml.YAMLError`` with a position)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_EXPANDED_NODES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"anchors and aliases expand to more than {MAX_EXPANDED_NODES:,} values; write the values out",
                node.start_mark,
            )
        return loader.construct_document(node)
    except RecursionError:  # PyYAML reads nested lists and mappings recursively: a hostile file nests thousands
        raise yaml.composer.ComposerError(
            None, None, "lists or mappings nested too deeply", loader.get_mark()
        ) from None
    finally:
        loader.dispose()


def load_yaml(path: str | os.PathLike[str], allow_empty: bool = False) -> dict[str, Any]:
    """A YAML config file as a mapping that remembers each key's line and column (see :class:`YamlMapping`).

    Safe tags only; a key written twice in one mapping is an error (YAML would silently keep the last); anchors and
    aliases are allowed up to :data:`MAX_EXPANDED_NODES` expanded values. Every error names the line and column.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a YAML file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from an editor is not a YAML error
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{line}: {problem}") from None
    if data is None:
        if allow_empty:
            return {}
        raise ConfigError(
            f"{path}: the file is empty. Start from the bundled default: {{fix}}, saved as {path.name}.",
            fix=Fix("run", show_config=True),
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values (got {kind_of(data)})")
    return data


def _place(data: Any, loc: tuple[Any, ...]) -> str:
    """`` (line L, column C)`` of the deepest key of ``loc`` found in ``data`` as read from YAML ("" when the value
    came from no file). Parts of ``loc`` that are not keys (a union's tag) are skipped; a missing key points at
    the mapping it is missing from."""
    node, mark = data, getattr(data, "start", None)
    found = True
    for part in loc:
        if mark == FROM_OPTION:
            break
        if isinstance(node, YamlMapping) and part in node:
            mark, node, found = node.marks.get(part, mark), node[part], True
        elif isinstance(node, YamlList) and isinstance(part, int) and 0 <= part < len(node):
            mark, node, found = node.marks[part] if part < len(node.marks) else mark, node[part], True
        else:
            found = False  # a union's tag, or a key that is missing
    if not found and isinstance(node, YamlMapping) and mark != FROM_OPTION:
        mark = node.start  # a missing key: where the mapping it belongs in starts
    if mark == FROM_OPTION:
        return " (from a command-line option)"
    return f" (line {mark[0]}, column {mark[1]})" if isinstance(mark, tuple) else ""


def pipeline_keys() -> frozenset[str]:
    """The top-level keys of a pipeline (or study) YAML: run-wide keys and every registered stage's section. A stage
    command given a whole pipeline file reads its own section."""
    from naturalthoughts.registry import pipeline_specs

    sections = {spec.section for spec in pipeline_specs() if spec.section is not None}
    return frozenset({"run_dir", "sources", "students", "evaluate_base", "study", *sections})


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Set dotted keys (``{"engine.model": "x"}``) in ``data``; ``None`` and ``[]`` mean "not given"."""
    for dotted, value in (overrides or {}).items():
        if value is None or (isinstance(value, list) and not value):
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
                _from_option(node, key)
            node = child
        node[leaf] = value
        _from_option(node, leaf)
    return data


def _from_option(node: dict[str, Any], key: str) -> None:
    if isinstance(node, YamlMapping):
        node.marks[key] = FROM_OPTION


def copy_mapping(data: Any) -> dict[str, Any]:
    """A shallow copy of a config mapping that keeps the YAML positions of its keys (``dict(data)`` drops them)."""
    return copy.copy(data) if isinstance(data, YamlMapping) else dict(data or {})


def set_option(data: dict[str, Any], key: str, value: Any) -> None:
    """``data[key] = value`` for a value a command-line option gave (errors about it then name the option)."""
    data[key] = value
    _from_option(data, key)


def section_of(
    data: dict[str, Any], section: str | None, path: str | os.PathLike[str] | None = None, lists: bool = False
) -> Any:
    """``data[section]`` of a pipeline file, or the whole file when it is the section itself: a mapping (or, with
    ``lists``, a list of them, as ``select:`` may be); anything else is a ConfigError naming its line."""
    if section is None:
        return data
    if section not in data:
        return {} if set(data) <= pipeline_keys() else data  # a pipeline file without this section: the defaults
    value = data[section]
    if value is None:
        return {}
    if not isinstance(value, dict) and not (lists and isinstance(value, list)):
        wanted = "a mapping of keys to values" + (" or a list of them" if lists else "")
        raise ConfigError(
            f"{path or 'configuration'}: section '{section}'{_place(data, (section,))}: expected {wanted} "
            f"(got {kind_of(value)})"
        )
    return value


def load_section(
    model: type[M],
    path: str | os.PathLike[str] | None,
    section: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> M:
    """The one config loader every command uses: YAML (a pipeline file's ``section``, or a file holding just the
    section), then command-line overrides (dotted keys), validated by ``model`` with errors naming the key."""
    data: Any = section_of(load_yaml(path), section, path) if path else {}
    if not isinstance(data, dict):
        where = f"section '{section}' of {path}" if section else str(path)
        raise ConfigError(f"{where}: expected a mapping of keys to values (got {kind_of(data)})")
    data = apply_overrides(copy_mapping(data), overrides)
    source = (f"{path} (section {section})" if section and path else str(path)) if path else "options"
    return validate(model, data, source=source)


def load_config(model: type[M], path: str | os.PathLike[str] | None, overrides: dict[str, Any] | None = None) -> M:
    """Load ``model`` from the whole YAML file at ``path`` (optional), then apply non-None dotted ``overrides``."""
    return load_section(model, path, None, overrides)
