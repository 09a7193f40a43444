"""SHA-256 on a thread of its own, for content that streams in.

hashlib releases the GIL on large buffers, so while this thread hashes one megabyte the filter's
thread reads the next from git and hands the last to zstd. On 128 MiB of incompressible data the
filter's thread was the bottleneck, doing all three in turn.

Nothing here waits on `Thread.join`: a Ctrl-C landing inside a join could leave `git add`
hanging for good in `close` (issue 11, item 9: 2 runs in 4 hung over 10 minutes). The result is
awaited on an Event, and an abandoned hash is told to stop and not waited for at all (the
thread is a daemon, and drops the blocks it still holds).
"""
from __future__ import annotations

import hashlib
import queue
import threading
from typing import Callable

MAX_QUEUED = 8  # blocks waiting to be hashed: memory stays bounded when hashing is the slower


class ParallelSha256:
    def __init__(self, head: bytes = b"") -> None:
        self._hasher = hashlib.sha256(head)
        self._blocks: queue.Queue[tuple[bytes | memoryview, Callable[[], None] | None] | None] = queue.Queue(MAX_QUEUED)
        self._done = threading.Event()
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="datax-sha256", daemon=True)
        self._thread.start()
        self._digest: str | None = None

    def update(self, block: bytes | memoryview, done: Callable[[], None] | None = None) -> None:
        """Hash `block`, which must not change until it is hashed: it is read later, on the
        other thread, which then calls `done` (never, if the hash is abandoned)."""
        self._blocks.put((block, done))

    def hexdigest(self) -> str:
        if self._digest is None:
            self._blocks.put(None)
            self._done.wait()
            self._digest = self._hasher.hexdigest()
        return self._digest

    def close(self) -> None:
        """Abandon the content: the thread stops at its next block; nothing waits for it."""
        if self._digest is not None or self._done.is_set():
            return
        self._abandoned = True
        try:
            self._blocks.put_nowait(None)  # wakes a thread waiting for a block
        except queue.Full:
            pass  # the thread has blocks to take, and sees the flag after the next one

    def _run(self) -> None:
        try:
            while (item := self._blocks.get()) is not None and not self._abandoned:
                block, done = item
                self._hasher.update(block)
                del block, item  # a view of a pooled buffer: no longer ours once `done`
                if done is not None:
                    done()
        finally:
            self._done.set()
