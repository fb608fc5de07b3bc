"""Every command and option the toolkit suggests exists.

Three sources of suggestions, read from the source code (not from running it):

- every ``Fix(...)`` a module builds (what an error or a report says to run): its command is an ``nt`` command and
  its options are that command's options;
- every ``nt COMMAND ... --option`` written anywhere in the package (help texts, docstrings, messages) and in the
  documentation (README, docs/, the example configs);
- modules outside ``naturalthoughts/cli/`` spell no ``nt`` command and no ``--option`` in their messages: they
  name the stage and its options with a ``Fix`` (the command line interface renders it), so the two stay one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from typer.main import get_command

from naturalthoughts.cli import build_app

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "naturalthoughts"
GLOBAL_OPTIONS = {"--debug", "--help", "-h"}
MENTION = re.compile(r"(?<![\w./-])nt ([a-z][a-z-]*)((?: [a-z][a-z-]*)?)((?:(?!\bnt )[^`'\"\n;)])*)")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# `--option` words in messages of non-CLI modules that belong to other programs, not to nt.
OTHER_PROGRAMS = ("pip install", "llama-server", "--outfile", "--outtype", "accelerate launch", "torchrun", "hf upload")


def _commands() -> dict[str, set[str]]:
    """``{"select": {"--run", ...}, "eval compare": {...}}``: every command and subcommand with its options."""
    root = get_command(build_app())
    out: dict[str, set[str]] = {}

    def options(command: object) -> set[str]:
        return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | GLOBAL_OPTIONS  # type: ignore[attr-defined]

    for name, command in root.commands.items():  # type: ignore[attr-defined]
        out[name] = options(command)
        for sub, subcommand in getattr(command, "commands", {}).items():
            out[f"{name} {sub}"] = options(subcommand)
    return out


COMMANDS = _commands()


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _strings(tree: ast.AST) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(docstrings, other string constants) of a module, with their line numbers; f-strings' literal parts."""
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    docs, others = [], []
    parts_of_fstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # an f-string is one text: its literal parts, "{}" for each value
            parts_of_fstrings.update(id(part) for part in node.values)
            text = "".join(p.value if isinstance(p, ast.Constant) else "{}" for p in node.values)
            others.append((node.lineno, text))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts_of_fstrings:
            (docs if id(node) in docstrings else others).append((node.lineno, node.value))
    return docs, others


def _resolve(first: str, second: str) -> str | None:
    if second and f"{first} {second.strip()}" in COMMANDS:
        return f"{first} {second.strip()}"
    return first if first in COMMANDS else None


def _mentions(text: str) -> list[tuple[str, str | None, list[str]]]:
    """``(as written, the command it names or None, its --options)`` for each `nt ...` in ``text``."""
    found = []
    for match in MENTION.finditer(text.replace("\\\n", " ")):
        first, second, tail = match.groups()
        command = _resolve(first, second)
        options = OPTION.findall((second if command == first else "") + tail)
        found.append((match.group(0).strip(), command, options))
    return found


def test_the_cli_is_what_the_scan_sees() -> None:
    assert {"ingest", "generate", "select", "run", "study", "eval compare"} <= set(COMMANDS)
    assert "--allow-smaller" in COMMANDS["select"] and "--no-lora" in COMMANDS["export"]


def test_every_fix_names_a_command_and_options_that_exist() -> None:
    problems, fixes = [], 0
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Fix" and node.args):
                continue
            command = node.args[0]
            if not isinstance(command, ast.Constant) or not isinstance(command.value, str):
                continue  # built from a variable (the registry's fix of a stage): checked below
            fixes += 1
            where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
            if command.value and command.value not in COMMANDS:
                problems.append(f"{where}: no command `nt {command.value}`")
                continue
            known = set().union(*COMMANDS.values()) if not command.value else COMMANDS[command.value]
            for keyword in node.keywords:
                if keyword.arg is not None and f"--{keyword.arg.replace('_', '-')}" not in known:
                    problems.append(f"{where}: `nt {command.value}` has no option --{keyword.arg.replace('_', '-')}")
    assert fixes >= 20, "the scan found too few Fix(...) calls to be looking at the right code"
    assert not problems, "\n".join(problems)


def test_every_registered_stage_is_run_by_a_command_that_exists() -> None:
    from naturalthoughts import registry

    for spec in registry.specs():
        fix = spec.fix()
        assert fix.command in COMMANDS, f"stage {spec.name}: `{fix.command_line()}` is not a command"


def test_every_nt_command_written_in_the_package_exists() -> None:
    problems, seen = [], 0
    for path in _modules():
        source = path.read_text(encoding="utf-8")
        docs, others = _strings(ast.parse(source))
        comments = [(i + 1, line) for i, line in enumerate(source.splitlines()) if "#" in line]
        for line, text in docs + others + comments:
            for written, command, options in _mentions(text):
                looks_like_a_command = bool(options) or f"`{written}" in text or f"``{written}" in text
                if command is None:
                    if looks_like_a_command:
                        problems.append(f"{path.relative_to(PACKAGE)}:{line}: `{written}`: no such command")
                    continue
                seen += 1
                for option in options:
                    if option not in COMMANDS[command]:
                        problems.append(f"{path.relative_to(PACKAGE)}:{line}: `nt {command}` has no option {option}")
    assert seen >= 50, "the scan found too few `nt` commands to be looking at the right text"
    assert not problems, "\n".join(problems)


def test_every_nt_command_in_the_documentation_exists() -> None:
    root = PACKAGE.parents[1]
    documents = [root / "README.md", root / "benchmarks" / "README.md", *sorted((root / "docs").glob("*.md")),
                 *sorted((root / "configs").rglob("*.yaml"))]  # fmt: skip
    problems, seen = [], 0
    for path in documents:
        for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for written, command, options in _mentions(line):
                where = f"{path.relative_to(root)}:{line_number}"
                if command is None:
                    if options or f"`{written}" in line:
                        problems.append(f"{where}: `{written}`: no such command")
                    continue
                seen += 1
                unknown = [option for option in options if option not in COMMANDS[command]]
                problems += [f"{where}: `nt {command}` has no option {option}" for option in unknown]
    assert seen >= 50, "the scan found too few `nt` commands in the documentation"
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("kind", ["nt command", "--option"])
def test_modules_outside_the_cli_name_stages_not_command_lines(kind: str) -> None:
    problems = []
    for path in _modules():
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "cli" or relative.name == "doc_sections.py":
            continue  # the CLI spells commands; the docs generator writes the docs' command names
        _, others = _strings(ast.parse(path.read_text(encoding="utf-8")))
        for line, text in others:
            if kind == "nt command":
                bad = [w for w, command, options in _mentions(text) if command is not None or options]
            else:
                bad = [] if any(p in text for p in OTHER_PROGRAMS) else OPTION.findall(text)
            if bad:
                problems.append(f"{relative}:{line}: {', '.join(bad)}")
    assert not problems, "\n".join(problems)
