"""Rendering tables as a terminal, a spreadsheet or a Markdown page reads them.

On a terminal: aligned columns (numbers to the right), the header bold, revision names and
changes coloured (green up, red down), a cell that failed red; piped, the same text without
escape codes (and NO_COLOR is honoured), so `| grep` and `> file` get plain text.
"""
from __future__ import annotations

import csv
import io
import os
import sys
from typing import Sequence

from gitdatax.metrics.compare import MISSING, Cell, Change, ShowTable
from gitdatax.metrics.values import DEFAULT_PRECISION, is_number, show, signed

ERROR_MARK = "!"  # a cell whose file could not be read or parsed at that revision (see the notes)
ABSENT_MARK = "-"

_BOLD, _RED, _GREEN, _CYAN, _RESET = "\033[1m", "\033[31m", "\033[32m", "\033[36m", "\033[0m"


def use_colour(stream: object = None) -> bool:
    stream = stream or sys.stdout
    return not os.environ.get("NO_COLOR") and bool(getattr(stream, "isatty", lambda: False)())


def cell_text(cell: Cell, precision: int = DEFAULT_PRECISION) -> str:
    if cell.error:
        return ERROR_MARK
    if cell.value is MISSING:
        return ABSENT_MARK
    return show(cell.value, precision)


def show_rows(table: ShowTable, precision: int) -> tuple[list[str], list[list[str]]]:
    header = ["Revision", *(c.title for c in table.columns)]
    rows = [[snap.revision.name, *(cell_text(c, precision) for c in cells)] for snap, cells in table.rows]
    return header, rows


def show_numeric(table: ShowTable) -> list[list[bool]]:
    return [[False, *(is_number(c.value) for c in cells)] for _, cells in table.rows]


def render(header: Sequence[str], rows: Sequence[Sequence[str]], fmt: str, *, colour: bool = False,
           numeric: Sequence[Sequence[bool]] | None = None, tints: Sequence[Sequence[str]] | None = None) -> str:
    """`fmt` is "table", "csv" or "md"; `tints` gives an escape code per cell (terminal only)."""
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return buf.getvalue()
    if fmt == "md":
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        out = [line(header), "|" + "|".join("---:" if numeric and any(r[i] for r in numeric) else "---"
                                            for i in range(len(header))) + "|"]
        return "\n".join(out + [line(r) for r in rows]) + "\n"
    widths = [max([len(header[i]), *(len(r[i]) for r in rows)]) for i in range(len(header))]
    lines = []
    head = "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()
    lines.append(f"{_BOLD}{head}{_RESET}" if colour else head)
    for r, row in enumerate(rows):
        cells = []
        for i, text in enumerate(row):
            right = bool(numeric and numeric[r][i])
            padded = text.rjust(widths[i]) if right else text.ljust(widths[i])
            tint = tints[r][i] if tints else ""
            if colour and i == 0 and not tint:
                tint = _CYAN
            cells.append(f"{tint}{padded}{_RESET}" if colour and tint else padded)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def show_tints(table: ShowTable) -> list[list[str]]:
    return [["", *(_RED if c.error else "" for c in cells)] for _, cells in table.rows]


def diff_rows(changes: Sequence[Change], old_name: str, new_name: str, *, kind: str, precision: int,
              with_change: bool) -> tuple[list[str], list[list[str]], list[list[bool]], list[list[str]]]:
    """DVC's diff table: Path, Metric (or Param), old, new[, Change]."""
    header = ["Path", "Metric" if kind == "metrics" else "Param", old_name, new_name]
    if with_change:
        header.append("Change")
    rows, numeric, tints = [], [], []
    for ch in changes:
        row = [ch.file, ch.key, show(ch.old, precision), show(ch.new, precision)]
        num = [False, False, is_number(ch.old), is_number(ch.new)]
        tint = ["", "", "", ""]
        if with_change:
            row.append(signed(ch.diff, precision) if ch.diff is not None else "-")
            num.append(ch.diff is not None)
            tint.append(_GREEN if ch.diff and ch.diff > 0 else _RED if ch.diff and ch.diff < 0 else "")
        rows.append(row)
        numeric.append(num)
        tints.append(tint)
    return header, rows, numeric, tints
