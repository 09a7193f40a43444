"""Plots files at each revision: step logs (TSV, CSV, JSON, YAML) as columns of numbers, and
images (PNG, JPEG, GIF, SVG) as bytes, per the pipeline's plots entries (DVC's `x`, `y`,
`title`; a folder entry such as `dvclive/plots/metrics` stands for every file under it)."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import posixpath
from typing import Any, NamedTuple, Sequence

from gitdatax.errors import FatalError
from gitdatax.metrics.collect import DVCLIVE_PLOTS, PipelineCache, under_targets
from gitdatax.metrics.reader import IsFolder, RevisionReader, Unreadable
from gitdatax.metrics.revisions import Revision
from gitdatax.metrics.values import is_number
from gitdatax.pipeline.model import PlotSpec as Spec  # path, x, y, title, x_label, y_label

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".svg": "image/svg+xml"}
DATA_SUFFIXES = (".tsv", ".csv", ".json", ".yaml", ".yml")
SKIPPED_COLUMNS = {"timestamp"}  # DVCLive's wall clock: not a curve anyone compares


class Series(NamedTuple):
    columns: dict[str, list[float | None]]  # column -> its values, None where a row had no number
    rows: int


class PlotFile(NamedTuple):
    """One plots file at one revision: a step log, an image, or why neither."""
    series: Series | None = None
    image: bytes | None = None
    media_type: str | None = None
    error: str | None = None
    missing: bool = False
    records: list[dict[str, Any]] | None = None  # the rows as read, for templates that count labels


class Plots(NamedTuple):
    # Every plots file seen at any revision, in order; a top-level plot drawing from several
    # files (DVC's `y: {file: column}`) has one spec per file, each with the plot's `name`.
    specs: list[Spec]
    at: dict[str, dict[str, PlotFile]]  # revision key -> path -> its content


def gather(reader: RevisionReader, revisions: Sequence[Revision], pipelines: PipelineCache | None = None,
           targets: Sequence[str] = ()) -> Plots:
    pipelines = pipelines or PipelineCache(reader)
    specs: dict[tuple[str | None, str], Spec] = {}  # (plot name, path): a file may be in both
    at: dict[str, dict[str, PlotFile]] = {}
    for revision in revisions:
        files: dict[str, PlotFile] = {}
        try:
            pipeline = pipelines.at(revision.commit)
        except FatalError as exc:  # a broken datax.yaml there: that revision says so, the rest is drawn
            at[revision.key] = {"": PlotFile(error=str(exc))}
            continue
        entries = list(pipeline.plots()) if pipeline is not None else []
        if not any(e.path.rstrip("/") == DVCLIVE_PLOTS for e in entries):
            entries.append(Spec(DVCLIVE_PLOTS, x="step"))  # what gitdatax.log and DVCLive write
        for entry in entries:
            for spec, found in _read_entry(reader, revision.commit, entry, optional=entry.path == DVCLIVE_PLOTS):
                if not under_targets(spec.path, targets):
                    continue
                specs.setdefault((spec.name, spec.path), spec)
                files[spec.path] = found
        at[revision.key] = files
    return Plots(list(specs.values()), at)


def _read_entry(reader: RevisionReader, commit: str | None, entry: Spec,
                optional: bool) -> list[tuple[Spec, PlotFile]]:
    try:
        data = reader.read(commit, entry.path)
    except IsFolder:
        children = [c for c in reader.walk(commit, entry.path)
                    if c.lower().endswith(DATA_SUFFIXES) or posixpath.splitext(c)[1].lower() in IMAGE_TYPES]
        return [(dataclasses.replace(entry, path=c, title=None), read_plot(reader, commit, c)) for c in children]
    except Unreadable as exc:
        return [(entry, PlotFile(error=str(exc)))]
    if data is None:
        return [] if optional else [(entry, PlotFile(missing=True))]
    return [(entry, parse_plot(data, entry.path))]


def read_plot(reader: RevisionReader, commit: str | None, path: str) -> PlotFile:
    try:
        data = reader.read(commit, path)
    except (Unreadable, IsFolder) as exc:
        return PlotFile(error=str(exc) if isinstance(exc, Unreadable) else "is a folder")
    return PlotFile(missing=True) if data is None else parse_plot(data, path)


def parse_plot(data: bytes, path: str) -> PlotFile:
    ext = posixpath.splitext(path)[1].lower()
    if ext in IMAGE_TYPES:
        return PlotFile(image=data, media_type=IMAGE_TYPES[ext])
    try:
        rows = _rows(data, ext, path)
    except ValueError as exc:
        return PlotFile(error=str(exc))
    return PlotFile(series=_columns(rows), records=rows)


def _rows(data: bytes, ext: str, path: str) -> list[dict[str, Any]]:
    """The records of a step log: TSV/CSV with a header line, or JSON/YAML holding a list of
    records (or a mapping with one such list, as DVC accepts)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if ext in (".tsv", ".csv"):
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if ext == ".tsv" else ",")
        try:
            return [dict(row) for row in reader]
        except csv.Error as exc:
            raise ValueError(f"unreadable {ext[1:].upper()}: {exc}") from None
    if ext == ".json":
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"invalid JSON: {exc}") from None
    else:
        from gitdatax.pipeline.params_file import yaml_safe_load

        try:
            value = yaml_safe_load(text, path)
        except FatalError as exc:
            raise ValueError(str(exc).removeprefix(f"{path}")) from None
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        value = lists[0] if len(lists) == 1 else value
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise ValueError("a plots file holds a list of records ([{\"step\": 0, \"loss\": 1.2}, ...])")
    return value


def _number(value: Any) -> float | None:
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if number == number and abs(number) != float("inf") else None
    return None


def _columns(rows: list[dict[str, Any]]) -> Series:
    names = list(dict.fromkeys(k for row in rows for k in row if k is not None))
    columns = {name: [_number(row.get(name)) for row in rows] for name in names}
    return Series({name: values for name, values in columns.items() if any(v is not None for v in values)},
                  len(rows))


def axes(spec: Spec, series: Series) -> tuple[str, list[float | None], dict[str, list[float | None]]]:
    """The x column and the y columns to draw, as the spec asks: x is `step` by default (else the
    row number), y every other numeric column (DVCLive's timestamp left out)."""
    x_name = spec.x if spec.x in series.columns else "step" if "step" in series.columns else None
    xs: list[float | None] = series.columns[x_name] if x_name else [float(i) for i in range(series.rows)]
    wanted = spec.y or tuple(n for n in series.columns if n != x_name and n not in SKIPPED_COLUMNS)
    return x_name or "row", xs, {n: series.columns[n] for n in wanted if n in series.columns and n != x_name}


CONFUSION_TEMPLATES = {"confusion", "confusion_normalized"}  # DVC's names (DVCLive's sklearn plots)


def confusion(spec: Spec, records: list[dict[str, Any]]) -> tuple[list[str], list[list[int]]]:
    """Labels and counts[actual][predicted] from records of (x: actual, y: predicted), DVC's
    defaults; labels sorted as numbers where they all are."""
    x = spec.x or "actual"
    y = spec.y[0] if spec.y else "predicted"
    pairs = [(str(r.get(x)), str(r.get(y))) for r in records if r.get(x) is not None and r.get(y) is not None]
    found = {label for pair in pairs for label in pair}
    numeric = all(_number(label) is not None for label in found)
    labels = sorted(found, key=lambda v: (_number(v) or 0.0, v) if numeric else (0.0, v))
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for actual, predicted in pairs:
        counts[index[actual]][index[predicted]] += 1
    return labels, counts
