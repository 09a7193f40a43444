"""One object file: its zstd frame decompressed as a stream, checked against the stub."""
from __future__ import annotations

import hashlib
import itertools
import os
from typing import BinaryIO, Iterable, Iterator

import zstandard

from gitdatax.errors import CorruptObject
from gitdatax.stub import Stub

CHUNK = 1 << 20
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
