"""What `metrics show`, `metrics diff` and `params diff` print, as text plus the notes for
stderr (a file that failed at some revision), so the command modules only print and exit."""
from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple, Sequence

from gitdatax.errors import FatalError
from gitdatax.metrics import compare, tables
from gitdatax.metrics.collect import collect
from gitdatax.metrics.reader import RevisionReader
from gitdatax.metrics.revisions import pair, select


class View(NamedTuple):
    text: str  # for stdout
    notes: list[str]  # one line each, for stderr: what could not be read, where


def metrics_show(top: Path, revs: Sequence[str] = (), *, all_commits: bool = False, limit: int | None = None,
                 fmt: str = "table", targets: Sequence[str] = (), only_changed: bool = False,
                 all_branches: bool = False, all_tags: bool = False,
                 sort_by: str | None = None, descending: bool = False, precision: int = 5,
                 colour: bool = False) -> View:
    revisions = select(top, revs, all_commits=all_commits, limit=limit, all_branches=all_branches,
                       all_tags=all_tags)
    with RevisionReader(top) as reader:
        snapshots = collect(reader, revisions, "metrics", targets)
    notes = compare.problems(snapshots)
    if fmt == "json":
        return View(json.dumps(compare.show_json(snapshots)) + "\n", notes)  # one line, as DVC
    try:
        table = compare.show_table(snapshots, only_changed=only_changed, sort_by=sort_by, descending=descending)
    except ValueError as exc:
        raise FatalError(str(exc)) from None
    if not table.columns:
        return View("", notes + [_nothing_found(snapshots, "metrics")])
    header, rows = tables.show_rows(table, precision)
    text = tables.render(header, rows, fmt, colour=colour, numeric=tables.show_numeric(table),
                         tints=tables.show_tints(table))
    return View(text, notes)


def values_diff(top: Path, a: str | None, b: str | None, *, kind: str, fmt: str = "table",
                targets: Sequence[str] = (), everything: bool = False, precision: int = 5,
                colour: bool = False) -> View:
    """`metrics diff` (kind="metrics") or `params diff` (kind="params")."""
    old, new = pair(top, a, b)
    with RevisionReader(top) as reader:
        snapshots = collect(reader, [old, new], kind, targets)
    notes = compare.problems(snapshots)
    changes = compare.diff(snapshots[0], snapshots[1], everything=everything)
    with_change = kind == "metrics"
    if fmt == "json":
        return View(json.dumps(compare.diff_json(changes, with_diff=with_change)) + "\n", notes)
    if not changes:
        return View("", notes)  # DVC prints nothing when nothing changed; the exit status stays 0
    header, rows, numeric, tints = tables.diff_rows(changes, old.key, new.key, kind=kind,
                                                    precision=precision, with_change=with_change)
    return View(tables.render(header, rows, fmt, colour=colour, numeric=numeric, tints=tints), notes)


def _nothing_found(snapshots: Sequence[compare.Snapshot], kind: str) -> str:
    if any(s.files for s in snapshots):
        return f"no {kind} values in the files named (every file is missing, empty or unreadable)"
    return (f"no {kind} files: name them in datax.yaml (`{kind}: [{kind}.json]` at the top or in a stage), "
            "or log them with gitdatax.log")
