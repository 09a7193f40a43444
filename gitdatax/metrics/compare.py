"""From snapshots to what the commands show: the table of `metrics show` and the diffs of
`metrics diff` / `params diff`, with the JSON DVC's commands print, so scripts written for DVC
read ours."""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

from gitdatax.metrics.collect import Snapshot
from gitdatax.metrics.values import difference, is_number

MISSING = object()  # the file or key is not there at that revision


class Column(NamedTuple):
    file: str
    key: str
    title: str  # `key`, or `file:key` when two files share the key


class Cell(NamedTuple):
    value: Any  # MISSING when there is nothing
    error: bool = False  # the file could not be read or parsed at that revision


class ShowTable(NamedTuple):
    columns: list[Column]
    rows: list[tuple[Snapshot, list[Cell]]]


def columns_of(snapshots: Sequence[Snapshot]) -> list[Column]:
    """Every (file, key) seen in any revision: files in the order first seen, each file's keys
    in the order first seen (a file broken at the newest revision keeps its place)."""
    keys: dict[str, dict[str, None]] = {}
    for snap in snapshots:
        for path, values in snap.files.items():
            found = keys.setdefault(path, {})
            for key in values.values:
                found.setdefault(key, None)
    files_of: dict[str, int] = {}
    for found in keys.values():
        for key in found:
            files_of[key] = files_of.get(key, 0) + 1
    return [Column(path, key, key if files_of[key] == 1 else f"{path}:{key}")
            for path, found in keys.items() for key in found]


def show_table(snapshots: Sequence[Snapshot], *, only_changed: bool = False, sort_by: str | None = None,
               descending: bool = False) -> ShowTable:
    columns = columns_of(snapshots)
    rows = [(snap, [_cell(snap, col) for col in columns]) for snap in snapshots]
    if only_changed and len(rows) > 1:
        keep = [i for i in range(len(columns)) if len({_comparable(r[1][i]) for r in rows}) > 1]
        columns = [columns[i] for i in keep]
        rows = [(snap, [cells[i] for i in keep]) for snap, cells in rows]
    if sort_by is not None:
        index = find_column(columns, sort_by)
        numbered = [r for r in rows if is_number(r[1][index].value)]
        others = [r for r in rows if not is_number(r[1][index].value)]
        numbered.sort(key=lambda r: r[1][index].value, reverse=descending)
        rows = numbered + others  # revisions without the value last, in their order
    return ShowTable(columns, rows)


def find_column(columns: Sequence[Column], name: str) -> int:
    """The column `name` (`key` or `file:key`); ValueError naming the choices when none is."""
    for i, col in enumerate(columns):
        if name in (col.title, f"{col.file}:{col.key}"):
            return i
    matches = [i for i, col in enumerate(columns) if col.key == name]
    if len(matches) == 1:
        return matches[0]
    choices = ", ".join(c.title for c in columns) or "none"
    raise ValueError(f"no metric {name!r} to sort by (metrics: {choices})")


def _cell(snap: Snapshot, col: Column) -> Cell:
    found = snap.files.get(col.file)
    if found is None or (snap.error is not None):
        return Cell(MISSING, error=snap.error is not None)
    if found.error is not None:
        return Cell(MISSING, error=True)
    return Cell(found.values.get(col.key, MISSING))


def _comparable(cell: Cell) -> Any:
    return ("error",) if cell.error else ("missing",) if cell.value is MISSING else repr(cell.value)


def problems(snapshots: Sequence[Snapshot]) -> list[str]:
    """One line per revision or file that could not be read, to show under the table."""
    lines = []
    for snap in snapshots:
        if snap.error is not None:
            lines.append(f"{snap.revision.name}: {snap.error}")
        for path, values in snap.files.items():
            if values.error is not None:
                lines.append(f"{snap.revision.name}: {path}: {values.error}")
            elif values.missing and values.asked:
                lines.append(f"{snap.revision.name}: {path}: no such file")
            elif values.missing:  # named by that revision's own pipeline file, yet not there
                lines.append(f"{snap.revision.name}: {path}: named in the pipeline file, but there is no such file")
    return lines


def show_json(snapshots: Sequence[Snapshot]) -> dict[str, Any]:
    """DVC's `metrics show --json`: {rev: {"data": {file: {"data": {nested...}}}}}, a file that
    failed as {"error": {"type", "msg"}}. Values keep DVC's nesting (`{"train": {"lr": ...}}`)."""
    result: dict[str, Any] = {}
    for snap in snapshots:
        if snap.error is not None:
            result[snap.revision.key] = {"error": {"type": "PipelineFileError", "msg": snap.error}}
            continue
        files: dict[str, Any] = {}
        for path, values in snap.files.items():
            if values.missing:
                files[path] = {"error": {"type": "FileNotFoundError", "msg": f"{path} does not exist"}}
            elif values.error is not None:
                files[path] = {"error": {"type": "MetricsFileError", "msg": values.error}}
            else:
                files[path] = {"data": nest(values.values)}
        result[snap.revision.key] = {"data": files}
    return result


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Undo the dotted flattening for JSON output (a key that holds a dot in the file itself is
    nested too: the flat form is what is compared, the nesting only for the reader's eye)."""
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # `a` and `a.b` both present: keep the flat key
                node = None  # type: ignore[assignment]
                break
            node = child
        if node is None:
            tree[key] = value
        else:
            node[parts[-1]] = value
    return tree


class Change(NamedTuple):
    file: str
    key: str
    old: Any  # None when absent (JSON null, as DVC)
    new: Any
    diff: Any  # new - old when both are numbers, else None

    def as_json(self, with_diff: bool) -> dict[str, Any]:
        entry = {"old": self.old, "new": self.new}
        if with_diff and self.diff is not None:
            entry["diff"] = self.diff
        return entry


def diff(old: Snapshot, new: Snapshot, *, everything: bool = False) -> list[Change]:
    """What changed from `old` to `new`, file by file in the order files are named; with
    `everything`, unchanged values too (DVC's --all)."""
    changes = []
    paths = list(dict.fromkeys([*old.files, *new.files]))
    for path in paths:
        before = old.files[path].values if path in old.files else {}
        after = new.files[path].values if path in new.files else {}
        for key in dict.fromkeys([*before, *after]):
            a, b = before.get(key), after.get(key)
            same = key in before and key in after and a == b and type(a) is type(b)
            if same and not everything:
                continue
            changes.append(Change(path, key, a, b, difference(a, b) if key in before and key in after else None))
    return changes


def diff_json(changes: Sequence[Change], *, with_diff: bool = True) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for change in changes:
        result.setdefault(change.file, {})[change.key] = change.as_json(with_diff)
    return result
