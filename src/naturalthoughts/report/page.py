"""The page: sections in order, the trace browser's markup and data, the inlined style and script."""

from __future__ import annotations

import importlib.resources

from naturalthoughts.errors import Fix
from naturalthoughts.report.browser import BrowserData
from naturalthoughts.report.html import Raw, Section, esc, script_json

BROWSER_ID = "traces"
BROWSER_TITLE = "Trace browser"
FILTERS = (("f-domain", "domain"), ("f-strategy", "strategy"), ("f-selection", "selection"),
           ("f-correct", "correct"), ("f-disagree", "models disagree"), ("f-complete", "complete"),
           ("f-sort", "order by"))  # fmt: skip


def asset(name: str) -> str:
    return (importlib.resources.files("naturalthoughts.report") / "assets" / name).read_text(encoding="utf-8")


def browser_section(data: BrowserData | None, fix: Fix) -> Section:
    if data is None or not data.index.get("n"):
        return Section.not_run(BROWSER_ID, BROWSER_TITLE, "no traces yet.", fix)
    filters = "".join(f'<label>{esc(label)}<select id="{fid}"></select></label>' for fid, label in FILTERS)
    where = ("every text is inlined in this page" if data.inline else
             f"texts load on demand from {esc(data.index['data_dir'])}/ next to this file "
             f"({data.side_files:,} files, {data.side_bytes / 1e6:,.1f} MB)")  # fmt: skip
    unreadable = data.index.get("unreadable_selections") or []
    if unreadable:
        where += f"; selections that could not be read are left out: {esc(', '.join(unreadable))}"
    body = f"""
<p class="note">Filter the pool, then click a trace to read it with its annotations ({where}).</p>
<p id="tb-warning" hidden></p>
<div class="filters">{filters}<button id="tb-reset" type="button">reset</button></div>
<div class="pager"><span id="tb-count"></span><button id="tb-prev" type="button">‹ prev</button>
<span id="tb-page"></span><button id="tb-next" type="button">next ›</button></div>
<div class="browser">
<div class="table-wrap"><table class="traces"><thead><tr><th class="num">#</th><th>question</th><th>domain</th>
<th>strategies</th><th class="num" title="reasoning tokens">tokens</th><th>correct</th><th>disagree</th>
<th>complete</th></tr></thead>
<tbody id="tb-rows"></tbody></table><p id="tb-empty" class="note" hidden>No trace matches these filters.</p></div>
<div id="tb-detail"><p class="note">Click a trace to read it.</p></div>
</div>"""
    return Section(BROWSER_ID, BROWSER_TITLE, body)


def render(title: str, subtitle: str, sections: list[Section], data: BrowserData | None) -> str:
    nav = "".join(
        f'<a href="#{esc(s.id)}"{" class=" + chr(34) + "not-run" + chr(34) if s.status != "ok" else ""}>'
        f"{esc(s.title)}</a>"
        for s in sections
    )
    scripts = []
    if data is not None and data.index.get("n"):
        scripts.append(f'<script type="application/json" id="nt-index">{script_json(data.index)}</script>')
        for key, payload in data.inline_chunks.items():  # payloads are script-safe JSON already
            scripts.append(f'<script type="application/json" id="nt-chunk-{esc(key)}">{payload}</script>')
        scripts.append(f"<script>{asset('report.js')}</script>")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing may leave the machine: no fetch, no remote image, font or script; only files next to the page.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'self' "
        "'unsafe-inline' file:; style-src 'unsafe-inline'; img-src data:; connect-src 'none'\">",
        f"<title>{esc(title)}</title>",
        f"<style>{asset('report.css')}</style>",
        "</head><body>",
        f'<header class="top"><h1>{esc(title)}</h1><nav>{nav}</nav></header>',
        f'<main><p class="note">{esc(subtitle)}</p>',
        *(s.html() for s in sections),
        "</main>",
        *scripts,
        "</body></html>",
        "",
    ])  # fmt: skip


__all__ = ["Raw", "browser_section", "render"]
