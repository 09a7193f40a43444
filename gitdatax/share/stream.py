"""A file object over chunks of bytes, for `gitdatax.api.open`: reads pull the next chunk, so a
multi-GB model streams through a bounded buffer; closing releases whatever fed it."""
from __future__ import annotations

import io
from typing import Callable, Iterator


class ChunkStream(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes], on_close: Callable[[], None] | None = None,
                 name: str = "") -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(b"")
        self._on_close = on_close
        self.name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        if self.closed:
            return
        try:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()  # a generator: its finally clauses run now
            if self._on_close is not None:
                self._on_close()
        finally:
            super().close()


def open_stream(chunks: Iterator[bytes], mode: str, encoding: str | None, *, name: str,
                on_close: Callable[[], None] | None = None) -> io.IOBase:
    raw = ChunkStream(chunks, on_close, name)
    buffered = io.BufferedReader(raw, buffer_size=1 << 20)
    if mode == "rb":
        return buffered
    return io.TextIOWrapper(buffered, encoding=encoding or "utf-8")
