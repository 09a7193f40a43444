"""`plots show` / `plots diff`: one self-contained HTML file (no script, no link, nothing fetched)
with every revision's step curves over one another, its final metrics side by side, its images
next to each other and the params that differ, so a person sees which iteration was best and why.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import NamedTuple, Sequence

from gitdatax.metrics import charts, compare
from gitdatax.metrics.collect import PipelineCache, Snapshot, collect
from gitdatax.metrics.plotdata import CONFUSION_TEMPLATES, Plots, Spec, axes, confusion, gather
from gitdatax.metrics.reader import RevisionReader
from gitdatax.metrics.revisions import Revision
from gitdatax.metrics.values import is_number, show

MAX_BAR_CHARTS = 24  # past this, final metrics are in the table only: a wall of bars helps no one
NOT_CHARTED = {"step"}  # DVCLive's step counter: in the table, but no one compares it as a result

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px auto;
       max-width: 1400px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px;
     border-bottom: 1px solid #ddd; padding-bottom: 4px; } h3 { font-size: 14px; margin: 12px 0 4px; }
.legend span { display: inline-block; margin-right: 16px; } .swatch { display: inline-block;
     width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; } .chart { border: 1px solid #eee;
     border-radius: 6px; padding: 6px; background: #fff; } .chart svg { display: block; height: auto; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #f6f6f6; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.changed { background: #fff6d5; } .problems { color: #a00; } figure { margin: 0; text-align: center; }
figure img { max-width: 420px; max-height: 420px; border: 1px solid #eee; } figcaption { font-size: 12px; }
.muted { color: #777; font-size: 12px; }
"""


class Report(NamedTuple):
    html: str
    charts: int  # how many charts were drawn (the command says so)
    notes: list[str]


def build(top: Path, revisions: Sequence[Revision], targets: Sequence[str] = ()) -> Report:
    with RevisionReader(top) as reader:
        pipelines = PipelineCache(reader)
        plots = gather(reader, revisions, pipelines, targets)
        metrics = collect(reader, revisions, "metrics", (), pipelines)
        params = collect(reader, revisions, "params", (), pipelines)
    return render(revisions, plots, metrics, params)


def render(revisions: Sequence[Revision], plots: Plots, metrics: Sequence[Snapshot],
           params: Sequence[Snapshot]) -> Report:
    colours = {r.key: charts.colour(i) for i, r in enumerate(revisions)}
    notes = _plot_problems(revisions, plots) + compare.problems(metrics) + compare.problems(params)
    parts = [f"<h1>Comparing {html.escape(', '.join(r.name for r in revisions))}</h1>", _legend(revisions, colours)]
    curves, n_curves = _curves(revisions, plots, colours)
    matrices, n_matrices = _confusions(revisions, plots)
    finals, n_bars = _final_metrics(revisions, metrics, colours)
    parts += [curves, matrices, _images(revisions, plots), finals, _params(revisions, params)]
    if notes:
        parts.append("<h2>Could not be read</h2><ul class=\"problems\">"
                     + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape('gitdatax: ' + ', '.join(r.name for r in revisions))}</title>"
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(p for p in parts if p) + "\n</body></html>\n")
    return Report(page, n_curves + n_matrices + n_bars, notes)


def _legend(revisions: Sequence[Revision], colours: dict[str, str]) -> str:
    items = "".join(f"<span><i class=\"swatch\" style=\"background:{colours[r.key]}\"></i>"
                    f"<b>{html.escape(r.name)}</b> <span class=\"muted\">"
                    f"{html.escape(r.commit[:12] if r.commit else 'the work tree')}</span></span>"
                    for r in revisions)
    return f"<p class=\"legend\">{items}</p>"


