"""Plots as inline SVG (matplotlib's SVG backend, text kept as text), ready to paste into the report.

Every function returns an ``<svg>`` string whose element ids are prefixed with the plot's own name, so many
plots can live in one HTML document without id clashes, and whose output is the same bytes for the same data
(no dates, fixed hash salt). Labels that come from data are escaped by matplotlib's SVG writer.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")  # fmt: skip
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
WIDTH_IN = 6.4
_ID = re.compile(r'\bid="([^"]+)"')


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def figure(height: float = 3.2, width: float = WIDTH_IN) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure  # lazy: matplotlib takes a second to import

    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    style(ax)
    return fig, ax


def style(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)
    ax.title.set_fontsize(10)
    ax.xaxis.label.set_fontsize(9)
    ax.yaxis.label.set_fontsize(9)


def to_svg(fig: Figure, name: str) -> str:
    """The figure as an inline ``<svg>`` element with ids prefixed by ``name`` (a slug)."""
    import matplotlib

    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", name)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix, "font.family": "DejaVu Sans"}):
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML declaration and DOCTYPE: inline SVG in HTML needs neither
    for old in sorted(set(_ID.findall(text)), key=len, reverse=True):
        new = f"{prefix}-{old}"
        text = text.replace(f'id="{old}"', f'id="{new}"').replace(f"#{old})", f"#{new})")
        text = text.replace(f'href="#{old}"', f'href="#{new}"')
    # Scale with the page: drop the fixed size in points, keep the viewBox.
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 class="plot" role="img"', text, count=1)
    return text.strip()


def hbar(labels: Sequence[str], values: Sequence[float], title: str, xlabel: str, name: str,
         fmt: str = "{:,.0f}") -> str:  # fmt: skip
    """Horizontal bars, largest on top, each labelled with its value."""
    order = np.argsort(np.asarray(values, dtype=float), kind="stable")
    fig, ax = figure(height=max(1.6, 0.28 * len(labels) + 0.9))
    ys = np.arange(len(labels))
    vals = [values[i] for i in order]
    ax.barh(ys, vals, color=PALETTE[0])
    ax.set_yticks(ys, [labels[i] for i in order])
    for y, v in zip(ys, vals, strict=True):
        ax.text(v, y, " " + fmt.format(v), va="center", fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.margins(x=0.15)
    return to_svg(fig, name)


def histogram(values: np.ndarray, title: str, xlabel: str, name: str, log: bool = True) -> str:
    """A histogram of positive values on log-spaced bins (reasoning lengths span orders of magnitude)."""
    values = values[np.isfinite(values)]
    fig, ax = figure()
    if len(values):
        if log and values.min() > 0 and values.max() > values.min():
            bins = np.geomspace(values.min(), values.max(), 40)
            ax.set_xscale("log")
        else:
            bins = 40
        ax.hist(values, bins=bins, color=PALETTE[0])
        median = float(np.median(values))
        ax.axvline(median, color=PALETTE[3], lw=1)
        ax.text(median, ax.get_ylim()[1] * 0.95, f" median {median:,.0f}", color=PALETTE[3], fontsize=7, va="top")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("traces")
    ax.set_title(title)
    return to_svg(fig, name)


def stacked_hbar(categories: Sequence[str], parts: dict[str, Sequence[float]], title: str, xlabel: str,
                 name: str, colors: Sequence[str] | None = None, percent: bool = False) -> str:  # fmt: skip
    """One horizontal bar per category, split into ``parts`` (e.g. true / false / unknown)."""
    fig, ax = figure(height=max(1.6, 0.32 * len(categories) + 1.1))
    ys = np.arange(len(categories))
    left = np.zeros(len(categories))
    for i, (label, values) in enumerate(parts.items()):
        values = np.asarray(values, dtype=float)
        ax.barh(ys, values, left=left, label=label, color=(colors or PALETTE)[i % len(colors or PALETTE)])
        for y, (x0, v) in enumerate(zip(left, values, strict=True)):
            if v > 0 and (not percent or v >= 0.06):
                ax.text(x0 + v / 2, y, f"{v:.0%}" if percent else f"{v:,.0f}", ha="center", va="center",
                        fontsize=7, color="white")  # fmt: skip
        left = left + values
    ax.set_yticks(ys, list(categories))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.legend(fontsize=7, loc="outside lower center", frameon=False, ncol=len(parts))
    return to_svg(fig, name)


def heatmap(rows: Sequence[str], columns: Sequence[str], matrix: np.ndarray, title: str, name: str,
            fmt: str = "{:.0%}") -> str:  # fmt: skip
    """A matrix of shares (rows x columns) with each cell written in it; NaN cells stay blank."""
    height = max(2.0, 0.3 * len(rows) + 1.6)
    width = min(12.0, max(WIDTH_IN, 2.4 + 0.75 * len(columns)))
    fig, ax = figure(height=height, width=width)
    masked = np.ma.masked_invalid(matrix.astype(float))
    ax.imshow(masked, aspect="auto", cmap="Blues", vmin=0, vmax=max(float(np.nanmax(matrix)) if matrix.size and
              np.isfinite(matrix).any() else 1.0, 1e-9))  # fmt: skip
    ax.set_xticks(np.arange(len(columns)), list(columns), rotation=30, ha="right")
    ax.set_yticks(np.arange(len(rows)), list(rows))
    top = float(np.nanmax(matrix)) if matrix.size and np.isfinite(matrix).any() else 1.0
    for (r, c), value in np.ndenumerate(matrix):
        if np.isfinite(value):
            ax.text(c, r, fmt.format(value), ha="center", va="center", fontsize=7,
                    color="white" if value > 0.6 * top else "black")  # fmt: skip
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(title)
    return to_svg(fig, name)


def quantile_ranges(columns: Sequence[str], q: dict[str, Sequence[float]], title: str, xlabel: str,
                    name: str) -> str:  # fmt: skip
    """Per column: p10-p90 as a thin line, p25-p75 as a thick bar, the median as a dot (``q`` keyed p10..p90)."""
    fig, ax = figure(height=max(1.8, 0.35 * len(columns) + 1.0))
    ys = np.arange(len(columns))
    for y in ys:
        color_ = PALETTE[0] if y else PALETTE[1]  # the pool (first column) in its own colour
        ax.plot([q["p10"][y], q["p90"][y]], [y, y], color=color_, lw=1)
        ax.plot([q["p25"][y], q["p75"][y]], [y, y], color=color_, lw=6, solid_capstyle="butt")
        ax.plot([q["p50"][y]], [y], "o", color="white", markeredgecolor=color_, ms=5)
    ax.set_yticks(ys, list(columns))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return to_svg(fig, name)


def grouped_bars(groups: Sequence[str], series: dict[str, Sequence[float]], title: str, ylabel: str, name: str,
                 fmt: str = "{:.2f}") -> str:  # fmt: skip
    """Bars of several series side by side for each group (NaN bars are left out)."""
    width_in = min(12.0, max(WIDTH_IN, 1.2 + 0.5 * len(groups) * max(1, len(series))))
    fig, ax = figure(height=3.2, width=width_in)
    n = max(1, len(series))
    step = 0.8 / n
    xs = np.arange(len(groups))
    for i, (label, values) in enumerate(series.items()):
        values = np.asarray(values, dtype=float)
        pos = xs - 0.4 + step * (i + 0.5)
        ok = np.isfinite(values)
        ax.bar(pos[ok], values[ok], width=step * 0.95, label=label, color=color(i))
        for x, v in zip(pos[ok], values[ok], strict=True):
            ax.text(x, v, fmt.format(v), ha="center", va="bottom", fontsize=6)
    slanted = sum(len(g) for g in groups) > 40  # long labels would overlap
    ax.set_xticks(xs, list(groups), rotation=20 if slanted else 0, ha="right" if slanted else "center")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1:  # below the plot: above, it would cover the tallest bars
        fig.legend(fontsize=7, frameon=False, ncol=min(4, len(series)), loc="outside lower center")
    return to_svg(fig, name)


def lines(series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str, xlabel: str, ylabel: str,
          name: str) -> str:  # fmt: skip
    """One line per series (x, y): training loss curves."""
    fig, ax = figure()
    from matplotlib.ticker import MaxNLocator

    for i, (label, (xs, ys)) in enumerate(series.items()):
        ax.plot(xs, ys, label=label, color=color(i), lw=1.4, marker="." if len(xs) < 30 else None)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if series:
        ax.legend(fontsize=7, frameon=False)
    return to_svg(fig, name)


def accuracy_vs_tokens(points: Sequence[dict], title: str, name: str) -> str:
    """Accuracy (± standard error) against mean response tokens: colour = model, marker = mode.

    Each point is ``{"model", "mode", "tokens", "accuracy", "stderr"}`` (accuracy in 0..1).
    """
    models = list(dict.fromkeys(p["model"] for p in points))
    modes = list(dict.fromkeys(p["mode"] for p in points))
    fig, ax = figure(height=3.4)
    for p in points:
        ax.errorbar(
            p["tokens"],
            100 * p["accuracy"],
            yerr=100 * (p["stderr"] or 0.0),
            mfc="none",
            mew=1.5,
            fmt=MARKERS[modes.index(p["mode"]) % len(MARKERS)],
            color=color(models.index(p["model"])),
            ms=6,
            capsize=3,
            lw=1,
        )
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=color(i), marker="o", ls="", label=m) for i, m in enumerate(models)]
    handles += [Line2D([], [], color="#555", marker=MARKERS[i % len(MARKERS)], ls="", label=m)
                for i, m in enumerate(modes)]  # fmt: skip
    ax.legend(handles=handles, fontsize=7, frameon=False, loc="best")
    ax.set_xlabel("mean response tokens")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.margins(x=0.15, y=0.15)
    return to_svg(fig, name)
