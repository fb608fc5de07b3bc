"""The generated sections of ``docs/architecture.md``, read from the code itself so the doc cannot drift.

Between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` markers the doc holds:

- ``stages``: every registered stage with its command, config model, the files it reads and writes (the stage's own
  ``reads`` / ``writes`` declarations) and the config fields that do not count toward "up to date";
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
    from naturalthoughts.pipeline import stage_classes

    lines = [
        "| stage | command | config | reads | writes | not fingerprinted |",
        "|---|---|---|---|---|---|",
    ]
    for name, cls in stage_classes().items():
        reads = ", ".join(f"`{p}`" for p in getattr(cls, "reads", ())) or "-"
        writes = ", ".join(f"`{p}`" for p in getattr(cls, "writes", ())) or "-"
        volatile = ", ".join(f"`{v}`" for v in sorted(cls.volatile)) or "-"
        config = f"`{cls.config_model.__module__.removeprefix('naturalthoughts.')}.{cls.config_model.__name__}`"
        lines.append(f"| `{name}` | `nt {name}` | {config} | {reads} | {writes} | {volatile} |")
    return "\n".join(lines)


def tables_section() -> str:
    from naturalthoughts.tables import markdown

    return markdown().strip()


def registries_section() -> str:
    from naturalthoughts import benchmarks, engines
    from naturalthoughts.annotate.registry import ANNOTATORS
    from naturalthoughts.select import FILTERS, METHODS

    parts = ["**Engines** (`engine:` in any config; `--engine`):", ""]
    names = getattr(engines, "ENGINE_NAMES", None) or tuple(engines.ENGINES)
    for name in names:
        parts.append(f"- `{name}`: {_cell(_first_line(engines.ENGINES[name].__doc__))}")
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
