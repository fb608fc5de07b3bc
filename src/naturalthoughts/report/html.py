"""HTML building blocks for the report. Everything that comes from data goes through :func:`esc` or
:func:`script_json`; only :class:`Raw` fragments (built here from escaped parts, or SVG from matplotlib) are
pasted as they are."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from naturalthoughts.errors import Fix


@dataclass(frozen=True)
class Raw:
    """An HTML fragment that is already safe (built from escaped parts)."""

    html: str

    def __str__(self) -> str:
        return self.html


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# JSON inside <script>: a data string could hold "</script>" or "<!--"; "\u2028"/"\u2029" end lines in old parsers.
_SCRIPT_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def script_json(obj: Any) -> str:
    """``obj`` as JSON that is safe inside a ``<script>`` element (or a ``.js`` file), NaN as null."""
    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or infinity somewhere: JSON has no such number
        text = json.dumps(_finite(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in _SCRIPT_ESCAPES:  # str.replace runs at memory speed; translate() would not
        text = text.replace(char, escaped)
    return text


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def number(value: Any, digits: int = 3) -> str:
    """A table cell for a number: thousands separators, NaN/None as a dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}g}"
    return str(value)


def percent(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.{digits}f}%"


def cell(value: Any) -> str:
    if isinstance(value, Raw):
        return value.html
    if isinstance(value, (int, float)) or value is None:
        return esc(number(value))
    return esc(value)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric_from: int = 1, cls: str = "",
          caption: str | None = None) -> Raw:  # fmt: skip
    """A table; columns from ``numeric_from`` on are right-aligned (numbers)."""
    head = "".join(f"<th{_num(i, numeric_from)}>{esc(h)}</th>" for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f"<td{_num(i, numeric_from)}>{cell(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return Raw(f'<div class="table-wrap"><table class="{esc(cls)}">{cap}<thead><tr>{head}</tr></thead>'
               f"<tbody>{body}</tbody></table></div>")  # fmt: skip


def _num(i: int, numeric_from: int) -> str:
    return ' class="num"' if i >= numeric_from else ""


def code(text: Any) -> Raw:
    return Raw(f"<code>{esc(text)}</code>")


def details(summary: str, body: str | Raw, open_: bool = False) -> Raw:
    return Raw(f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>{body}</details>")


def pre(text: str) -> Raw:
    return Raw(f"<pre>{esc(text)}</pre>")


def figures(*svgs: str) -> Raw:
    """Plots side by side (they wrap on narrow screens)."""
    return Raw('<div class="figures">' + "".join(f"<figure>{s}</figure>" for s in svgs if s) + "</div>")


def para(text: str) -> Raw:
    return Raw(f"<p>{esc(text)}</p>")


def stat_cards(items: Sequence[tuple[str, Any]]) -> Raw:
    cards = "".join(f'<div class="card"><div class="v">{cell(v)}</div><div class="k">{esc(k)}</div></div>'
                    for k, v in items)  # fmt: skip
    return Raw(f'<div class="cards">{cards}</div>')


Status = Literal["ok", "not run", "error"]


@dataclass
class Section:
    """One section of the report: its anchor, its title and its (safe) HTML body."""

    id: str
    title: str
    body: str
    status: Status = "ok"

    @classmethod
    def not_run(cls, id: str, title: str, what: str, fix: Fix) -> Section:
        return cls(id, title, f'<p class="not-run">not run: {esc(what)} Run {code(fix.command_line())} to fill this '
                              "section.</p>", "not run")  # fmt: skip

    @classmethod
    def failed(cls, id: str, title: str, error: BaseException) -> Section:
        message = f"{type(error).__name__}: {error}" if not getattr(error, "exit_code", None) else str(error)
        return cls(id, title, f'<p class="error">this section could not be built: {esc(message)}</p>', "error")

    def html(self) -> str:
        badge = "" if self.status == "ok" else f' <span class="badge {self.status.replace(" ", "-")}">' \
                                               f"{esc(self.status)}</span>"  # fmt: skip
        return f'<section id="{esc(self.id)}"><h2>{esc(self.title)}{badge}</h2>{self.body}</section>'


def join(*parts: str | Raw | None) -> str:
    return "".join(str(p) for p in parts if p)
