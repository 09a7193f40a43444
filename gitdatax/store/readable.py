"""Content that streams in as pieces and can also be read into a caller's buffer.

Clean looks at a file's first bytes before it knows what to do with the rest (is it a stub? is
it small?), so the content it hands the store is "the pieces read so far, then the rest". The
chunked store fills 4 MiB blocks with it (`readinto`): from git's packets straight into the block
when the rest can do that (pktline.Content), else by copying pieces as they come.
"""
from __future__ import annotations

from collections import deque
from typing import Iterator


class Joined:
    """`pieces`, then `rest`: an iterator of bytes with `readinto`."""

    def __init__(self, pieces: list[bytes], rest: Iterator[bytes]) -> None:
        # As given: iterating hands them on without a copy (the store buffers files up to
        # 4 MiB by iterating); only one read in part becomes a view of its rest.
        self._pending: deque[bytes | memoryview] = deque(p for p in pieces if len(p))
        self._rest = rest
        self._rest_readinto = getattr(rest, "readinto", None)

    def __iter__(self) -> Joined:
        return self

    def __next__(self) -> bytes:
        if self._pending:
            piece = self._pending.popleft()
            return piece if isinstance(piece, bytes) else bytes(piece)
        return next(self._rest)

    def readinto(self, buffer: memoryview | bytearray) -> int:
        """Fill `buffer` with the next bytes; how many (fewer only at the end)."""
        view = memoryview(buffer)
        filled = 0
        while filled < len(view):
            if self._pending:
                piece = memoryview(self._pending[0])
                n = min(len(piece), len(view) - filled)
                view[filled:filled + n] = piece[:n]
                filled += n
                if n == len(piece):
                    self._pending.popleft()
                else:
                    self._pending[0] = piece[n:]
            elif self._rest_readinto is not None:
                return filled + self._rest_readinto(view[filled:])
            else:
                piece = next(self._rest, None)
                if piece is None:
                    break
                self._pending.append(piece)
        return filled
