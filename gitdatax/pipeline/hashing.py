"""The content identity of deps and outs, without re-hashing what has not changed.

A file's identity is its oid (SHA-256 of its bytes, the stub's oid) and size; a folder's is the
oid of its sorted listing (`<oid> <size> <path>` lines) and its file count. Hashing 10,000 files
on every `repro` would cost seconds, so each answer is remembered with the file's stat data
(size, mtime, ctime, inode) in `<git-dir>/datax/pipeline-stat`, a cache that is only ever a
shortcut: a file whose stat data differ is hashed again, so touching a file costs one hash and
changes nothing. As in git's index, an entry written in the same instant as the file changed
("racily clean") is not trusted. A work-tree file that holds a gitdatax stub (data not checked
out) counts as the data the stub names. A big file the cache does not know yet (after a clone)
is first looked up in git's index (index_oids.py): a tracked file git sees unchanged is what its
staged stub says, without a byte of it read.
"""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from gitdatax import stub as stubs
from gitdatax.pipeline.index_oids import WORTH_ASKING
from gitdatax.files import write_atomically

if TYPE_CHECKING:
    from gitdatax.pipeline.index_oids import IndexOids

CACHE_NAME = "pipeline-stat"
CACHE_VERSION = 3
RACY_NS = 20_000_000  # file-system timestamps can be this coarse (ext4 jiffies, NFS)
CHUNK = 1 << 20
IGNORED_DIRS = {".git", "__pycache__"}


class FileState(NamedTuple):
    oid: str
    size: int
    nfiles: int | None = None  # a folder: the number of files in it


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def hash_file(path: str) -> tuple[str, int]:
    """SHA-256 and size of a file, streamed; a stub stands for the data it names."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        head = f.read(stubs.MAX_STUB_SIZE + 1)
        if len(head) <= stubs.MAX_STUB_SIZE:
            stub = stubs.parse(head)
            if stub is not None:
                return stub.oid, stub.size
        digest.update(head)
        size = len(head)
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def listing_bytes(entries: list[tuple[str, FileState]]) -> bytes:
    """A folder's canonical listing: one `<oid> <size> <relative path>` line per file, sorted."""
    return b"".join(f"{state.oid} {state.size} {rel}\n".encode("utf-8", "surrogateescape")
                    for rel, state in sorted(entries))


def parse_listing(data: bytes) -> list[tuple[str, FileState]]:
    entries = []
    for line in data.decode("utf-8", "surrogateescape").splitlines():
        oid, size, rel = line.split(" ", 2)
        entries.append((rel, FileState(oid, int(size))))
    return entries


class StatCache:
    """path -> (stat key, oid, size) of the files hashed before, loaded once per process.

    Kept with `marshal` (strings and ints only, nothing executable): 10,000 entries load in a
    few milliseconds, where parsing text lines cost 30."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, tuple[tuple[int, int, int, int], str, int]] = {}
        self.saved_ns = 0
        self.dirty = False
        if path is not None:
            self._load()

    def _load(self) -> None:
        import marshal

        assert self.path is not None
        try:
            version, saved_ns, entries = marshal.loads(self.path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            return  # none yet, or damaged: hash again
        if version == CACHE_VERSION and isinstance(entries, dict):
            self.saved_ns, self.entries = saved_ns, entries

    @property
    def trusted_before_ns(self) -> int:
        """Files changed at or after this instant are hashed again: they may have changed in
        the same timestamp tick as the cache was written (git's "racily clean")."""
        return self.saved_ns - RACY_NS

    def get(self, rel: str, st: os.stat_result) -> tuple[str, int] | None:
        entry = self.entries.get(rel)
        if entry is None or entry[0] != _stat_key(st) or st.st_mtime_ns >= self.trusted_before_ns:
            return None
        return entry[1], entry[2]

    def put(self, rel: str, st: os.stat_result, oid: str, size: int) -> None:
        self.entries[rel] = (_stat_key(st), oid, size)
        self.dirty = True

    def save(self) -> None:
        import marshal

        if self.path is None or not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, marshal.dumps((CACHE_VERSION, time.time_ns(), self.entries)), durable=False)
        except OSError:
            pass  # a cache: the next run hashes again
        self.dirty = False


class WorkTreeHasher:
    """Identities of paths (relative to `top`), each computed at most once per process."""

    def __init__(self, top: Path, cache: StatCache, index: IndexOids | None = None) -> None:
        self.top = top
        self.cache = cache
        self.index = index  # what git's index knows of tracked files, asked for big files only
        self._known: dict[str, FileState | None] = {}
        self._listings: dict[str, list[tuple[str, FileState]]] = {}

    def forget(self, rel: str) -> None:
        """A stage wrote under `rel`: ask the disk again."""
        for key in [k for k in self._known if k == rel or k.startswith(rel + "/") or rel.startswith(k + "/")]:
            del self._known[key]

    def state(self, rel: str) -> FileState | None:
        """The file's or folder's identity, or None when it does not exist."""
        if rel not in self._known:
            self._known[rel] = self._compute(rel)
        return self._known[rel]

    def listing(self, rel: str) -> list[tuple[str, FileState]]:
        """The files of a folder state() described (relative to the folder)."""
        self.state(rel)
        return self._listings.get(rel, [])

    def _compute(self, rel: str) -> FileState | None:
        full = os.path.join(self.top, rel)
        try:
            st = os.stat(full)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if os.path.isdir(full):
            entries = list(self._walk(rel, full))
            self._listings[rel] = entries
            data = listing_bytes(entries)
            return FileState(hashlib.sha256(data).hexdigest(), sum(s.size for _, s in entries), len(entries))
        return FileState(*self._file(rel, full, st))

    def _file(self, rel: str, full: str, st: os.stat_result) -> tuple[str, int]:
        known = self.cache.get(rel, st)
        if known is not None:
            return known
        if self.index is not None and st.st_size >= WORTH_ASKING:
            staged = self.index.get(rel)
            if staged is not None and staged[1] == st.st_size:
                self.cache.put(rel, st, *staged)
                return staged
        oid, size = hash_file(full)
        self.cache.put(rel, st, oid, size)
        return oid, size

    def _walk(self, rel: str, full: str):  # type: ignore[no-untyped-def]
        """(name, FileState) of every file under a folder. The hot loop of a no-op repro over
        10,000 files: the cache is consulted inline, without a call per file."""
        entries = self.cache.entries
        trusted_before = self.cache.trusted_before_ns
        stack = [("", full)]
        while stack:
            prefix, folder = stack.pop()
            with os.scandir(folder) as it:
                for entry in it:
                    name = prefix + entry.name
                    if entry.is_file():  # the common case first: one call per file
                        st = entry.stat()
                        path = f"{rel}/{name}"
                        known = entries.get(path)
                        if (known is not None and st.st_mtime_ns < trusted_before
                                and known[0] == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)):
                            yield name, FileState(known[1], known[2])
                        else:
                            yield name, FileState(*self._file(path, entry.path, st))
                    elif entry.is_dir(follow_symlinks=False) and entry.name not in IGNORED_DIRS:
                        stack.append((name + "/", entry.path))
