"""One object file: its zstd frame decompressed as a stream, checked against the stub."""
from __future__ import annotations

import hashlib
import itertools
import os
import threading
from typing import BinaryIO, Iterable, Iterator

import zstandard

from gitdatax.errors import CorruptObject
from gitdatax.stub import Stub

CHUNK = 1 << 20
ZSTD_HEADER_MAX = 18  # the longest zstd frame header: enough to read a recorded content size
COUNTER = itertools.count()  # part of tmp names unique within this process


def decompressed_chunks(f: BinaryIO, stub: Stub) -> Iterator[bytes]:
    reader = zstandard.ZstdDecompressor().stream_reader(f, read_size=CHUNK)
    total = 0
    try:
        while chunk := reader.read(CHUNK):
            total += len(chunk)
            if total > stub.size:
                raise CorruptObject(stub.oid, f"content longer than the expected {stub.size} bytes")
            yield chunk
    except zstandard.ZstdError as exc:
        raise CorruptObject(stub.oid, f"zstd: {exc}") from None
    if total != stub.size:
        raise CorruptObject(stub.oid, f"content is {total} bytes, expected {stub.size}")


_local = threading.local()  # one decompression context per thread, reused


def read_small(f: BinaryIO, stub: Stub) -> bytes:
    """The whole content of a small object file, checked (zstd checksum and size) in memory.
    At most the largest compressed form of `stub.size` bytes is read: a file that is longer
    is corrupt, whatever it holds."""
    bound = stub.size + stub.size // 128 + 1024  # above zstd's worst case (ZSTD_compressBound)
    compressed = f.read(bound + 1)
    if len(compressed) > bound:
        raise CorruptObject(stub.oid, f"object file larger than {stub.size} bytes can compress to")
    dctx = getattr(_local, "dctx", None)
    if dctx is None:
        dctx = _local.dctx = zstandard.ZstdDecompressor()
    try:
        # max_output_size bounds a frame that lies about its size; the checksum is verified
        content = dctx.decompress(compressed, max_output_size=stub.size + 1)
    except zstandard.ZstdError as exc:
        raise CorruptObject(stub.oid, f"zstd: {exc}") from None
    if len(content) != stub.size:
        raise CorruptObject(stub.oid, f"content is {len(content)} bytes, expected {stub.size}")
    return content


def check_sha256(stub: Stub, chunks: Iterable[bytes]) -> None:
    hasher = hashlib.sha256()
    for chunk in chunks:
        hasher.update(chunk)
    if hasher.hexdigest() != stub.oid:
        raise CorruptObject(stub.oid, "content does not hash to its oid")


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
