"""SHA-256 on a thread of its own, for content that streams in.

hashlib releases the GIL on large buffers, so while this thread hashes one megabyte the filter's
thread reads the next from git and hands the last to zstd. On 128 MiB of incompressible data the
filter's thread was the bottleneck, doing all three in turn.
"""
from __future__ import annotations

import hashlib
import queue
import threading

MAX_QUEUED = 8  # blocks waiting to be hashed: memory stays bounded when hashing is the slower


class ParallelSha256:
    def __init__(self, head: bytes = b"") -> None:
        self._hasher = hashlib.sha256(head)
        self._blocks: queue.Queue[bytes | None] = queue.Queue(MAX_QUEUED)
        self._thread = threading.Thread(target=self._run, name="datax-sha256", daemon=True)
        self._thread.start()
        self._digest: str | None = None

    def update(self, block: bytes) -> None:
        """Hash `block` (immutable: it is read later, on the other thread)."""
        self._blocks.put(block)

    def hexdigest(self) -> str:
        if self._digest is None:
            self._blocks.put(None)
            self._thread.join()
            self._digest = self._hasher.hexdigest()
        return self._digest

    def close(self) -> None:
        """Stop the thread without a result (the content is abandoned)."""
        if self._digest is None and self._thread.is_alive():
            self._blocks.put(None)
            self._thread.join()

    def _run(self) -> None:
        while (block := self._blocks.get()) is not None:
            self._hasher.update(block)
