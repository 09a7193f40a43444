"""File-like `read(n)`s for APIs that want a file (requests' upload bodies, shutil): over a source
that hands out chunks of bytes (a protocol's data frames, a decompressing generator), and over a
stream whose first bytes were read already."""
from __future__ import annotations

from typing import Protocol


class Readable(Protocol):
    def read(self, n: int = -1) -> bytes: ...


class ChunkReader:
    """Subclasses give `_next_chunk()` (b"" once the source is exhausted)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._exhausted = False

    def _next_chunk(self) -> bytes:
        raise NotImplementedError

    def _at_end(self) -> bool:
        return self._exhausted

    def read(self, n: int = -1) -> bytes:
        while not self._at_end() and (n < 0 or len(self._buffer) < n):
            chunk = self._next_chunk()
            if not chunk:
                self._exhausted = True
                break
            self._buffer += chunk
        if n < 0:
            n = len(self._buffer)
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data


class Joined:
    """The first bytes already read (to tell a manifest from a whole file), then the rest of the
    stream: the ssh and HTTP chunk clients read an object's head before they know what it is."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self._head = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            data, self._head = (self._head, b"") if n < 0 or n >= len(self._head) else (self._head[:n], self._head[n:])
            return data
        return self._rest.read(n)
