"""Buffers that clean reads git's content into, used again once every reader of one is done.

A chunked clean reads 4 MiB blocks, and until a block's last chunk is hashed, packed and
written, and the whole-file hash has read it, the block must stay as it is. A fresh buffer per
block cost a page fault per 4 KiB on every block: 256 MiB cleaned took twice the faults of a
whole-file clean, and on this project's VMs a fault on fresh memory is the dearest thing in an
add. Here each block counts its holders; the last to let go gives it back to the pool.
"""
from __future__ import annotations

import threading


class Block:
    """One buffer and the count of those still reading it."""

    __slots__ = ("buffer", "holders")

    def __init__(self, size: int) -> None:
        self.buffer = bytearray(size)
        self.holders = 0


class BlockPool:
    """Blocks of `size` bytes. `take` never waits: with none free it makes one (what bounds
    memory is the caller's window of work in flight); up to `keep` free ones are kept."""

    def __init__(self, size: int, keep: int) -> None:
        self.size = size
        self._keep = keep
        self._free: list[Block] = []
        self._lock = threading.Lock()

    def take(self) -> Block:
        """A block held once (by the caller)."""
        with self._lock:
            block = self._free.pop() if self._free else Block(self.size)
            block.holders = 1
            return block

    def hold(self, block: Block) -> None:
        with self._lock:
            block.holders += 1

    def release(self, block: Block) -> None:
        with self._lock:
            block.holders -= 1
            if block.holders == 0 and len(self._free) < self._keep:
                self._free.append(block)
