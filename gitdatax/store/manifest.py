"""The object file of a chunked object: its size and the ids of its chunks, in order.

    b"GDXCHNK1", size (u64), count (u32), count x (chunk id: 32 bytes, raw length: u32),
    SHA-256 of everything before

It sits where a whole-file object would (objects/<ab>/<cd>/<oid>), so `has`, the remote layouts
and every list of objects stay as they are; its first bytes tell it from a zstd frame. A manifest
is published only after every chunk it names is (see chunked.py), so a store never holds one
that points at a missing chunk, whatever was interrupted.
"""
from __future__ import annotations

import hashlib
import struct
from typing import NamedTuple

from gitdatax.errors import CorruptObject

MAGIC = b"GDXCHNK1"
HEAD = struct.Struct(">QI")
ITEM = struct.Struct(">32sI")
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Manifest(NamedTuple):
    size: int
    chunks: list[tuple[bytes, int]]  # (id, raw length)

    def encode(self) -> bytes:
        body = MAGIC + HEAD.pack(self.size, len(self.chunks)) + b"".join(ITEM.pack(c, n) for c, n in self.chunks)
        return body + hashlib.sha256(body).digest()

    def ids(self) -> list[bytes]:
        return [c for c, _ in self.chunks]


def is_manifest(head: bytes) -> bool:
    return head[: len(MAGIC)] == MAGIC


def max_manifest_size(size: int, min_chunk: int) -> int:
    """The largest manifest an object of `size` bytes can have (a bound on what to download)."""
    return len(MAGIC) + HEAD.size + (size // min_chunk + 2) * ITEM.size + 32


def decode(data: bytes, oid: str, size: int | None = None) -> Manifest:
    """Parse and check a manifest; CorruptObject naming the object when it is not whole, or
    (with `size`) not of an object of that size."""
    if not is_manifest(data) or len(data) < len(MAGIC) + HEAD.size + 32:
        raise CorruptObject(oid, "not a chunk manifest")
    body, trailer = data[:-32], data[-32:]
    if hashlib.sha256(body).digest() != trailer:
        raise CorruptObject(oid, "chunk manifest does not match its checksum")
    total, count = HEAD.unpack_from(body, len(MAGIC))
    start = len(MAGIC) + HEAD.size
    if len(body) != start + count * ITEM.size:
        raise CorruptObject(oid, "chunk manifest has the wrong length")
    chunks = list(ITEM.iter_unpack(body[start:]))
    if sum(n for _, n in chunks) != total:
        raise CorruptObject(oid, "chunk manifest's lengths do not add up to its size")
    if size is not None and total != size:
        raise CorruptObject(oid, f"content is {total} bytes, expected {size}")
    return Manifest(total, chunks)
