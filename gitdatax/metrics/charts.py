"""Charts as inline SVG, drawn by matplotlib.

matplotlib rather than Vega-Lite: the report must open with no network, and an SVG needs no
script at all (Vega-Lite would embed about 1 MB of JavaScript in every report, and its Python
packages that ship the scripts weigh as much as matplotlib); the SVG is vector, prints and zooms
cleanly, and reads in any browser or image viewer. `matplotlib.figure.Figure` is used without
pyplot: no global state, no GUI backend, nothing opened on screen.
"""
from __future__ import annotations

import io
import math
from typing import Any, NamedTuple, Sequence

from gitdatax.errors import FatalError

# One colour per revision, the same in every chart and in the legend (matplotlib's tab10, which
# stays distinct for colour-blind readers better than the rainbow).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")


class Curve(NamedTuple):
    label: str
    colour: str
    xs: Sequence[float | None]
    ys: Sequence[float | None]
    dash: str = "-"  # matplotlib's linestyle: one per file and column where a chart draws several


# Where one chart draws several files or columns, each has its own dash; the colour stays the
# revision's, as in every other chart.
DASHES = ("-", "--", ":", "-.")


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise FatalError("plots need matplotlib: pip install 'gitdatax[plots]' "
                         "(or run ./install.sh again)") from None
    fig = Figure(figsize=(width, height), dpi=96, layout="constrained")
    return fig


def _svg(fig: Any, salt: str) -> str:
    import matplotlib

    buf = io.StringIO()
    # fonttype none: text stays text (smaller, selectable, found by a search); the salt makes the
    # ids of one chart's clip paths its own when several charts share the page.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def line_chart(title: str, x_label: str, y_label: str, curves: Sequence[Curve], salt: str) -> str:
    """The curves of every revision over one another."""
    fig = _figure(6.4, 3.6)
    ax = fig.add_subplot()
    for curve in curves:
        points = [(x, y) for x, y in zip(curve.xs, curve.ys)
                  if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
        if not points:
            continue
        xs, ys = zip(*points)
        ax.plot(xs, ys, color=curve.colour, label=curve.label, linewidth=1.8, linestyle=curve.dash,
                marker="o" if len(points) <= 20 else None, markersize=3)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if curves:
        ax.legend(fontsize=8, frameon=False)
    return _svg(fig, salt)


def bar_chart(title: str, bars: Sequence[tuple[str, str, float]], salt: str) -> str:
    """One bar per revision for one final metric, its value written on the bar."""
    fig = _figure(3.2, 2.4)
    ax = fig.add_subplot()
    labels = [b[0] for b in bars]
    values = [b[2] for b in bars]
    drawn = ax.bar(range(len(bars)), values, color=[b[1] for b in bars])
    ax.bar_label(drawn, labels=[f"{v:.4g}" for v in values], fontsize=7)
    ax.set_xticks(range(len(bars)), labels, rotation=30 if len(bars) > 3 else 0, ha="right" if len(bars) > 3
                  else "center", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(y=0.15)
    return _svg(fig, salt)


def confusion_chart(title: str, labels: Sequence[str], counts: Sequence[Sequence[int]], salt: str, *,
                    normalized: bool = False, x_label: str = "actual", y_label: str = "predicted") -> str:
    """A confusion matrix as a heatmap, each cell's count (or share of its row) written in it."""
    fig = _figure(3.4, 3.0)
    ax = fig.add_subplot()
    shown = [[(c / max(sum(row), 1)) if normalized else c for c in row] for row in counts]
    # Rows are actual labels, columns predicted: drawn with actual across, as DVC's template does.
    grid = [[shown[a][p] for a in range(len(labels))] for p in range(len(labels))]
    ax.imshow(grid, cmap="Blues", origin="lower")
    top = max((v for row in grid for v in row), default=0) or 1
    for p, row in enumerate(grid):
        for a, value in enumerate(row):
            ax.text(a, p, f"{value:.2f}" if normalized else str(value), ha="center", va="center", fontsize=8,
                    color="white" if value > top / 2 else "#222")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title, fontsize=10)
    return _svg(fig, salt)
