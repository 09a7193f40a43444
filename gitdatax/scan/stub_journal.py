"""A journal of the stubs the filter handed to git, keyed by git's blob id of the stub.

pre-commit must know that every staged blob of a tracked path is a valid stub, and pre-push which
stubs the pushed commits hold. Asking git means reading thousands of loose objects back; the
filter already knew each answer when it wrote the stub. Nothing here is trusted: an entry is used
only if its blob id is the SHA-1 git gives the stub's exact bytes, so a stale or damaged journal
can cost a look-up, never a wrong answer. Losing the file loses only speed.

    <git-common-dir>/datax/known-stubs: lines "<blob id> <oid> <size>"
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from gitdatax.stub import Stub, is_valid_oid

NAME = "known-stubs"
MAX_BYTES = 2 << 20  # past this the filter starts the journal afresh (it is only a cache)


def git_blob_id(data: bytes, object_format: str = "sha1") -> str:
    """The id git gives a blob with these bytes in a repository of that object format."""
    header = b"blob %d\0" % len(data)
    if object_format == "sha256":
        return hashlib.sha256(header + data).hexdigest()
    return hashlib.sha1(header + data).hexdigest()


def format_of(blob_id: str) -> str:
    """The object format a blob id comes from: its length says it."""
    return "sha256" if len(blob_id) == 64 else "sha1"


def _repo_object_format() -> str:
    from gitdatax import git

    try:
        return git.repo_paths().object_format  # cached: the filter asked at its start
    except Exception:  # noqa: BLE001 - a cache: a wrong guess costs only its entries
        return "sha1"


class JournalWriter:
    """Appends one line per stub, once per process; written out by flush()."""

    def __init__(self, store_root: Path, object_format: str | None = None) -> None:
        self.path = store_root / NAME
        self.object_format = object_format  # None: the current repository's, asked when needed
        self._seen: set[str] = set()
        self._pending: list[str] = []
        self._checked_size = False

    def record(self, stub: Stub) -> None:
        if self.object_format is None:
            self.object_format = _repo_object_format()
        blob = git_blob_id(stub.encode(), self.object_format)
        if blob not in self._seen:
            self._seen.add(blob)
            self._pending.append(f"{blob} {stub.oid} {stub.size}\n")
            if len(self._pending) >= 256:
                self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        text, self._pending = "".join(self._pending), []
        try:
            if not self._checked_size:
                self._checked_size = True
                if self.path.exists() and self.path.stat().st_size > MAX_BYTES:
                    os.unlink(self.path)
            # O_APPEND: lines from concurrent filter processes never interleave within a line
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        except OSError:
            pass  # a cache: git's own objects remain the truth


class KnownStubs:
    """The journal's entries; each is checked (its blob id recomputed) when it is asked for."""

    def __init__(self, entries: dict[str, tuple[str, str]]) -> None:
        self._entries = entries

    def get(self, blob: str) -> Stub | None:
        entry = self._entries.get(blob)
        if entry is None or not is_valid_oid(entry[0]) or not entry[1].isdigit():
            return None
        stub = Stub(entry[0], int(entry[1]))
        return stub if git_blob_id(stub.encode(), format_of(blob)) == blob else None


def load(store_root: Path) -> KnownStubs:
    try:
        raw = (store_root / NAME).read_bytes()
    except OSError:
        return KnownStubs({})
    entries = {}
    for line in raw.decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) == 3:
            entries[parts[0]] = (parts[1], parts[2])
    return KnownStubs(entries)