def _curves(revisions: Sequence[Revision], plots: Plots, colours: dict[str, str]) -> tuple[str, int]:
    drawable = [spec for spec in plots.specs if spec.template not in CONFUSION_TEMPLATES]  # matrices: below
    named: dict[str, list[Spec]] = {}  # a top-level plot of several files: one chart, in its place
    for spec in drawable:
        if spec.name is not None:
            named.setdefault(spec.name, []).append(spec)
    blocks = []
    for spec in drawable:
        if spec.name is not None:
            chart = _named_chart(spec.name, named[spec.name], revisions, plots, colours, f"c{len(blocks)}") \
                if named[spec.name][0] is spec else ""
            blocks += [chart] if chart else []
            continue
        per_column: dict[str, list[charts.Curve]] = {}
        x_title = spec.x or "step"
        for rev in revisions:
            found = plots.at.get(rev.key, {}).get(spec.path)
            if found is None or found.series is None:
                continue
            x_name, xs, columns = axes(spec, found.series)
            x_title = spec.x_label or x_name
            for column, ys in columns.items():
                per_column.setdefault(column, []).append(charts.Curve(rev.name, colours[rev.key], xs, ys))
        for column, curves in per_column.items():
            title = spec.title or (spec.path if len(per_column) == 1 else f"{spec.path}: {column}")
            svg = charts.line_chart(title, x_title, spec.y_label or column, curves, f"c{len(blocks)}")
            blocks.append(f"<div class=\"chart\" data-plot=\"{html.escape(spec.path)}\">{svg}</div>")
    if not blocks:
        return "", 0
    return "<h2>Step curves</h2><div class=\"grid\">" + "".join(blocks) + "</div>", len(blocks)


def _named_chart(name: str, specs: Sequence[Spec], revisions: Sequence[Revision], plots: Plots,
                 colours: dict[str, str], salt: str) -> str:
    """DVC's top-level `NAME: {x: ..., y: {file: column, ...}}`: every file's columns of every
    revision in one chart, each revision in its colour, each file and column in its dash."""
    found_lines: list[tuple[Revision, str, str, list[float | None], list[float | None]]] = []
    x_title = specs[0].x_label
    for rev in revisions:
        for spec in specs:
            found = plots.at.get(rev.key, {}).get(spec.path)
            if found is None or found.series is None:
                continue
            x_name, xs, columns = axes(spec, found.series)
            x_title = x_title or x_name
            found_lines += [(rev, spec.path, column, xs, ys) for column, ys in columns.items()]
    lines = list(dict.fromkeys((path, column) for _, path, column, _, _ in found_lines))
    if not lines:
        return ""
    curves = [charts.Curve(rev.name if len(lines) == 1 else f"{rev.name}: {path}::{column}", colours[rev.key],
                           xs, ys, charts.DASHES[lines.index((path, column)) % len(charts.DASHES)])
              for rev, path, column, xs, ys in found_lines]
    y_title = specs[0].y_label or ", ".join(dict.fromkeys(column for _, column in lines))
    svg = charts.line_chart(specs[0].title or name, x_title or "step", y_title, curves, salt)
    return f"<div class=\"chart\" data-plot=\"{html.escape(name)}\">{svg}</div>"


def _confusions(revisions: Sequence[Revision], plots: Plots) -> tuple[str, int]:
    """DVC's confusion templates: one matrix per revision, next to each other."""
    rows, drawn = [], 0
    for spec in plots.specs:
        if spec.template not in CONFUSION_TEMPLATES:
            continue
        figures = []
        for rev in revisions:
            found = plots.at.get(rev.key, {}).get(spec.path)
            if found is None or not found.records:
                continue
            labels, counts = confusion(spec, found.records)
            if not labels:
                continue
            svg = charts.confusion_chart(rev.name, labels, counts, f"m{drawn}",
                                         normalized=spec.template == "confusion_normalized",
                                         x_label=spec.x_label or spec.x or "actual",
                                         y_label=spec.y_label or (spec.y[0] if spec.y else "predicted"))
            figures.append(f"<div class=\"chart\" data-confusion=\"{html.escape(spec.path)}\">{svg}</div>")
            drawn += 1
        if figures:
            rows.append(f"<h3>{html.escape(spec.title or spec.path)}</h3><div class=\"grid\">{''.join(figures)}</div>")
    return ("<h2>Confusion matrices</h2>" + "".join(rows), drawn) if rows else ("", 0)


