"""Reading files at any revision: from Git through one `git cat-file --batch`, from the work tree
(`workspace`), and through the store when the file is a gitdatax stub.

One reader serves a whole command, so `metrics show -A` over 200 commits costs one cat-file
process, not one per commit or per file. A file that cannot be read says why (`Unreadable`);
the caller puts that in its cell and carries on with the rest.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from gitdatax import git, stub as stubs

# Metrics, params and step logs are small; a file past this is refused in its cell rather than
# read into memory (a stage that writes a 1 GiB TSV has named the wrong file as plots).
READ_LIMIT = 64 << 20
# Files read ahead in one batch are at most this big; a larger one is read when asked for, alone.
AHEAD_LIMIT = 1 << 20
_TREE = "tree"


class Unreadable(Exception):
    """This file, at this revision, cannot be read: the message says why, for its cell."""


class IsFolder(Exception):
    """The path names a folder at that revision (a plots or metrics entry may)."""


class RevisionReader:
    """Files of many revisions through one cat-file process; `commit=None` is the work tree."""

    def __init__(self, top: Path, *, limit: int = READ_LIMIT) -> None:
        self.top = top
        self.limit = limit
        self._batch: git.CatFile | None = None
        self._store: Any = None
        self._fetcher: Any = None
        self._oid_len = 32 if git.repo_paths(top).object_format == "sha256" else 20
        self._ahead: dict[tuple[str, str], tuple[str, bytes | None] | None] = {}

    # -- the one cat-file process -----------------------------------------------------------

    def _cat(self) -> git.CatFile:
        if self._batch is None:
            self._batch = git.CatFile(cwd=self.top)
        return self._batch

    def close(self) -> None:
        if self._batch is not None:
            self._batch.close()
            self._batch = None
        if self._fetcher is not None:
            self._fetcher.close()

    def __enter__(self) -> "RevisionReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def prefetch(self, wanted: Iterable[tuple[str | None, str]]) -> None:
        """Ask git for these (commit, path) ahead of read(), all in one pipelined exchange: one
        round trip for a group of revisions instead of one per file. Work tree paths need no
        asking; a file over AHEAD_LIMIT is left for read() to fetch alone."""
        todo = list(dict.fromkeys(f"{c}:{p}" for c, p in wanted
                                  if c is not None and "\n" not in p and (c, p) not in self._ahead))
        small: dict[str, str] = {}
        for name, info in self._cat().infos(todo):
            commit, _, path = name.partition(":")
            if info is None:
                self._ahead[(commit, path)] = None
            elif info.size <= AHEAD_LIMIT:
                small[name] = info.kind
        for name, info, data in self._cat().contents(list(small)):
            commit, _, path = name.partition(":")
            self._ahead[(commit, path)] = (info.kind, data)

    # -- files -----------------------------------------------------------------------------

    def read(self, commit: str | None, path: str) -> bytes | None:
        """The content of `path` at `commit` (None: the work tree), a stub's data in its place;
        None when the file does not exist there. Raises Unreadable with the reason, IsFolder
        when it is a folder."""
        data = self._read_worktree(path) if commit is None else self._read_git(commit, path)
        if data is None:
            return None
        stub = stubs.parse(data) if len(data) <= stubs.MAX_STUB_SIZE else None
        return data if stub is None else self._read_stub(path, stub)

    def _read_git(self, commit: str, path: str) -> bytes | None:
        if "\n" in path:
            raise Unreadable("a path with a newline cannot be read at a revision")
        key = (commit, path)
        if key in self._ahead:
            found = self._ahead.pop(key)
            if found is None:
                return None
            kind, data = found
        else:
            info = self._cat().info(f"{commit}:{path}")
            if info is None:
                return None
            kind, data = info.kind, None
            if kind == "blob" and info.size > self.limit:
                raise Unreadable(f"larger than {self.limit >> 20} MiB: not read")
            if kind in ("blob", _TREE):
                data = self._cat().read(info.oid)
        if kind == _TREE:
            raise IsFolder(path)
        if kind != "blob":
            raise Unreadable(f"is a {kind}, not a file")
        return data

    def _read_worktree(self, path: str) -> bytes | None:
        full = self.top / path
        try:
            if full.is_dir():
                raise IsFolder(path)
            size = full.stat().st_size
            if size > self.limit:
                raise Unreadable(f"larger than {self.limit >> 20} MiB: not read")
            with open(full, "rb") as f:
                return f.read(self.limit + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise Unreadable(f"cannot be read: {exc.strerror}") from None

    def _read_stub(self, path: str, stub: stubs.Stub) -> bytes:
        """A stub's data from the store, fetched from the default remote when it is missing."""
        if stub.size > self.limit:
            raise Unreadable(f"larger than {self.limit >> 20} MiB: not read")
        from gitdatax.errors import FatalError

        store = self._objects()
        if not store.has(stub.oid):
            self._fetch(path, stub)
        try:
            return b"".join(store.read_verified(stub))
        except FatalError as exc:
            raise Unreadable(str(exc)) from None

    def _objects(self) -> Any:
        if self._store is None:
            from gitdatax.store.objectstore import ObjectStore

            self._store = ObjectStore.for_repo(self.top)
        return self._store

    def _fetch(self, path: str, stub: stubs.Stub) -> None:
        from gitdatax.errors import FatalError

        if self._fetcher is None:
            from gitdatax.sync.fetcher import RemoteFetcher

            self._fetcher = RemoteFetcher(self._objects())
        try:
            fetched = self._fetcher(path, stub)
        except FatalError as exc:
            raise Unreadable(f"its data ({stub.oid[:12]}) is not in the local store and the download "
                             f"failed: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a backend's own error: that cell, not the command
            raise Unreadable(f"its data ({stub.oid[:12]}) could not be downloaded: {exc}") from None
        if not fetched:
            why = self._fetcher.error or "no remote is configured"
            raise Unreadable(f"its data ({stub.oid[:12]}) is not in the local store ({why})")

    # -- folders (a plots entry may name one, as DVC's `dvclive/plots/metrics`) -------------

    def is_dir(self, commit: str | None, path: str) -> bool:
        if commit is None:
            return (self.top / path).is_dir()
        info = self._cat().info(f"{commit}:{path}")
        return info is not None and info.kind == _TREE

    def walk(self, commit: str | None, path: str) -> list[str]:
        """Every file under the folder `path` (relative to the top, sorted); [] when it is none."""
        if commit is None:
            base = self.top / path
            found = []
            for root, dirs, files in os.walk(base):
                dirs[:] = sorted(d for d in dirs if d != ".git")
                rel = Path(root).relative_to(self.top).as_posix()
                found += [name if rel == "." else f"{rel}/{name}" for name in files]
            return sorted(found)
        return sorted(self._walk_tree(commit, path.rstrip("/")))

    def _walk_tree(self, commit: str, path: str) -> Iterator[str]:
        info = self._cat().info(f"{commit}:{path}")
        if info is None or info.kind != _TREE or info.size > self.limit:
            return
        for mode, name in self._tree_entries(self._cat().read(info.oid) or b""):
            child = f"{path}/{name}" if path else name
            if mode == b"40000":
                yield from self._walk_tree(commit, child)
            elif mode in (b"100644", b"100755"):
                yield child

    def _tree_entries(self, data: bytes) -> Iterator[tuple[bytes, str]]:
        """(mode, name) of each entry of a raw tree object: `<mode> <name>\\0<binary id>`."""
        pos = 0
        while pos < len(data):
            space = data.index(b" ", pos)
            nul = data.index(b"\0", space)
            yield data[pos:space], data[space + 1:nul].decode("utf-8", "surrogateescape")
            pos = nul + 1 + self._oid_len
