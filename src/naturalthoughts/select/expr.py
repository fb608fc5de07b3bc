"""The selection expression: filters and method stages in one string.

Grammar (whitespace between tokens is ignored)::

    expression := stage ( ">" stage )*
    stage      := "filter:" filter ( "," filter )*   |   call
    filter     := [ "!" ] call
    call       := NAME [ "(" [ arg ( "," arg )* ] ")" ]
    arg        := [ KEY "=" ] VALUE
    NAME, KEY  := a letter, then letters, digits, "_" or "-"
    VALUE      := a number, a bare word, or a 'quoted' / "quoted" string

Examples: ``random``, ``filter:complete,correct>disagree>strategy``,
``strategy(min=4,max=8,density_quantile=0.25)``, ``length(mode=longest)``, ``filter:!disagree,max_tokens(8192)>topic``.

This module only parses; :mod:`naturalthoughts.select.plan` checks names and parameters against the registries.
Every error points a caret at the offending token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from naturalthoughts.errors import ConfigError


class ExpressionError(ConfigError):
    """The selection expression does not parse or names something unknown."""


def expression_error(text: str, pos: int, message: str) -> ExpressionError:
    caret = " " * (2 + pos) + "^"
    return ExpressionError(f"bad selection expression: {message}\n  {text}\n{caret}")


@dataclass(frozen=True)
class Call:
    """One ``name(args)`` occurrence, with where it starts in the expression (for error carets)."""

    name: str
    pos: int
    args: tuple[tuple[str | None, str, int], ...] = ()  # (key or None for positional, value, position)
    negated: bool = False

    def text(self) -> str:
        """Canonical text: ``name`` or ``name(k=v,...)``, with ``!`` in front when negated."""
        inner = ",".join(f"{k}={_quote(v)}" if k else _quote(v) for k, v, _ in self.args)
        return ("!" if self.negated else "") + self.name + (f"({inner})" if self.args else "")


def _quote(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9_.+\-]+", value) else repr(value)


@dataclass(frozen=True)
class Expression:
    text: str
    filters: tuple[Call, ...] = field(default_factory=tuple)
    methods: tuple[Call, ...] = field(default_factory=tuple)

    def canonical(self) -> str:
        parts = []
        if self.filters:
            parts.append("filter:" + ",".join(f.text() for f in self.filters))
        parts.extend(m.text() for m in self.methods)
        return ">".join(parts)


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<filter>filter:)
      | (?P<name>[A-Za-z][A-Za-z0-9_\-]*)
      | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<string>'[^']*'|"[^"]*")
      | (?P<punct>[>(),=!])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str  # filter | name | number | string | punct | end
    value: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            bad = pos + len(text[pos:]) - len(text[pos:].lstrip())
            raise expression_error(text, bad, f"unexpected character {text[bad]!r}")
        kind = match.lastgroup or "punct"
        start = match.start(kind)
        tokens.append(_Tok(kind, match.group(kind), start))
        pos = match.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def fail(self, message: str, tok: _Tok | None = None) -> ExpressionError:
        tok = tok or self.tok
        found = "the end of the expression" if tok.kind == "end" else repr(tok.value)
        return expression_error(self.text, tok.pos, f"{message}, found {found}")

    def take(self, kind: str, value: str | None = None) -> _Tok | None:
        tok = self.tok
        if tok.kind == kind and (value is None or tok.value == value):
            self.i += 1
            return tok
        return None

    def expression(self) -> Expression:
        if self.tok.kind == "end":
            raise expression_error(self.text, 0, "the expression is empty; try `random`")
        filters: list[Call] = []
        methods: list[Call] = []
        while True:
            if self.take("filter"):
                if methods:
                    tok = self.tokens[self.i - 1]
                    raise expression_error(
                        self.text, tok.pos, "filters narrow the whole pool, so `filter:` must come before any method"
                    )
                filters.append(self.filter_term())
                while self.take("punct", ","):
                    filters.append(self.filter_term())
            else:
                methods.append(self.call("a method name or `filter:`"))
            if self.take("punct", ">"):
                continue
            if self.tok.kind != "end":
                raise self.fail("expected `>` between stages or the end")
            return Expression(self.text, tuple(filters), tuple(methods))

    def filter_term(self) -> Call:
        negated = self.take("punct", "!") is not None
        call = self.call("a filter name")
        return Call(call.name, call.pos, call.args, negated)

    def call(self, what: str) -> Call:
        name = self.take("name")
        if name is None:
            raise self.fail(f"expected {what}")
        args: list[tuple[str | None, str, int]] = []
        if self.take("punct", "(") and not self.take("punct", ")"):
            while True:
                args.append(self.arg())
                if self.take("punct", ")"):
                    break
                if not self.take("punct", ","):
                    raise self.fail("expected `,` or `)` in the argument list")
        keys = [k for k, _, _ in args if k]
        for key, _, pos in args:
            if key and keys.count(key) > 1:
                raise expression_error(self.text, pos, f"parameter {key!r} is given twice")
        return Call(name.value.lower(), name.pos, tuple(args))

    def arg(self) -> tuple[str | None, str, int]:
        start = self.tok
        value = self.value()
        if start.kind == "name" and self.take("punct", "="):
            return start.value.lower(), self.value(), start.pos
        return None, value, start.pos

    def value(self) -> str:
        tok = self.tok
        if tok.kind in ("name", "number"):
            self.i += 1
            return tok.value
        if tok.kind == "string":
            self.i += 1
            return tok.value[1:-1]
        raise self.fail("expected a value (a number, a word or a quoted string)")


def parse(text: str) -> Expression:
    """Parse ``text`` into filters and method calls; raises :class:`ExpressionError` with a caret."""
    return _Parser(text).expression()