def _images(revisions: Sequence[Revision], plots: Plots) -> str:
    rows = []
    for spec in plots.specs:
        figures = []
        for rev in revisions:
            found = plots.at.get(rev.key, {}).get(spec.path)
            if found is None or found.image is None:
                continue
            data = base64.b64encode(found.image).decode()
            figures.append(f"<figure><img alt=\"{html.escape(spec.path)} at {html.escape(rev.name)}\" "
                           f"src=\"data:{found.media_type};base64,{data}\"><figcaption>{html.escape(rev.name)}"
                           "</figcaption></figure>")
        if figures:
            rows.append(f"<h3>{html.escape(spec.title or spec.path)}</h3><div class=\"grid\">{''.join(figures)}</div>")
    return "<h2>Images</h2>" + "".join(rows) if rows else ""


def _final_metrics(revisions: Sequence[Revision], metrics: Sequence[Snapshot],
                   colours: dict[str, str]) -> tuple[str, int]:
    table = compare.show_table(metrics)
    if not table.columns:
        return "", 0
    bars = []
    for i, col in enumerate(table.columns):
        values = [(snap.revision.name, colours[snap.revision.key], cells[i].value)
                  for snap, cells in table.rows if is_number(cells[i].value)]
        if values and len(bars) < MAX_BAR_CHARTS and col.key not in NOT_CHARTED:
            svg = charts.bar_chart(col.title, [(n, c, float(v)) for n, c, v in values], f"b{i}")
            bars.append(f"<div class=\"chart\" data-metric=\"{html.escape(col.title)}\">{svg}</div>")
    return ("<h2>Final metrics</h2>" + _value_table(revisions, metrics, "Metric")
            + ("<div class=\"grid\">" + "".join(bars) + "</div>" if bars else "")), len(bars)


def _params(revisions: Sequence[Revision], params: Sequence[Snapshot]) -> str:
    if not compare.columns_of(params):
        return ""
    changed = _value_table(revisions, params, "Param", only_changed=True)
    every = _value_table(revisions, params, "Param")
    return ("<h2>Params that differ</h2>" + (changed or "<p class=\"muted\">none: every revision has the same "
                                                        "params</p>")
            + f"<details><summary>all params</summary>{every}</details>")


def _value_table(revisions: Sequence[Revision], snapshots: Sequence[Snapshot], what: str,
                 only_changed: bool = False) -> str:
    """Rows are keys, columns revisions (as MLflow's compare view); a changed value is tinted."""
    table = compare.show_table(snapshots, only_changed=only_changed and len(snapshots) > 1)
    if not table.columns or (only_changed and len(snapshots) > 1 and not table.columns):
        return ""
    head = "".join(f"<th>{html.escape(snap.revision.name)}</th>" for snap, _ in table.rows)
    body = []
    for i, col in enumerate(table.columns):
        cells = [cells[i] for _, cells in table.rows]
        shown = [("!" if c.error else "-" if c.value is compare.MISSING else show(c.value)) for c in cells]
        varies = len(set(shown)) > 1
        tds = "".join(f"<td class=\"{'num' if is_number(c.value) else ''}{' changed' if varies else ''}\">"
                      f"{html.escape(s)}</td>" for c, s in zip(cells, shown))
        body.append(f"<tr><th>{html.escape(col.title)}</th>{tds}</tr>")
    return f"<table><tr><th>{what}</th>{head}</tr>{''.join(body)}</table>"


def _plot_problems(revisions: Sequence[Revision], plots: Plots) -> list[str]:
    names = {r.key: r.name for r in revisions}
    missing = "named in the pipeline file, but there is no such file"
    return [f"{names[key]}: {path + ': ' if path else ''}{found.error or missing}"
            for key, files in plots.at.items() for path, found in files.items() if found.error or found.missing]


def write(path: Path, page: str) -> None:
    """Atomically: a browser reloading the report never sees half of it."""
    from gitdatax.log import write_text_atomic

    write_text_atomic(path, page)
