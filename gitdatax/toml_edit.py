"""Editing `.datax.toml` in place, line by line, for the simple `[a.b]` table shape that
`git datax remote` writes. We have no TOML writer dependency, and a round trip through one would
lose the user's comments and layout anyway: these edits touch only the lines they must.

Every edit is checked by re-parsing the result with tomllib and comparing it with what the edit
meant to produce; a file we cannot edit safely (the table written inline or with dotted keys, say)
is refused with a message rather than written wrong.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from gitdatax.config import load_toml, tomllib
from gitdatax.errors import FatalError
from gitdatax.files import write_atomically

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_HEADER = re.compile(r"\s*\[(?!\[)(.*)\]\s*(#.*)?")
_KEY_LINE = re.compile(r"\s*([A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\")\s*=")


def quote_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else quote_string(key)


def quote_string(value: str) -> str:
    """A TOML basic string: escape backslash, quote and every control character."""
    out = ['"']
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return quote_string(value)
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _parse_header_key(text: str) -> tuple[str, ...] | None:
    """The dotted key of a table header (`remote."my team"` -> ('remote', 'my team'))."""
    try:
        parsed = tomllib.loads(f"[{text}]\n")
    except tomllib.TOMLDecodeError:
        return None
    path: list[str] = []
    node: Any = parsed
    while isinstance(node, dict) and len(node) == 1:
        key = next(iter(node))
        path.append(key)
        node = node[key]
    return tuple(path) if path else None


class _Doc:
    """The file's lines, with the table each line belongs to."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines(keepends=True)
        if self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"

    def tables(self) -> list[tuple[tuple[str, ...] | None, int, int]]:
        """(table path or None for the root, first line, end line) for each section."""
        sections: list[tuple[tuple[str, ...] | None, int, int]] = []
        current: tuple[str, ...] | None = None
        start = 0
        in_multiline: str | None = None
        for i, line in enumerate(self.lines):
            if in_multiline is None:
                match = _HEADER.fullmatch(line.rstrip("\n"))
                if match:
                    sections.append((current, start, i))
                    current, start = _parse_header_key(match.group(1)) or ("<unparsed>",), i
                    continue
            for delim in ('"""', "'''"):
                if (in_multiline in (None, delim)) and line.count(delim) % 2 == 1:
                    in_multiline = None if in_multiline == delim else delim
        sections.append((current, start, len(self.lines)))
        return sections

    def find(self, path: tuple[str, ...]) -> tuple[int, int] | None:
        for table, start, end in self.tables():
            if table == path:
                return start, end
        return None

    def text(self) -> str:
        return "".join(self.lines)


def _key_of(line: str) -> str | None:
    match = _KEY_LINE.match(line)
    if not match:
        return None
    key = match.group(1)
    return tomllib.loads(f"{key} = 0\n").popitem()[0] if key.startswith('"') else key


def _end_of_content(doc: _Doc, start: int, end: int) -> int:
    """Just after the last non-blank line of a section (new keys go there, not after blanks)."""
    while end > start + 1 and not doc.lines[end - 1].strip():
        end -= 1
    return end


def add_table(text: str, path: tuple[str, ...], values: dict[str, Any]) -> str:
    doc = _Doc(text)
    if doc.find(path) is not None:
        raise ValueError(f"table {'.'.join(path)} exists")
    block = [f"[{'.'.join(quote_key(p) for p in path)}]\n"]
    block += [f"{quote_key(k)} = {format_value(v)}\n" for k, v in values.items()]
    if doc.lines and doc.lines[-1].strip():
        block.insert(0, "\n")
    doc.lines += block
    return doc.text()


def remove_table(text: str, path: tuple[str, ...]) -> str:
    doc = _Doc(text)
    found = doc.find(path)
    if found is None:
        return text
    start, end = found
    # Take the blank lines before the header along, so removals do not pile up blank lines.
    while start > 0 and not doc.lines[start - 1].strip():
        start -= 1
    del doc.lines[start:end]
    return doc.text()


def set_key(text: str, path: tuple[str, ...], key: str, value: Any) -> str:
    doc = _Doc(text)
    found = doc.find(path)
    if found is None:
        return add_table(text, path, {key: value})
    start, end = found
    line = f"{quote_key(key)} = {format_value(value)}\n"
    for i in range(start + 1, end):
        if _key_of(doc.lines[i]) == key:
            doc.lines[i] = line
            return doc.text()
    doc.lines.insert(_end_of_content(doc, start, end), line)
    return doc.text()


def remove_key(text: str, path: tuple[str, ...], key: str) -> str:
    doc = _Doc(text)
    found = doc.find(path)
    if found is None:
        return text
    start, end = found
    doc.lines = [ln for i, ln in enumerate(doc.lines) if not (start < i < end and _key_of(ln) == key)]
    return doc.text()


def edit_file(path: Path, change: Callable[[str], str], expect: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Apply `change` to the file's text, check that it parses to `expect(old data)`, and
    replace the file atomically. Nothing is written when the check fails."""
    before = load_toml(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    wanted = expect(before)
    try:
        after = change(text)
        ok = tomllib.loads(after) == wanted
    except (ValueError, tomllib.TOMLDecodeError):
        ok = False
    if not ok:
        raise FatalError(f"{path.name}: cannot make this change safely by editing lines "
                         "(is the table written inline or with dotted keys?); edit the file by hand")
    write_atomically(path, after)
