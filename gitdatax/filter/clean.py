"""Clean, without git's protocol: content in, what git stores for it out (its stub), the object
in the store, exactly as `git add` gets it through the filter process.

The filter process cleans each file git sends through one Cleaner; `git datax clean` cleans
stdin; the pipeline stores a stage's outputs with `clean_file`, so that a later `git add` of
those files finds their objects stored and their stubs journalled already.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from gitdatax import git, stub as stubs
from gitdatax.filter.background_writer import BackgroundWriter, Failure
from gitdatax.scan.stub_journal import JournalWriter
from gitdatax.store.objectstore import ObjectStore
from gitdatax.store.readable import Joined

_CONVERTED_START = stubs.VERSION_LINE[:-1] + b"\r\n"


class Cleaner:
    """One per `git add` (or pipeline run): small objects are written on a worker thread while
    the next file comes (background_writer.py); close() waits for them and says which failed."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.journal = JournalWriter(store.root)
        self.writer = BackgroundWriter(store)
        self._index_blobs: dict[str, str] | None = None
        self._cat_file: git.CatFile | None = None
        self._top: Path | None = None

    def clean(self, content: Iterator[bytes], pathname: str | None = None) -> list[bytes]:
        """What git stores for `content`: its stub; or the content itself when it is empty or
        already a valid stub (clean is idempotent). A stub made here is journalled (stub_journal).
        Without a pathname (stdin of `git datax clean`) every object is written before this
        returns; with one, a small object may still be on its way (take_failures, close)."""
        output = self._output(content, pathname)
        if len(output) == 1:
            stub = stubs.parse(output[0])
            if stub is not None:
                self.journal.record(stub)
        return output

    def clean_file(self, path: Path, pathname: str) -> bytes:
        """What git stores for the file at `path` (work tree path `pathname`): `git add` of it
        later finds the object stored and its stub journalled."""
        with open(path, "rb") as f:
            return b"".join(self.clean(iter(lambda: f.read(1 << 20), b""), pathname))

    def take_failures(self) -> list[Failure]:
        """The objects the background writer could not store since last asked."""
        return self.writer.take_failures()

    def close(self) -> list[Failure]:
        """Wait for every write; the ones that failed since last asked."""
        self.writer.close()
        failures = self.writer.take_failures()
        self.journal.flush()
        if self._cat_file is not None:
            self._cat_file.close()
            self._cat_file = None
        return failures

    def _output(self, content: Iterator[bytes], pathname: str | None) -> list[bytes]:
        head, rest, ended = peek(content, stubs.MAX_STUB_SIZE + 1)
        if ended and (not head or stubs.parse(head) is not None):
            return [head] if head else []
        if ended and pathname and may_be_converted_stub(head):  # a stub smudge wrote back, converted
            converted = stub_after_eol_conversion(pathname, head)
            if converted is not None:
                return [converted.encode()]
        if ended:  # the common case of a small file: no more buffering
            background = (lambda oid, data: self.writer.submit(oid, data, pathname)) if pathname else None
            return [self.store.put_bytes(head, background).encode()]
        if not pathname:
            return [self.store.put(Joined([head], rest)).encode()]
        stub = self.store.put(
            Joined([head], rest),
            likely_present=lambda head: self._probably_unchanged(pathname, head),
            reopen=lambda: open((self._top or Path(".")) / pathname, "rb"),
            background=lambda oid, data: self.writer.submit(oid, data, pathname),
        )
        return [stub.encode()]

    def _probably_unchanged(self, pathname: str, head: bytes) -> bool:
        """Whether the index already holds this path's content: its stub's object is stored and
        has the work tree file's size, and the file starts with the `head` git sent (git may
        clean other bytes under this path: `git hash-object --stdin --path=...`). Git re-cleans
        racily clean files after every checkout; this guess lets those cost a hash instead of a
        compression."""
        try:
            if self._index_blobs is None:
                self._top = git.repo_paths().toplevel
                self._index_blobs = {e.path: e.blob for e in git.index_entries() if e.stage == 0}
                self._cat_file = git.CatFile()
            blob = self._index_blobs.get(pathname)
            if blob is None or self._cat_file is None or self._top is None:
                return False
            data = self._cat_file.read(blob, limit=stubs.MAX_STUB_SIZE)
            stub = stubs.parse(data) if data is not None else None
            if stub is None or not self.store.has(stub.oid):
                return False
            with open(self._top / pathname, "rb") as f:
                return os.fstat(f.fileno()).st_size == stub.size and f.read(len(head)) == head
        except Exception:  # a guess only: any doubt means "compress while streaming"
            return False


def may_be_converted_stub(head: bytes) -> bool:
    """Cheap first look, on every small file git cleans: a stub's three lines, CRLF-ended, add
    three bytes at most (searching 32 KiB of random bytes for CRLF costs 25 us a file)."""
    return len(head) <= stubs.MAX_STUB_SIZE + 3 and head.startswith(_CONVERTED_START)


def stub_after_eol_conversion(pathname: str, head: bytes) -> stubs.Stub | None:
    """The stub git turned to CRLF before smudge, when the path's text attribute is not unset
    (a `* text=auto` line after gitdatax's overrides its -text, and core.autocrlf or eol=crlf
    applies: git converts line endings before it runs the smudge filter). The blob in git is
    the canonical stub. Clean gets the same bytes back when smudge had to write the stub (no
    object): they are that stub too. With -text git converts nothing: CRLF bytes are content."""
    stub = stubs.parse(head.replace(b"\r\n", b"\n"))
    if stub is None:
        return None
    try:
        text = git.check_attr("text", [pathname]).get(pathname)
    except Exception:  # noqa: BLE001 - in doubt, the bytes are content
        return None
    return stub if text not in (None, "unset") else None


def peek(content: Iterator[bytes], limit: int) -> tuple[bytes, Iterator[bytes], bool]:
    """Read at least `limit` bytes (or to the end). Returns (head, rest, whether it ended).
    A first packet of `limit` bytes or more (up to 64 KiB: most small files whole) is returned
    as it is, without a copy."""
    first = next(content, b"")
    if len(first) >= limit:
        second = next(content, None)
        if second is None:
            return first, iter(()), True
        return first, Joined([second], content), False
    head = bytearray(first)
    for chunk in content:
        head += chunk
        if len(head) >= limit:
            return bytes(head), content, False
    return bytes(head), iter(()), True
