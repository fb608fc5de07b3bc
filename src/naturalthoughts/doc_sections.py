"""The generated sections of ``docs/architecture.md``, read from the code itself so the doc cannot drift.

Between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` markers the doc holds:

- ``outcomes``: how a stage run can end, with its exit code (``naturalthoughts.stage.OUTCOMES``);
- ``stages``: every registered stage (``naturalthoughts.registry``) with its command, YAML section, config model,
  the files it reads and writes (the stage's own ``reads`` / ``writes`` declarations) and the config fields that
  do not count toward "up to date";
- ``tables``: every documented table's columns (``naturalthoughts.tables``);
- ``registries``: engines, annotators and their methods, selection methods and filters, benchmarks — the names a
  user types, taken from the registries;
- ``modules``: the module map, one line per module from the first line of its docstring.

``python -m naturalthoughts.doc_sections`` rewrites the sections in place; a test fails when they are stale.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
DOC = PACKAGE.parents[1] / "docs" / "architecture.md"


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n\n", 1)[0].replace("\n", " ").strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def stages_section() -> str:
    from naturalthoughts import registry

    lines = [
        "| stage | command | YAML section | config | reads | writes | not fingerprinted |",
        "|---|---|---|---|---|---|---|",
    ]
    for spec in registry.specs():
        cls = spec.stage_class()
        reads = ", ".join(f"`{p}`" for p in getattr(cls, "reads", ())) or "-"
        writes = ", ".join(f"`{p}`" for p in getattr(cls, "writes", ())) or "-"
        model = spec.config_model()
        volatile = _volatile_cell(model)
        config = f"`{model.__module__.removeprefix('naturalthoughts.')}.{model.__name__}`"
        command = f"`{cli_command(spec)}`" if spec.cli else "-"
        section = {"list": "`{s}:` (a list)", "optional": "`{s}:` (optional)"}.get(spec.presence, "`{s}:`")
        section = section.format(s=spec.section) if spec.section else "-"
        lines.append(f"| `{spec.name}` | {command} | {section} | {config} | {reads} | {writes} | {volatile} |")
    return "\n".join(lines)


def _volatile_cell(model: type) -> str:
    """The volatile fields of a config class; a nested config's as ``engine.*`` (its own volatile fields, e.g. an
    engine's throughput settings, listed with the engines)."""
    from naturalthoughts.config import volatile_fields

    paths = volatile_fields(model)  # type: ignore[arg-type]
    own = [f"`{path}`" for path in paths if "." not in path]
    nested = dict.fromkeys(f"`{path.rsplit('.', 1)[0]}.*`" for path in paths if "." in path)
    return ", ".join([*own, *nested]) or "-"


def cli_command(spec: object) -> str:
    """The command a registered stage's CLI module adds (its module name, with ``-`` for ``_``)."""
    return "nt " + str(getattr(spec, "cli", "")).replace("_", "-")


def outcomes_section() -> str:
    from naturalthoughts.stage import OUTCOMES

    lines = ["| outcome | exit code | what it means | then `nt run` |", "|---|---|---|---|"]
    for outcome in OUTCOMES.values():
        lines.append(f"| `{outcome.status}` | {outcome.exit_code} | {_cell(outcome.meaning)} | {_cell(outcome.then)} |")
    return "\n".join(lines)


def tables_section() -> str:
    from naturalthoughts.tables import markdown

    return markdown().strip()


def registries_section() -> str:
    from naturalthoughts import benchmarks, engines
    from naturalthoughts.annotate.registry import ANNOTATORS
    from naturalthoughts.config import volatile_fields
    from naturalthoughts.engines.config import engine_configs, engine_name
    from naturalthoughts.select import FILTERS, METHODS

    parts = ["**Engines** (`engine:` in any config; `--engine`), with their volatile (throughput) fields:", ""]
    classes = engines.engine_classes()
    for config in engine_configs():
        name = engine_name(config)
        volatile = ", ".join(f"`{field}`" for field in volatile_fields(config))
        parts.append(f"- `{name}`: {_cell(_first_line(classes[name].__doc__))} Volatile: {volatile or '-'}.")
    parts += ["", "**Annotators** (`annotate.annotators`, `--only`) and their methods (`annotate.<name>.method`):", ""]
    for name, methods in ANNOTATORS.items():
        listed = ", ".join(f"`{m}`" for m in methods)
        parts.append(f"- `{name}`: {listed}")
    parts += ["", "**Selection methods** (`nt select --method`):", ""]
    for name, method in METHODS.items():
        parts.append(f"- `{name}`: {_cell(method.summary)}")
    parts += ["", "**Filters** (`filter:TERM,...`):", ""]
    for name, filt in FILTERS.items():
        parts.append(f"- `{name}`: {_cell(filt.summary)}")
    parts += ["", "**Benchmarks** (`nt eval --bench`):", ""]
    for name, bench in benchmarks.REGISTRY.items():
        where = "bundled" if getattr(bench, "bundled", False) else "Hub id or local file"
        parts.append(f"- `{name}`: {_cell(getattr(bench, 'description', '') or name)} ({where})")
    return "\n".join(parts)


def _module_doc(path: Path, limit: int = 100) -> str:
    """The first sentence of a module's docstring, cut to ``limit`` characters."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError:
        return ""
    sentence = re.split(r"(?<=[.!?])\s", _first_line(ast.get_docstring(tree)), maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def modules_section() -> str:
    lines = ["```", "src/naturalthoughts/"]
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if "__pycache__" in relative.parts or relative == Path("__init__.py"):
            continue
        if path.name == "__init__.py":  # a package: its folder, with the package docstring
            depth, shown = len(relative.parts) - 2, relative.parts[-2] + "/"
        else:
            depth, shown = len(relative.parts) - 1, relative.name
        indent = "  " * (depth + 1)
        summary = _module_doc(path) or ("(package)" if path.name == "__init__.py" else "")
        lines.append(f"{indent}{shown:<{max(28 - len(indent), len(shown) + 1)}}{summary}".rstrip())
    lines.append("```")
    return "\n".join(lines)


SECTIONS = {
    "outcomes": outcomes_section,
    "stages": stages_section,
    "tables": tables_section,
    "registries": registries_section,
    "modules": modules_section,
}


def render(doc: str) -> str:
    """``doc`` with every generated section replaced by its current content."""
    for name, make in SECTIONS.items():
        # The section may be empty (begin and end markers on consecutive lines).
        pattern = re.compile(rf"(<!-- {name}:begin -->\n)(?:.*?\n)?(<!-- {name}:end -->)", re.S)
        if not pattern.search(doc):
            raise ValueError(f"docs/architecture.md has no <!-- {name}:begin --> ... <!-- {name}:end --> section")
        doc = pattern.sub(lambda m, text=make(): m.group(1) + text + "\n" + m.group(2), doc)
    return doc


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"rewrote the generated sections of {DOC}")
