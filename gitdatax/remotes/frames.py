"""Length-prefixed frames for `git datax serve --stdio` and the SSH remote (docs/ssh-protocol.md).

A frame is one kind byte, a 4-byte big-endian payload length, then the payload:
    C  a command or a reply: UTF-8 text
    D  object bytes; an empty D frame ends the stream
    E  an error: UTF-8 text `CODE message`
Payloads are at most MAX_FRAME bytes, so a reader never holds more than that in memory.
"""
from __future__ import annotations

import io
import os
import select
import struct
from typing import BinaryIO, Callable

from gitdatax.errors import ConnectionClosed, ProtocolError
from gitdatax.remotes.chunkreader import ChunkReader

PROTOCOL = "gitdatax-stdio"
VERSION = 1
MAX_FRAME = 4 << 20
DATA_CHUNK = 1 << 20
COMMAND, DATA, ERROR = b"C", b"D", b"E"
_HEADER = struct.Struct(">cI")


class Aborted(ProtocolError):
    """The sender ended a data stream with an E frame instead of an empty D frame."""


def write_frame(out: BinaryIO, kind: bytes, payload: bytes = b"") -> None:
    out.write(_HEADER.pack(kind, len(payload)))
    if payload:
        out.write(payload)


class Answered(Exception):
    """The peer wrote to us while we were streaming to it: it refused the stream half-way."""


def write_frame_watching(out: BinaryIO, inp: BinaryIO, kind: bytes, payload: bytes, stall: float) -> None:
    """write_frame for a stream the peer only reads until it ends (an upload), on pipes, never
    blocking on `out`: while the pipe is full, wait until it takes more or `inp` has something
    to read (Answered: the peer refused and may have stopped reading, so a blocking write would
    wait for as long as the channel stays open). TimeoutError when neither comes for `stall`
    seconds; OSError (a broken pipe) as a write would."""
    out.flush()
    fd = out.fileno()
    os.set_blocking(fd, False)
    try:
        for part in (_HEADER.pack(kind, len(payload)), payload):
            view = memoryview(part)
            while view:
                readable, writable, _ = select.select([inp], [fd], [], stall)
                if readable:
                    raise Answered()
                if not writable:
                    raise TimeoutError(f"the peer took nothing for {stall:g} s")
                try:
                    view = view[os.write(fd, view):]
                except BlockingIOError:
                    continue
    finally:
        os.set_blocking(fd, True)


class Stalled(ProtocolError):
    """The peer sent nothing for as long as a read may wait (WatchedPipe.stall)."""


class WatchedPipe(io.RawIOBase):
    """The read end of a pipe from a peer that may stop answering without closing it (a server
    stuck on a dead disk, a half-open network path under ssh): each read waits at most `stall`
    seconds for its first byte, then raises Stalled. A stall of None waits as long as it takes
    (while ssh may be asking for a password on the terminal). It does not own `fd`."""

    def __init__(self, fd: int, stall: float | None) -> None:
        super().__init__()
        self._fd = fd
        self.stall = stall
        self.stalled = False
        self.heard: Callable[[], None] | None = None  # told each time bytes come (SilentEndpoint.heard)
        self._poll = select.poll()  # not select(): that refuses descriptors above 1023
        self._poll.register(fd, select.POLLIN)

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
        # A poll per read of up to a pipe's 64 KiB: 0.03-0.05 s of CPU per 512 MiB here, far
        # below what ssh's own encryption of them costs. (POLLHUP, POLLERR: the read says.)
        if not self._poll.poll(None if self.stall is None else self.stall * 1000):
            self.stalled = True
            raise Stalled(f"the server sent nothing for {self.stall:g} s")
        got = os.readv(self._fd, [buffer])
        if self.heard is not None:
            self.heard()
        return got


def read_exact(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    if len(data) == n:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = stream.read(n - got)
        if not more:
            raise ConnectionClosed()
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def read_frame(stream: BinaryIO) -> tuple[bytes, bytes]:
    header = stream.read(_HEADER.size)
    if not header:
        raise ConnectionClosed()
    if len(header) < _HEADER.size:
        header += read_exact(stream, _HEADER.size - len(header))
    kind, length = _HEADER.unpack(header)
    if kind not in (COMMAND, DATA, ERROR):
        raise ProtocolError(f"not a frame of {PROTOCOL} (starts with {header[:8]!r})")
    if length > MAX_FRAME:
        raise ProtocolError(f"frame of {length} bytes is over the {MAX_FRAME}-byte limit")
    return kind, read_exact(stream, length)


def compressed_bound(size: int) -> int:
    """The most bytes an honest object file of `size` content bytes takes (shared with the other
    backends, so every remote refuses the same oversized answers)."""
    from gitdatax.store.objectfile import object_file_bound

    return object_file_bound(size)


class DataReader(ChunkReader):
    """A file-like view of the D frames of one stream, refusing more than `limit` bytes."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        super().__init__()
        self._stream = stream
        self._limit = limit
        self.total = 0
        self.done = False

    def _at_end(self) -> bool:
        return self.done

    def _next_chunk(self) -> bytes:
        return self._next()

    def _next(self) -> bytes:
        kind, payload = read_frame(self._stream)
        if kind == ERROR:
            self.done = True
            raise Aborted(payload.decode("utf-8", "replace"))
        if kind != DATA:
            raise ProtocolError("expected a data frame")
        if not payload:
            self.done = True
            return b""
        self.total += len(payload)
        if self.total > self._limit:
            raise OverflowError(f"more than {self._limit} bytes")
        return payload

    def drain(self) -> None:
        """Skip to the end of the stream, to stay in step with the peer after refusing it."""
        self._limit = 1 << 62
        while not self.done:
            self._next()
        self._buffer = b""
