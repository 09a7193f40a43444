"""The fast-import stream of a history rewrite: what a Converter changes, and the transform
that applies it to `git fast-export --no-data` output on its way to `git fast-import`.

Commits arrive with blob ids, not contents; a file is read (streamed) only when the Converter
asks for it. Commit messages and everything not a file change pass through byte for byte.
"""
from __future__ import annotations

import os
from typing import BinaryIO, Callable

from gitdatax import git
from gitdatax.errors import FatalError

CHUNK = 1 << 20
_ESCAPES = {b"a": 7, b"b": 8, b"f": 12, b"n": 10, b"r": 13, b"t": 9, b"v": 11, b"\\": 92, b'"': 34}


class Converter:
    """What a migration changes. Paths are str (utf-8, surrogateescape); blobs are hex ids."""

    # Every rewritten commit must hold a top-level .gitattributes (import adds its lines there).
    ensure_root_attributes = False

    def is_attributes(self, path: str) -> bool:
        return False

    def new_attributes(self, path: str, original: bytes | None) -> bytes | None:
        """The new content of a .gitattributes file (None: the file stays absent)."""
        return original

    def convert_file(self, path: str, blob: str) -> bytes | None:
        """A small replacement blob (a stub) for this file, or None to keep it as it is."""
        return None

    def replace_file(self, path: str, blob: str) -> list[tuple[str, bytes | None]] | None:
        """Other files that take this one's place, which goes: (path, content), a content of
        None deleting that path (from-dvc: a .dvc file becomes its outputs' stubs); None keeps it."""
        return None

    def deleted_with(self, path: str) -> list[str]:
        """Paths that go when this file is deleted (from-dvc: a .dvc file's outputs)."""
        return []


# -- quoting paths in the fast-import stream ---------------------------------------------------


def unquote_path(raw: bytes) -> bytes:
    """fast-export writes a path C-quoted when it has special characters (or a space)."""
    if not raw.startswith(b'"'):
        return raw
    out = bytearray()
    i, body = 0, raw[1:-1]
    while i < len(body):
        c = body[i:i + 1]
        if c != b"\\":
            out += c
            i += 1
            continue
        nxt = body[i + 1:i + 2]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:  # \ooo octal
            out.append(int(body[i + 1:i + 4], 8))
            i += 4
    return bytes(out)


def quote_path(path: bytes) -> bytes:
    """Always C-quote: fast-import accepts it for any path."""
    out = bytearray(b'"')
    for byte in path:
        if byte in (34, 92):
            out += b"\\" + bytes([byte])
        elif byte < 32 or byte == 127:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b'"'
    return bytes(out)


def _text(path: bytes) -> str:
    return path.decode("utf-8", "surrogateescape")


# -- the transform ---------------------------------------------------------------------------------


class Transform:
    def __init__(self, source: BinaryIO, sink: BinaryIO, converter: Converter, blobs: git.CatFile,
                 on_commit: Callable[[], None], cwd: str | os.PathLike[str] | None) -> None:
        self.readline = source.readline
        self.source = source
        self.write = sink.write
        self.conv = converter
        self.blobs = blobs
        self.on_commit = on_commit
        self.cwd = cwd

    def run(self) -> None:
        while line := self.readline():
            if line.startswith(b"commit "):
                self.commit(line)
            elif line.startswith(b"data "):
                self.write(line)
                self.copy(int(line[5:]))
            else:
                self.write(line)
        self.write(b"done\n")

    def copy(self, count: int) -> None:
        while count:
            chunk = self.source.read(min(count, CHUNK))
            if not chunk:
                raise FatalError("git fast-export ended in the middle of a message")
            self.write(chunk)
            count -= len(chunk)

    def inline(self, path: bytes, data: bytes, mode: bytes = b"100644") -> None:
        self.write(b"M %s inline %s\ndata %d\n%s\n" % (mode, quote_path(path), len(data), data))

    def commit(self, first: bytes) -> None:
        self.write(first)
        original = None
        while line := self.readline():  # header: mark, original-oid, author, committer, data
            self.write(line)
            if line.startswith(b"original-oid "):
                original = line[13:].strip().decode()
            if line.startswith(b"data "):
                self.copy(int(line[5:]))
                break
        parent = "none"
        touched: set[bytes] = set()
        while (line := self.readline()) not in (b"\n", b""):
            if line.startswith(b"from "):
                parent = "rewritten" if line[5:6] == b":" else "kept"
                self.write(line)
            elif line.startswith(b"M "):
                mode, blob, raw = line[2:].rstrip(b"\n").split(b" ", 2)
                path = unquote_path(raw)
                touched.add(path)
                if not self.modify(path, mode, blob.decode()):
                    self.write(line)
            elif line.startswith(b"D "):
                path = unquote_path(line[2:].rstrip(b"\n"))
                touched.add(path)
                new = self.conv.new_attributes(_text(path), None) if self.conv.is_attributes(_text(path)) else None
                if new is None:
                    self.write(line)
                else:
                    self.inline(path, new)
                for extra in self.conv.deleted_with(_text(path)):
                    self.write(b"D %s\n" % quote_path(extra.encode("utf-8", "surrogateescape")))
            else:  # merge, deleteall, notes
                self.write(line)
        if parent == "kept" and original:
            # The first parent is outside the rewrite: its tree (raw files, old attributes) is
            # inherited, so convert what this commit did not mention itself.
            for mode, blob, path in _tree_files(original, self.cwd):
                if path not in touched:
                    touched.add(path)
                    self.modify(path, mode, blob)
        if self.conv.ensure_root_attributes and parent != "rewritten" and b".gitattributes" not in touched:
            new = self.conv.new_attributes(".gitattributes", None)
            if new is not None:
                self.inline(b".gitattributes", new)
        self.write(b"\n")
        self.on_commit()

    def modify(self, path: bytes, mode: bytes, blob: str) -> bool:
        """Write the converted M line for this file and return True, or False to keep it."""
        if mode not in (b"100644", b"100755"):
            return False  # symlinks and submodules hold no data
        text = _text(path)
        if self.conv.is_attributes(text):
            original = self.blobs.read(blob)
            new = self.conv.new_attributes(text, original)
            if new is None or new == original:
                return False
            self.inline(path, new, mode)
            return True
        replaced_by = self.conv.replace_file(text, blob)
        if replaced_by is not None:
            self.write(b"D %s\n" % quote_path(path))
            for target, content in replaced_by:
                raw = target.encode("utf-8", "surrogateescape")
                if content is None:
                    self.write(b"D %s\n" % quote_path(raw))
                else:
                    self.inline(raw, content)
            return True
        replacement = self.conv.convert_file(text, blob)
        if replacement is None:
            return False
        self.inline(path, replacement, mode)
        return True


def _tree_files(commit: str, cwd: str | os.PathLike[str] | None) -> list[tuple[bytes, str, bytes]]:
    raw = git.run(["ls-tree", "-r", "-z", commit], cwd=cwd).stdout
    files = []
    for record in raw.split(b"\0"):
        if record:
            meta, _, path = record.partition(b"\t")
            mode, kind, blob = meta.split()
            if kind == b"blob":
                files.append((mode, blob.decode(), path))
    return files
