"""A file-like `read(n)` over a source that hands out chunks of bytes (a protocol's data frames,
a decompressing generator), for APIs that want a file: requests' upload bodies, shutil."""
from __future__ import annotations


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
