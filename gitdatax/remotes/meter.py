"""Byte-level progress of one object while a backend moves it (issue 16 item 7).

The transfer layer shows one bar for a whole push or pull, in content bytes (the stubs' sizes).
Before this, it advanced only when an object had finished, so a multi-GB model showed nothing
until it was done. Now the transfer layer gives each worker thread an ObjectMeter for the object
in hand (`metering`), and every backend reports the bytes it moves as they move (`current()`),
whatever they are: compressed object files (directory, S3, SSH, fsspec) or raw content (Git LFS).
A backend that knows how many bytes will travel (`expect`) is scaled onto the object's content
size, so the bar ends where the stubs say it must; `finish` tops it up once the object is done.

The meter never goes backwards: a retry starts counting again from zero and the bar waits until
it passes what was already shown.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import BinaryIO, Callable, Iterator

_thread = threading.local()


class ObjectMeter:
    def __init__(self, size: int, advance: Callable[[int], None]) -> None:
        self.size = size  # content bytes: what the bar counts for this object
        self._advance = advance
        self._lock = threading.Lock()  # boto3 reports from its own threads
        self._shown = 0
        self._wire_total: int | None = None
        self._wire_seen = 0

    def expect(self, wire_bytes: int | None) -> None:
        """A new attempt that will move `wire_bytes` (None: unknown, counted as content bytes)."""
        with self._lock:
            self._wire_total = wire_bytes if wire_bytes else None
            self._wire_seen = 0

    def moved(self, n: int) -> None:
        if n <= 0:
            return
        with self._lock:
            self._wire_seen += n
            seen = self._wire_seen
            target = seen * self.size // self._wire_total if self._wire_total else seen
            # Short of `finish`, an object never shows as complete: its last bytes are checked.
            target = min(target, max(self.size - 1, 0))
            delta = target - self._shown
            if delta <= 0:
                return
            self._shown = target
        self._advance(delta)

    def finish(self) -> None:
        with self._lock:
            delta = self.size - self._shown
            self._shown = self.size
        if delta > 0:
            self._advance(delta)


class _NoMeter(ObjectMeter):
    def __init__(self) -> None:
        super().__init__(0, lambda n: None)

    def moved(self, n: int) -> None:
        pass


NO_METER = _NoMeter()


def current() -> ObjectMeter:
    """The meter of the object this thread is moving (one that counts nothing outside a transfer).
    Backends that report from other threads take it here first and pass it on."""
    return getattr(_thread, "meter", None) or NO_METER


@contextmanager
def metering(meter: ObjectMeter) -> Iterator[ObjectMeter]:
    previous = getattr(_thread, "meter", None)
    _thread.meter = meter
    try:
        yield meter
    finally:
        _thread.meter = previous


class MeteredReader:
    """A file-like reader that reports every byte read to `meter`."""

    def __init__(self, source: BinaryIO, meter: ObjectMeter) -> None:
        self.source = source
        self.meter = meter

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        self.meter.moved(len(data))
        return data


def metered_chunks(chunks: Iterator[bytes], meter: ObjectMeter) -> Iterator[bytes]:
    for chunk in chunks:
        meter.moved(len(chunk))
        yield chunk
